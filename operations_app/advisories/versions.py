"""Whether a version is affected, in the order its ecosystem gives versions: Debian's
(dpkg: epochs, ``~`` before anything, revisions such as ``+deb12u1``) through
python-debian, PyPI's (PEP 440) through packaging. Other ecosystems are refused rather
than compared as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from debian.debian_support import Version as DebianVersion
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion
from packaging.version import Version as PyPIVersion


class UnsupportedEcosystem(ValueError):
    """No version order is known for this ecosystem."""


def ecosystem_family(ecosystem: str) -> str:
    """``Debian:12`` -> ``Debian``; ``PyPI`` -> ``PyPI``."""
    return ecosystem.split(":", 1)[0].strip()


def supported(ecosystem: str) -> bool:
    return ecosystem_family(ecosystem) in ("Debian", "PyPI")


def package_key(ecosystem: str, name: str) -> str:
    """The name as its ecosystem compares it (PyPI: PEP 503 normalised)."""
    if ecosystem_family(ecosystem) == "PyPI":
        return canonicalize_name(name)
    return name.strip().lower()


@lru_cache(maxsize=65536)
def parse_version(ecosystem: str, text: str) -> Any:
    """The comparable version, or ValueError saying why it is not one."""
    family = ecosystem_family(ecosystem)
    if family == "Debian":
        try:
            return DebianVersion(text)
        except ValueError as exc:
            raise ValueError(f"'{text}' is not a Debian version: {exc}") from exc
    if family == "PyPI":
        try:
            return PyPIVersion(text)
        except InvalidVersion as exc:
            raise ValueError(f"'{text}' is not a PEP 440 version") from exc
    raise UnsupportedEcosystem(f"unsupported ecosystem '{ecosystem}'")


_RELEASE_NUMBERS = re.compile(r"^\d+(?:\.\d+)*")


def upstream_release(text: str) -> tuple[int, ...]:
    """The dotted numbers an upstream version starts with, six long: ``1:7.2+dfsg-7``
    -> (7, 2, 0, 0, 0, 0). Debian's repack suffixes (``+dfsg``, ``+ds``) and revisions
    say nothing of the upstream release, and libvirt reports ``7.2.0`` for it."""
    upstream = DebianVersion(text).upstream_version or "0"
    match = _RELEASE_NUMBERS.match(upstream)
    numbers = [int(n) for n in match.group(0).split(".")] if match else [0]
    return tuple((numbers + [0] * 6)[:6])


def _bound(ecosystem: str, text: str, upstream_only: bool) -> Any:
    if upstream_only and ecosystem_family(ecosystem) == "Debian":
        return upstream_release(text)
    return parse_version(ecosystem, text)


def _in_range(
    ecosystem: str, version: Any, events: Iterable[Mapping[str, str]], upstream_only: bool
) -> bool:
    """OSV's range evaluation: walk the events in version order; ``introduced`` at or
    below the version opens, ``fixed`` at or below (or ``last_affected`` below) closes.

    ``upstream_only``: the version is an upstream one (``9.0.0`` read from libvirt, not
    the package's ``9.0.0-4+deb12u1``), compared to the bounds' upstream parts; a fix
    released in the same upstream version is not assumed installed."""
    points = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected"):
            if kind in event:
                text = str(event[kind])
                if kind == "introduced" and text == "0":
                    points.append((0, None, kind))
                else:
                    points.append((1, _bound(ecosystem, text, upstream_only), kind))
    points.sort(key=lambda p: (p[0], p[1]) if p[1] is not None else (p[0],))
    affected = False
    for _, bound, kind in points:
        if kind == "introduced":
            if bound is None or version >= bound:
                affected = True
        elif kind == "fixed":
            if (version > bound) if upstream_only else (version >= bound):
                affected = False
        elif version > bound:
            affected = False
    return affected


def is_affected(
    affected: Mapping[str, Any], version_text: str, *, upstream_only: bool = False
) -> bool:
    """Whether ``version_text`` of the package lies in ``affected`` (an ``Affected`` as
    stored: its ecosystem, ``ranges`` and ``versions``). ``UnsupportedEcosystem`` for
    ecosystems without a known order; ValueError for a version that does not parse."""
    ecosystem = str(affected.get("ecosystem", ""))
    version = parse_version(ecosystem, version_text)
    if upstream_only and ecosystem_family(ecosystem) == "Debian":
        version = upstream_release(version_text)
    for listed in affected.get("versions") or ():
        try:
            if _bound(ecosystem, str(listed), upstream_only) == version:
                return True
        except ValueError:
            continue
    for rng in affected.get("ranges") or ():
        if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue  # GIT ranges name commits, not versions
        if _in_range(ecosystem, version, rng.get("events") or (), upstream_only):
            return True
    return False


def fixed_versions(affected: Mapping[str, Any]) -> list[str]:
    """The versions that fix it, as the ranges say."""
    return [
        str(e["fixed"])
        for rng in affected.get("ranges") or ()
        for e in rng.get("events") or ()
        if "fixed" in e
    ]
