"""The Debian security tracker's JSON (https://security-tracker.debian.org/tracker/data/json):
``{source package: {CVE id: {description, scope, releases: {bookworm: {status,
fixed_version, urgency, repositories}}}}}``. Each CVE becomes one advisory affecting,
in each release's ecosystem (``Debian:12`` for bookworm), the source packages the
tracker lists: *resolved* ones up to their ``fixed_version`` (``0``: never affected),
*open* ones in every version. *undetermined* says nothing yet and is left out, as are
releases without a number (sid). The tracker carries no CVSS score.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from operations_app.advisories.records import Advisory, Affected, FeedError, pointer
from operations_app.advisories.versions import parse_version

RELEASES: Mapping[str, str] = {
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
}
DEFAULT_RELEASE = "bookworm"
STATUSES = ("resolved", "open", "undetermined")


def release_ecosystem(release: str) -> str:
    """``bookworm`` (or ``12``) -> ``Debian:12``; ValueError for a name Debian never gave."""
    name = release.strip().lower()
    if name in RELEASES:
        return f"Debian:{RELEASES[name]}"
    if name in RELEASES.values():
        return f"Debian:{name}"
    raise ValueError(
        f"'{release}' is not a Debian release ({', '.join(RELEASES)} or their numbers)"
    )


def looks_like_tracker(data: Any) -> bool:
    if not isinstance(data, dict) or not data:
        return False
    first = next(iter(data.values()))
    return isinstance(first, dict) and all(isinstance(v, dict) for v in first.values())


def parse_tracker(data: Any) -> list[Advisory]:
    if not isinstance(data, dict):
        raise FeedError("/", "the tracker's JSON is an object of source packages")
    found: dict[str, dict[str, Any]] = {}
    for package in sorted(data):
        entries = data[package]
        if not isinstance(entries, dict):
            raise FeedError(pointer([package]), "must be an object of CVE ids")
        for cve in sorted(entries):
            entry = entries[cve]
            path: list[str | int] = [package, cve]
            if not isinstance(entry, dict):
                raise FeedError(pointer(path), "must be an object")
            description = entry.get("description", "")
            if not isinstance(description, str):
                raise FeedError(pointer([*path, "description"]), "must be a string")
            releases = entry.get("releases", {})
            if not isinstance(releases, dict):
                raise FeedError(pointer([*path, "releases"]), "must be an object of releases")
            advisory = found.setdefault(cve, {"summary": description, "affected": []})
            advisory["summary"] = advisory["summary"] or description
            for release in sorted(releases):
                item = _release(package, release, releases[release], [*path, "releases", release])
                if item is not None:
                    advisory["affected"].append(item)
    return [
        Advisory(
            id=cve,
            source="debian-tracker",
            summary=str(found[cve]["summary"]).strip()[:2000],
            affected=tuple(found[cve]["affected"]),
        )
        for cve in sorted(found)
    ]


def _release(package: str, release: str, info: Any, path: list[str | int]) -> Affected | None:
    if not isinstance(info, dict):
        raise FeedError(pointer(path), "must be an object")
    status = info.get("status")
    if status not in STATUSES:
        raise FeedError(
            pointer([*path, "status"]), f"'{status}' is not one of {', '.join(STATUSES)}"
        )
    if release not in RELEASES or status == "undetermined":
        return None
    ecosystem = release_ecosystem(release)
    if status == "open":
        return Affected(
            ecosystem=ecosystem,
            package=package,
            ranges=({"type": "ECOSYSTEM", "events": [{"introduced": "0"}]},),
        )
    fixed = info.get("fixed_version")
    if not isinstance(fixed, str) or not fixed:
        raise FeedError(
            pointer([*path, "fixed_version"]), "a resolved entry names the version that fixed it"
        )
    if fixed == "0":
        return None  # the release never had the flaw
    try:
        parse_version(ecosystem, fixed)
    except ValueError as exc:
        raise FeedError(pointer([*path, "fixed_version"]), str(exc)) from exc
    return Affected(
        ecosystem=ecosystem,
        package=package,
        ranges=({"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]},),
    )
