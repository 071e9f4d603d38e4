"""What a platform or a VM runs, as packages of an ecosystem, and the advisories that
affect them.

- A platform: the packages of its host facts (``dpkg-query`` output: binary packages
  with their source package), matched by source package in the platform's Debian
  release (``Debian:12`` by default); libvirt and QEMU fall back on the versions
  libvirt reports (upstream versions, ``upstream_only``) when the facts lack them.
- A VM: its profile version's applications and runtimes. One installed with ``apt``
  is the Debian package it names (at the version pinned, else the application's);
  one installed otherwise is matched by name against PyPI when its version is a PEP 440
  one; ``dnf``, ``apk`` and ``zypper`` packages are ecosystems without a known order
  here, and are reported as such.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from operations_app.advisories.debian import DEFAULT_RELEASE, release_ecosystem
from operations_app.advisories.versions import (
    UnsupportedEcosystem,
    ecosystem_family,
    fixed_versions,
    is_affected,
    package_key,
    parse_version,
    upstream_release,
)

# Binary packages whose source package is not their own name.
SOURCE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^qemu(-.*)?$"), "qemu"),
    (re.compile(r"^(lib)?virt(-.*)?$|^libvirt.*$"), "libvirt"),
    (re.compile(r"^linux-(image|headers|modules|kbuild|compiler)-.*$"), "linux"),
)
# What libvirt reports, as the Debian source package it comes from.
CAPABILITY_PACKAGES = (("libvirt_version", "libvirt"), ("hypervisor_version", "qemu"))
INSTALL_ECOSYSTEMS = {"dnf": "Red Hat", "apk": "Alpine", "zypper": "SUSE"}


@dataclass(frozen=True)
class Package:
    ecosystem: str
    name: str
    version: str
    upstream_only: bool = False
    origin: str = ""  # where it was read: "dpkg linux-image-6.1.0-18-amd64", "application web"


@dataclass(frozen=True)
class Exposure:
    """One advisory (counted once per CVE) affecting one package."""

    advisory: str  # the CVE, or the advisory's id when it names none
    ids: tuple[str, ...]  # the advisories that say so
    cvss: float | None
    package: str
    version: str
    fixed: tuple[str, ...]
    origin: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "advisory": self.advisory,
            "ids": list(self.ids),
            "cvss": self.cvss,
            "package": self.package,
            "version": self.version,
            "fixed": list(self.fixed),
            "origin": self.origin,
        }


def source_package(binary: str) -> str:
    for pattern, source in SOURCE_PATTERNS:
        if pattern.match(binary):
            return source
    return binary


def dotted(value: Any) -> str:
    """A libvirt version as text: ``9000000`` (major × 1e6 + minor × 1e3 + micro) ->
    ``9.0.0``; a text is kept."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value // 1000000}.{value // 1000 % 1000}.{value % 1000}"
    return str(value or "").strip()


def platform_packages(
    *, capabilities: Mapping[str, Any], facts: Mapping[str, Any]
) -> list[Package]:
    """The platform's packages: its host facts (``{"packages": {binary: {"version",
    "source"}}, "debian_release": "bookworm"}``) and what libvirt reports."""
    ecosystem = release_ecosystem(str(facts.get("debian_release") or DEFAULT_RELEASE))
    found: dict[tuple[str, str], Package] = {}
    for binary, info in sorted((facts.get("packages") or {}).items()):
        version = info.get("version") if isinstance(info, dict) else info
        source = (info.get("source") if isinstance(info, dict) else "") or source_package(binary)
        if not version:
            continue
        key = (source, str(version))
        found.setdefault(key, Package(ecosystem, source, str(version), origin=f"dpkg {binary}"))
    sources = {name for name, _ in found}
    for capability, source in CAPABILITY_PACKAGES:
        version = dotted(capabilities.get(capability))
        if version and source not in sources:
            found[(source, version)] = Package(
                ecosystem, source, version, upstream_only=True, origin=f"libvirt {capability}"
            )
    return [found[k] for k in sorted(found)]


def _install_version(component: Mapping[str, Any]) -> tuple[str, bool]:
    install = component.get("install") or {}
    pinned = str(install.get("version") or "")
    if pinned and "*" not in pinned:
        return pinned, False
    version = str(component.get("version") or "")
    return version, "-" not in version


def profile_packages(
    document: Mapping[str, Any], *, release: str = DEFAULT_RELEASE
) -> tuple[list[Package], list[str]]:
    """A VPPD's applications and runtimes as packages, and the ones left unmatched
    (their ecosystem has no known version order)."""
    debian = release_ecosystem(release)
    packages: list[Package] = []
    unmatched: list[str] = []
    components = [
        ("application", c)
        for c in document.get("application_manifest") or ()
        if isinstance(c, dict)
    ] + [("runtime", c) for c in document.get("runtime_environment") or () if isinstance(c, dict)]
    for what, component in components:
        name = str(component.get("name") or "")
        install = component.get("install") or {}
        origin = f"{what} {name}"
        if install.get("method") == "package":
            manager = install.get("manager")
            if manager != "apt":
                unmatched.append(
                    f"{origin}: unsupported ecosystem '{INSTALL_ECOSYSTEMS.get(str(manager), str(manager))}'"
                )
                continue
            version, upstream = _install_version(component)
            packages.append(
                Package(debian, str(install.get("package") or name), version, upstream, origin)
            )
            continue
        version = str(component.get("version") or "")
        try:
            parse_version("PyPI", version)
        except ValueError:
            unmatched.append(f"{origin}: {version} is no PEP 440 version to match against PyPI")
            continue
        packages.append(Package("PyPI", name, version, False, origin))
    return packages, unmatched


class AdvisoryIndex:
    """The advisories' affected entries by ecosystem family and package, ready to match.

    ``entries``: ``(advisory id, cve, cvss, affected)`` with ``affected`` as stored
    (``ecosystem``, ``package``, ``ranges``, ``versions``); ``scores``: a CVSS score by
    CVE, for the advisories whose own feed gives none (the Debian tracker)."""

    def __init__(
        self,
        entries: Iterable[tuple[str, str, float | None, Mapping[str, Any]]],
        scores: Mapping[str, float] | None = None,
    ) -> None:
        self.scores = dict(scores or {})
        self.by_package: dict[tuple[str, str], list[tuple[str, str, float | None, Mapping]]] = {}
        for ident, cve, cvss, affected in entries:
            ecosystem = str(affected.get("ecosystem", ""))
            key = (ecosystem_family(ecosystem), package_key(ecosystem, str(affected["package"])))
            self.by_package.setdefault(key, []).append((ident, cve, cvss, affected))
        for rows in self.by_package.values():
            rows.sort(key=lambda r: (r[0], str(r[3].get("ecosystem"))))

    def _applies(self, affected: Mapping[str, Any], package: Package) -> bool:
        wanted = str(affected.get("ecosystem", ""))
        # "Debian" (no release) applies to every release; "Debian:12" to bookworm only
        return wanted == package.ecosystem or wanted == ecosystem_family(package.ecosystem)

    def match(self, packages: Sequence[Package]) -> list[Exposure]:
        """The advisories affecting ``packages``, one per CVE (the highest score)."""
        found: dict[str, dict[str, Any]] = {}
        for package in packages:
            key = (
                ecosystem_family(package.ecosystem),
                package_key(package.ecosystem, package.name),
            )
            for ident, cve, cvss, affected in self.by_package.get(key, ()):
                if not self._applies(affected, package):
                    continue
                try:
                    hit = is_affected(
                        affected, package.version, upstream_only=package.upstream_only
                    )
                except (UnsupportedEcosystem, ValueError):
                    continue
                if not hit:
                    continue
                score = cvss if cvss is not None else self.scores.get(cve)
                item = found.setdefault(
                    cve,
                    {"ids": set(), "cvss": None, "package": package, "fixed": set()},
                )
                item["ids"].add(ident)
                item["fixed"].update(fixed_versions(affected))
                if score is not None and (item["cvss"] is None or score > item["cvss"]):
                    item["cvss"] = score
        return [
            Exposure(
                advisory=cve,
                ids=tuple(sorted(item["ids"])),
                cvss=item["cvss"],
                package=item["package"].name,
                version=item["package"].version,
                fixed=tuple(sorted(item["fixed"])),
                origin=item["package"].origin,
            )
            for cve, item in sorted(found.items())
        ]


def as_pairs(exposures: Iterable[Exposure]) -> tuple[tuple[str, float | None], ...]:
    """``(advisory, cvss)`` pairs, worst first: what the fleet snapshot carries."""
    return tuple(
        sorted(
            ((e.advisory, e.cvss) for e in exposures),
            key=lambda p: (-(p[1] if p[1] is not None else -1.0), p[0]),
        )
    )


# --------------------------------------------------------------------------- running QEMU
#
# A running domain keeps the QEMU binary it was started with: after the package is
# upgraded it stays exposed to what the upgrade fixed until it is restarted or migrated
# (a live migration starts a new QEMU process on the target).


@dataclass(frozen=True)
class OlderQemu:
    """A VM's QEMU process older than the platform's installed QEMU."""

    running: str  # upstream version of the process: 7.2.0
    installed: str  # what libvirt reports installed: 7.2.1
    package: Package  # the running QEMU, as a package to match advisories against

    def to_dict(self) -> dict[str, str]:
        return {"running": self.running, "installed": self.installed}


def debian_build(package: str) -> str:
    """The Debian version in QEMU's build string (``Debian 1:7.2+dfsg-7+deb12u6`` ->
    ``1:7.2+dfsg-7+deb12u6``), or ""."""
    parts = str(package or "").split()
    if len(parts) >= 2 and parts[0].lower() == "debian":
        try:
            parse_version("Debian", parts[1])
        except ValueError:
            return ""
        return parts[1]
    return ""


def _installed_debian_qemu(facts: Mapping[str, Any]) -> str:
    """The highest version of the host's ``qemu-system-*`` packages in its facts, or ""."""
    found = []
    for binary, info in (facts.get("packages") or {}).items():
        version = info.get("version") if isinstance(info, dict) else info
        if str(binary).startswith("qemu-system") and version:
            try:
                found.append((parse_version("Debian", str(version)), str(version)))
            except ValueError:
                continue
    return max(found)[1] if found else ""


def older_qemu(
    running: Mapping[str, Any] | None,
    *,
    capabilities: Mapping[str, Any],
    facts: Mapping[str, Any],
) -> OlderQemu | None:
    """The VM's running QEMU (``ManagedVM.running_qemu``) when it is older than the one
    installed on its platform: by upstream version (``7.2.0`` before ``7.2.1``), or, for
    the same upstream version, by the Debian builds (the process's build string against
    the host facts' ``qemu-system-*`` package). None when it is not older or unknown."""
    if not running or not running.get("version"):
        return None
    version = str(running["version"])
    installed = dotted(capabilities.get("hypervisor_version"))
    if not installed:
        return None
    try:
        now, then = upstream_release(version), upstream_release(installed)
    except ValueError:
        return None
    build = debian_build(str(running.get("package") or ""))
    older = now < then
    if not older and now == then and build:
        host_build = _installed_debian_qemu(facts)
        older = bool(host_build) and (
            parse_version("Debian", build) < parse_version("Debian", host_build)
        )
    if not older:
        return None
    try:
        ecosystem = release_ecosystem(str(facts.get("debian_release") or DEFAULT_RELEASE))
    except ValueError:
        ecosystem = release_ecosystem(DEFAULT_RELEASE)
    package = Package(
        ecosystem,
        "qemu",
        build or version,
        upstream_only=not build,
        origin=f"running QEMU {version}",
    )
    return OlderQemu(running=version, installed=installed, package=package)
