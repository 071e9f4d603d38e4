"""Security advisories: importing them from a feed file or URL, and a platform's
installed packages (its host facts) they are matched against.

- ``advisories_import``: the advisories of an OSV or Debian security tracker file
  (``operations_app.advisories.parse_feed``); each is created, or updated when its
  content changed (importing the same file again changes nothing). A bad file changes
  nothing and says which field is wrong (its JSON pointer).
- ``advisories_fetch``: the same from an http(s) URL, with a timeout and a size cap;
  a redirect to another scheme is refused.
- ``advisory_feeds_tick``: the periodic import of the feeds of
  ``VMPERSONA_ADVISORY_FEEDS``, each when due, with each feed's last outcome recorded
  (``AdvisoryFeed``) and the administrators told once per streak of failures.
- ``platform_facts_import``: a platform's packages from ``dpkg-query -W
  -f='${Package} ${Version}\\n'`` output (a third column, ``${source:Package}``, is
  read when given) or JSON ``{package: version}``, and its Debian release.

Imports are for operators (``user`` None: the system, e.g. the CLI run by root), as
for changes to the platform registry.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from operations_app.advisories import Advisory as ParsedAdvisory
from operations_app.advisories import FeedError, parse_feed
from operations_app.advisories.debian import DEFAULT_RELEASE, release_ecosystem
from operations_app.models import Advisory, AdvisoryAffected, AdvisoryFeed, Platform, Severity
from vmpersona.accounts.models import NotificationKind
from vmpersona.errors import DomainError, error_text, field_error
from vmpersona.history import attribute_change
from vmpersona.roles import OPERATORS, require_role

FETCH_TIMEOUT = 60.0
MAX_BYTES = 256 * 1024 * 1024  # the Debian tracker's whole JSON is well below
PACKAGE_LINE = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s+(?P<version>\S+)(?:\s+(?P<source>\S+))?\s*$"
)


def _check_role(user, action: str) -> None:
    # ``user=None`` is the system itself (periodic tasks, the local CLI run by root).
    if user is not None:
        require_role(user, OPERATORS, action)


@dataclass
class ImportResult:
    source: str = ""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)

    @property
    def summary(self) -> str:
        """E.g. "1 advisory from OSV: 1 new, 0 updated, 0 unchanged"."""
        source = {"osv": "OSV", "debian-tracker": "the Debian security tracker"}.get(
            self.source, self.source
        )
        return (
            f"{self.total} advisor{'y' if self.total == 1 else 'ies'} from {source}: "
            f"{len(self.created)} new, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


def _aliases(advisory: ParsedAdvisory) -> list[str]:
    """Its aliases and the upstream flaws it is about (OSV's ``upstream``)."""
    return list(dict.fromkeys([*advisory.aliases, *advisory.upstream]))


def _digest(advisory: ParsedAdvisory) -> str:
    data = {
        "summary": advisory.summary,
        "aliases": _aliases(advisory),
        "cvss": advisory.cvss,
        "vector": advisory.cvss_vector,
        "published": advisory.published.isoformat() if advisory.published else None,
        "modified": advisory.modified.isoformat() if advisory.modified else None,
        "affected": [a.to_dict() for a in advisory.affected],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def advisories_import(*, user, content: bytes | str, origin: str = "") -> ImportResult:
    """Store the advisories of a feed file; nothing is kept when any part is wrong."""
    _check_role(user, "import advisories")
    try:
        parsed = parse_feed(content)
    except FeedError as exc:
        raise field_error(exc.path, exc.message) from exc
    result = ImportResult(source=parsed[0].source)
    now = timezone.now()
    person = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        # what the source holds, by id (a whole tracker file names tens of thousands:
        # no list of ids in the query)
        existing = dict(
            Advisory.objects.filter(source=result.source).values_list("advisory_id", "content_hash")
        )
        for item in parsed:
            digest = _digest(item)
            if existing.get(item.id) == digest:
                result.unchanged.append(item.id)
                continue
            row = (
                Advisory.objects.filter(source=item.source, advisory_id=item.id).first()
                if item.id in existing
                else None
            )
            if row is None:
                row = Advisory(source=item.source, advisory_id=item.id)
                result.created.append(item.id)
                reason = "imported"
            else:
                result.updated.append(item.id)
                reason = "updated by an import"
            row.cve = item.cve
            row.aliases = _aliases(item)
            row.summary = item.summary
            row.cvss = item.cvss
            row.cvss_vector = item.cvss_vector[:200]
            row.published = item.published
            row.modified = item.modified
            row.content_hash = digest
            row.imported_at = now
            row.imported_by = person
            attribute_change(
                row, user=user, reason=f"{reason} from {origin}"[:100] if origin else reason
            )
            row.save()
            row.affected.all().delete()
            AdvisoryAffected.objects.bulk_create(
                AdvisoryAffected(
                    advisory=row,
                    ecosystem=a.ecosystem,
                    package=a.package,
                    ranges=a.to_dict()["ranges"],
                    versions=list(a.versions),
                )
                for a in item.affected
            )
    return result


class _SameSchemeRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise DomainError(f"the feed redirects to {scheme}:, not http or https")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def advisories_fetch(
    url: str, *, timeout: float | None = None, max_bytes: int | None = None
) -> bytes:
    """The body at ``url`` (http or https), at most ``max_bytes``."""
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise field_error("url", "an http:// or https:// URL")
    limit = max_bytes or int(getattr(django_settings, "VMPERSONA_ADVISORY_MAX_BYTES", MAX_BYTES))
    wait = timeout or float(getattr(django_settings, "VMPERSONA_ADVISORY_TIMEOUT", FETCH_TIMEOUT))
    opener = urllib.request.build_opener(_SameSchemeRedirects)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with opener.open(request, timeout=wait) as response:
            body = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise DomainError(f"{url} answered {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DomainError(f"{url} could not be read: {reason}") from exc
    if len(body) > limit:
        raise field_error("url", f"the feed is larger than {limit} bytes")
    return body


def advisories_import_url(*, user, url: str) -> ImportResult:
    _check_role(user, "import advisories")
    return advisories_import(user=user, content=advisories_fetch(url), origin=url)


# --------------------------------------------------------------------------- host facts


def parse_packages(content: bytes | str) -> dict[str, dict[str, str]]:
    """``dpkg-query -W -f='${Package} ${Version}\\n'`` lines (optionally a third column,
    the source package) or JSON ``{package: version}``; errors name the line or key."""
    if isinstance(content, bytes):
        try:
            content = content.decode()
        except UnicodeDecodeError as exc:
            raise field_error("packages", "not UTF-8 text") from exc
    text = content.strip()
    packages: dict[str, dict[str, str]] = {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise field_error("packages", f"not JSON: {exc.msg} at line {exc.lineno}") from exc
        for name, version in data.items():
            if not isinstance(version, str) or not version.strip():
                raise field_error(f"packages/{name}", "the version, as a string")
            if not PACKAGE_LINE.match(f"{name} {version}"):
                raise field_error(f"packages/{name}", "not a package name and version")
            packages[name] = {"version": version.strip()}
        return packages
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = PACKAGE_LINE.match(line.strip())
        if match is None:
            raise field_error(
                "packages",
                f"line {number}: '{line.strip()[:80]}' is not '<package> <version>' as "
                "dpkg-query prints it",
            )
        entry = {"version": match["version"]}
        if match["source"]:
            entry["source"] = match["source"]
        packages[match["name"]] = entry
    return packages


@transaction.atomic
def platform_facts_import(
    *, user, platform: Platform, content: bytes | str, debian_release: str | None = None
) -> Platform:
    """Replace the platform's packages with those listed; its Debian release is
    ``debian_release``, else the one it had, else bookworm."""
    _check_role(user, "import a platform's packages")
    packages = parse_packages(content)
    if not packages:
        raise field_error("packages", "no packages listed")
    platform = Platform.objects.select_for_update().get(pk=platform.pk)
    release = debian_release or (platform.host_facts or {}).get("debian_release") or DEFAULT_RELEASE
    try:
        release_ecosystem(release)
    except ValueError as exc:
        raise field_error("debian_release", str(exc)) from exc
    person = user if getattr(user, "is_authenticated", False) else None
    platform.host_facts = {
        "debian_release": release.lower(),
        "packages": packages,
        "imported_by": getattr(person, "username", "") or "",
    }
    platform.host_facts_imported_at = timezone.now()
    platform.save(update_fields=["host_facts", "host_facts_imported_at"])
    return platform


# --------------------------------------------------------------------------- periodic feeds


def _feed_settings(urls: list[str] | None, hours: int | None) -> tuple[list[str], timedelta]:
    configured = urls if urls is not None else django_settings.VMPERSONA_ADVISORY_FEEDS
    every = hours if hours is not None else django_settings.VMPERSONA_ADVISORY_FEED_HOURS
    return list(dict.fromkeys(configured)), timedelta(hours=max(1, int(every)))


def advisory_feeds_tick(
    *, now: datetime | None = None, urls: list[str] | None = None, hours: int | None = None
) -> dict[str, str]:
    """Import, as the system, each feed (``VMPERSONA_ADVISORY_FEEDS``) whose last import
    is ``VMPERSONA_ADVISORY_FEED_HOURS`` old or that was never imported. By URL:
    ``imported``, ``failed`` or ``not due``. One feed failing does not stop the others."""
    configured, every = _feed_settings(urls, hours)
    now = now or timezone.now()
    done: dict[str, str] = {}
    for url in configured:
        feed, _ = AdvisoryFeed.objects.get_or_create(url=url)
        if feed.last_attempt_at is not None and now - feed.last_attempt_at < every:
            done[url] = "not due"
            continue
        done[url] = "imported" if advisory_feed_import(feed=feed, now=now) else "failed"
    return done


def advisory_feed_import(*, feed: AdvisoryFeed, now: datetime | None = None) -> bool:
    """Import ``feed`` now, as the system, and record how it went: the counts of a
    success; the error of a failure, of which the administrators are told once per
    streak of failures."""
    now = now or timezone.now()
    try:
        result = advisories_import_url(user=None, url=feed.url)
    except Exception as exc:  # noqa: BLE001 - any failure is the feed's, recorded and told
        _feed_failed(feed, now, error_text(exc) or exc.__class__.__name__)
        return False
    AdvisoryFeed.objects.filter(pk=feed.pk).update(
        last_attempt_at=now,
        last_success_at=now,
        last_error="",
        last_counts={
            "source": result.source,
            "total": result.total,
            "created": len(result.created),
            "updated": len(result.updated),
            "unchanged": len(result.unchanged),
        },
        failures=0,
        failure_notified=False,
    )
    feed.refresh_from_db()
    return True


@transaction.atomic
def _feed_failed(feed: AdvisoryFeed, now: datetime, error: str) -> None:
    from operations_app.services.notifications import administrators, notify

    feed = AdvisoryFeed.objects.select_for_update().get(pk=feed.pk)
    feed.last_attempt_at = now
    feed.last_failure_at = now
    feed.last_error = error[:4000]
    feed.failures += 1
    tell = not feed.failure_notified
    feed.failure_notified = True
    feed.save(
        update_fields=[
            "last_attempt_at",
            "last_failure_at",
            "last_error",
            "failures",
            "failure_notified",
        ]
    )
    if tell:
        notify(
            recipients=administrators(),
            severity=Severity.ERROR,
            message=f"The advisory feed {feed.url} could not be imported: {error}"[:1000],
            link=reverse("operations:advisories"),
            details="It is tried again at each due import; you are told again only after "
            "it has been imported once.",
            kind=NotificationKind.MAINTENANCE,
        )
