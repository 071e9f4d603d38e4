"""One entry for both feeds: the text (or parsed JSON) of a file, which feed it is."""

from __future__ import annotations

import json
from typing import Any

from operations_app.advisories.debian import looks_like_tracker, parse_tracker
from operations_app.advisories.osv import parse_osv
from operations_app.advisories.records import Advisory, FeedError


def load_json(content: bytes | str) -> Any:
    try:
        return json.loads(content)
    except UnicodeDecodeError as exc:
        raise FeedError("/", "not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise FeedError(
            "/", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc


def feed_kind(data: Any) -> str:
    """``osv`` or ``debian-tracker``; FeedError when it is neither."""
    if isinstance(data, list) or (isinstance(data, dict) and ("vulns" in data or "id" in data)):
        return "osv"
    if looks_like_tracker(data):
        return "debian-tracker"
    raise FeedError(
        "/",
        "neither an OSV record (an object with 'id'), a list of them, {\"vulns\": [...]}, "
        "nor the Debian security tracker's JSON ({package: {CVE: {...}}})",
    )


def parse_feed(content: bytes | str | Any, *, parsed: bool = False) -> list[Advisory]:
    """The advisories in a feed file; FeedError (with the JSON pointer of the offending
    field) when any part is wrong: nothing of a bad file is kept."""
    data = content if parsed else load_json(content)
    kind = feed_kind(data)
    advisories = parse_osv(data) if kind == "osv" else parse_tracker(data)
    if not advisories:
        raise FeedError("/", "the file holds no advisories")
    prefix = (
        "/vulns"
        if isinstance(data, dict) and "vulns" in data
        else ""
        if isinstance(data, list)
        else None
    )
    seen: dict[tuple[str, str], int] = {}
    for index, advisory in enumerate(advisories):
        key = (advisory.source, advisory.id)
        if key in seen:
            raise FeedError(
                (f"{prefix}/{index}/id" if kind == "osv" and prefix is not None else "/"),
                f"{advisory.id} appears twice in the file (also entry {seen[key]})",
            )
        seen[key] = index
    return advisories
