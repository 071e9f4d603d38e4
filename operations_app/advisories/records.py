"""An advisory and the packages it affects, as both feeds come to them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SOURCES = ("osv", "debian-tracker")


class FeedError(ValueError):
    """A feed that cannot be read: ``path`` is the JSON pointer of the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path = path or "/"
        self.message = message


def pointer(parts: Sequence[str | int]) -> str:
    """``["vulns", 0, "affected"]`` -> ``/vulns/0/affected`` (RFC 6901 escapes)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class Affected:
    """One package an advisory affects in one ecosystem: OSV ranges (``{"type":
    "ECOSYSTEM"|"SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2-1"}]}``)
    and/or the exact ``versions`` listed."""

    ecosystem: str
    package: str
    ranges: tuple[dict[str, Any], ...] = ()
    versions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "package": self.package,
            "ranges": [dict(r, events=[dict(e) for e in r["events"]]) for r in self.ranges],
            "versions": list(self.versions),
        }


@dataclass(frozen=True)
class Advisory:
    id: str
    source: str
    summary: str = ""
    aliases: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()  # OSV's upstream: the flaw a distribution's record is about
    cvss: float | None = None
    cvss_vector: str = ""
    published: datetime | None = None
    modified: datetime | None = None
    affected: tuple[Affected, ...] = field(default_factory=tuple)

    @property
    def cve(self) -> str:
        """The CVE this advisory is about (its id or its first CVE alias), else its id:
        the same flaw from two feeds counts once."""
        for name in (self.id, *self.aliases, *self.upstream):
            if name.upper().startswith("CVE-"):
                return name.upper()
        return self.id
