"""OSV records (https://ossf.github.io/osv-schema/): one record, a list of them, or the
``{"vulns": [...]}`` answer of the OSV API. Ranges of type ECOSYSTEM and SEMVER and
``versions`` lists are kept; GIT ranges name commits and are left out. The CVSS score
is computed from the ``severity`` vectors (CVSS v3, else v4, else v2), or read from
``database_specific`` when it carries a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4

from operations_app.advisories.records import Advisory, Affected, FeedError, pointer
from operations_app.advisories.versions import parse_version, supported

EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
CVSS_CLASSES = {"CVSS_V3": CVSS3, "CVSS_V4": CVSS4, "CVSS_V2": CVSS2}
CVSS_PREFERENCE = ("CVSS_V3", "CVSS_V4", "CVSS_V2")


def _text(value: Any, path: Sequence[str | int], *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise FeedError(
            pointer(path), "must be a non-empty string" if required else "must be a string"
        )
    return value


def _list(value: Any, path: Sequence[str | int]) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise FeedError(pointer(path), "must be a list")
    return value


def _object(value: Any, path: Sequence[str | int]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise FeedError(pointer(path), "must be an object")
    return value


def parse_time(value: Any, path: Sequence[str | int]) -> datetime | None:
    if value in (None, ""):
        return None
    text = _text(value, path)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FeedError(pointer(path), f"'{text}' is not an RFC 3339 time") from exc
    if moment.tzinfo is None:
        raise FeedError(pointer(path), f"'{text}' has no time zone (RFC 3339 needs one)")
    return moment


def cvss_of(
    severity: Any, database_specific: Any, path: Sequence[str | int]
) -> tuple[float | None, str]:
    """The base score and the vector it came from."""
    found: dict[str, tuple[float, str]] = {}
    for i, entry in enumerate(_list(severity, [*path, "severity"])):
        entry = _object(entry, [*path, "severity", i])
        kind = _text(entry.get("type"), [*path, "severity", i, "type"], required=True)
        score = _text(entry.get("score"), [*path, "severity", i, "score"], required=True)
        if kind not in CVSS_CLASSES:
            continue  # Ubuntu's priorities and other kinds carry no CVSS
        try:
            found[kind] = (float(CVSS_CLASSES[kind](score).base_score), score)
        except Exception as exc:  # noqa: BLE001 - the cvss library raises its own errors
            raise FeedError(
                pointer([*path, "severity", i, "score"]), f"not a {kind} vector: {exc}"
            ) from exc
    for kind in CVSS_PREFERENCE:
        if kind in found:
            return found[kind]
    if isinstance(database_specific, dict):
        for key in ("cvss_score", "cvss", "cvss3_score", "base_score"):
            value = database_specific.get(key)
            if isinstance(value, dict):
                value = value.get("score", value.get("base_score"))
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if not 0 <= value <= 10:
                    raise FeedError(
                        pointer([*path, "database_specific", key]), "a CVSS score is 0 to 10"
                    )
                return float(value), ""
    return None, ""


def _events(rng: Mapping[str, Any], ecosystem: str, path: list[str | int]) -> list[dict[str, str]]:
    events = []
    for i, event in enumerate(_list(rng.get("events"), [*path, "events"])):
        event = _object(event, [*path, "events", i])
        kinds = [k for k in event if k in EVENT_KINDS]
        if len(kinds) != 1:
            raise FeedError(
                pointer([*path, "events", i]),
                f"an event has exactly one of {', '.join(EVENT_KINDS)}",
            )
        kind = kinds[0]
        value = _text(event[kind], [*path, "events", i, kind], required=True)
        if kind == "limit":
            continue  # limits bound commit walks; versions need none
        if supported(ecosystem) and not (kind == "introduced" and value == "0"):
            try:
                parse_version(ecosystem, value)
            except ValueError as exc:
                raise FeedError(pointer([*path, "events", i, kind]), str(exc)) from exc
        events.append({kind: value})
    if not events:
        raise FeedError(pointer([*path, "events"]), "a range needs at least one event")
    return events


def _affected(entry: Any, path: list[str | int]) -> tuple[Affected | None, Any]:
    entry = _object(entry, path)
    package = entry.get("package")
    if package is None:
        return None, None  # affects a repository only (GIT ranges): nothing installed to match
    package = _object(package, [*path, "package"])
    ecosystem = _text(package.get("ecosystem"), [*path, "package", "ecosystem"], required=True)
    name = _text(package.get("name"), [*path, "package", "name"], required=True)
    ranges = []
    for i, rng in enumerate(_list(entry.get("ranges"), [*path, "ranges"])):
        rng = _object(rng, [*path, "ranges", i])
        kind = _text(rng.get("type"), [*path, "ranges", i, "type"], required=True)
        if kind not in ("ECOSYSTEM", "SEMVER", "GIT"):
            raise FeedError(
                pointer([*path, "ranges", i, "type"]),
                f"'{kind}' is not a range type (ECOSYSTEM, SEMVER or GIT)",
            )
        if kind == "GIT":
            continue
        ranges.append({"type": kind, "events": _events(rng, ecosystem, [*path, "ranges", i])})
    versions = tuple(
        _text(v, [*path, "versions", i], required=True)
        for i, v in enumerate(_list(entry.get("versions"), [*path, "versions"]))
    )
    return Affected(ecosystem=ecosystem, package=name, ranges=tuple(ranges), versions=versions), (
        entry.get("severity"),
        entry.get("database_specific"),
    )


def parse_record(record: Any, path: list[str | int]) -> Advisory:
    """One OSV record; FeedError names the offending field's JSON pointer."""
    record = _object(record, path)
    ident = _text(record.get("id"), [*path, "id"], required=True)
    aliases = tuple(
        _text(a, [*path, "aliases", i], required=True)
        for i, a in enumerate(_list(record.get("aliases"), [*path, "aliases"]))
    )
    upstream = tuple(
        _text(a, [*path, "upstream", i], required=True)
        for i, a in enumerate(_list(record.get("upstream"), [*path, "upstream"]))
    )
    affected: list[Affected] = []
    score, vector = cvss_of(record.get("severity"), record.get("database_specific"), path)
    for i, entry in enumerate(_list(record.get("affected"), [*path, "affected"])):
        item, severity = _affected(entry, [*path, "affected", i])
        if item is None:
            continue
        affected.append(item)
        if score is None and severity is not None:
            score, vector = cvss_of(severity[0], severity[1], [*path, "affected", i])
    summary = _text(record.get("summary"), [*path, "summary"]) or _text(
        record.get("details"), [*path, "details"]
    )
    return Advisory(
        id=ident,
        source="osv",
        summary=summary.strip()[:2000],
        aliases=aliases,
        upstream=upstream,
        cvss=score,
        cvss_vector=vector,
        published=parse_time(record.get("published"), [*path, "published"]),
        modified=parse_time(record.get("modified"), [*path, "modified"]),
        affected=tuple(affected),
    )


def parse_osv(data: Any) -> list[Advisory]:
    """A record, a list of records, or ``{"vulns": [...]}``."""
    if isinstance(data, dict) and "vulns" in data and "id" not in data:
        return [
            parse_record(r, ["vulns", i]) for i, r in enumerate(_list(data["vulns"], ["vulns"]))
        ]
    if isinstance(data, list):
        return [parse_record(r, [i]) for i, r in enumerate(data)]
    return [parse_record(data, [])]
