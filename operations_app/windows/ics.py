"""Windows as iCalendar (RFC 5545): one VEVENT per window, read back the same.

Each window is written as::

    BEGIN:VEVENT
    UID:<name>@vmpersona
    SUMMARY:<name>
    DTSTART;TZID=Europe/Berlin:20261212T020000      (start date and time, local)
    DURATION:PT3H
    RRULE:FREQ=MONTHLY;BYDAY=2SA                   (when it recurs)
    EXDATE;TZID=Europe/Berlin:20270109T020000      (one per exception date)
    CATEGORIES:maintenance                         (or blackout)
    DESCRIPTION:...
    X-VMPERSONA-CUTOFF:30                          (minutes)
    X-VMPERSONA-SCOPE:{"platforms": [...], "profiles": [...], "flags": [...], "labels": {...}}
    X-VMPERSONA-ENABLED:TRUE
    X-VMPERSONA-WEBHOOK:https://...
    X-VMPERSONA-APPROVAL:TRUE                      (scheduled jobs wait for an approver)
    X-VMPERSONA-APPROVAL-KINDS:migrate,clone       (the job kinds that do; absent: all)
    END:VEVENT

with a VTIMEZONE for each zone, so calendar programs show the windows. Reading accepts
what other programs write too: DTEND instead of DURATION, a UTC DTSTART, Windows zone
names, EXDATE as dates; it refuses what a window cannot be (all-day or floating events,
RDATE, several RRULEs, changed single occurrences) with the event's index and the
property: ``events/<n>/<PROPERTY>``.

Pure: no Django.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from .recurrence import WindowRule, timezone_problem, validate_rule
from .rrules import normalize_rrule
from .scope import WindowScope
from .state import KINDS

PRODID = "-//VM Persona//Maintenance windows//EN"
UID_SUFFIX = "@vmpersona"
CUTOFF = "X-VMPERSONA-CUTOFF"
SCOPE = "X-VMPERSONA-SCOPE"
ENABLED = "X-VMPERSONA-ENABLED"
WEBHOOK = "X-VMPERSONA-WEBHOOK"
APPROVAL = "X-VMPERSONA-APPROVAL"
APPROVAL_KINDS = "X-VMPERSONA-APPROVAL-KINDS"
UNSUPPORTED = {
    "RDATE": "extra dates (RDATE) are not supported: make another window",
    "EXRULE": "EXRULE is not supported: use exception dates (EXDATE)",
    "RECURRENCE-ID": "a changed single occurrence (RECURRENCE-ID) is not supported: "
    "skip it with an EXDATE and make another window",
}
# Where validate_rule's fields live in an event.
RULE_PROPERTIES = {
    "timezone": "DTSTART",
    "start_date": "DTSTART",
    "start_time": "DTSTART",
    "duration_minutes": "DURATION",
    "rrule": "RRULE",
    "exdates": "EXDATE",
    "cutoff_minutes": CUTOFF,
}


@dataclass(frozen=True)
class WindowData:
    """Everything a window is, as plain data (what an .ics file carries)."""

    name: str
    kind: str
    rule: WindowRule
    description: str = ""
    enabled: bool = True
    webhook_url: str = ""
    scope: WindowScope = field(default_factory=WindowScope)
    approval_required: bool = False
    approval_kinds: tuple[str, ...] = ()


class IcsError(ValueError):
    """The file cannot be read as windows; ``problems`` are (path, message) pairs, the
    path ``events/<n>/<PROPERTY>`` (n from 0) or ``ics`` for the file as a whole."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))


# --------------------------------------------------------------------------- writing


def to_ics(windows: Iterable[WindowData], *, stamp: datetime | None = None) -> bytes:
    """A VCALENDAR with one VEVENT per window (and the VTIMEZONEs they use)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    stamp = (stamp or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    for window in windows:
        calendar.add_component(_event(window, stamp))
    if any(True for _ in calendar.walk("VEVENT")):
        calendar.add_missing_timezones()
    return calendar.to_ical()


def _event(window: WindowData, stamp: datetime) -> icalendar.Event:
    rule = window.rule
    event = icalendar.Event()
    event.add("uid", f"{window.name}{UID_SUFFIX}")
    event.add("dtstamp", stamp)
    event.add("summary", window.name)
    starts = [datetime.combine(day, rule.start_time) for day in (rule.start_date, *rule.exdates)]
    if rule.tz == "UTC":
        starts = [s.replace(tzinfo=UTC) for s in starts]
        zone = {}
    else:
        # Local times with the zone's name (icalendar would write any zone that is
        # always at UTC+0, Etc/UTC or Africa/Abidjan, as UTC and lose the name).
        zone = {"TZID": rule.tz}
    event.add("dtstart", starts[0], parameters=zone)
    event.add("duration", timedelta(minutes=rule.duration_minutes))
    if rule.rrule:
        event.add("rrule", icalendar.vRecur.from_ical(rule.rrule))
    if rule.exdates:
        event.add("exdate", starts[1:], parameters=zone)
    event.add("categories", [window.kind])
    if window.description:
        event.add("description", window.description)
    event.add(CUTOFF, str(rule.cutoff_minutes))
    event.add(SCOPE, json.dumps(window.scope.to_json(), sort_keys=True))
    event.add(ENABLED, "TRUE" if window.enabled else "FALSE")
    if window.webhook_url:
        event.add(WEBHOOK, window.webhook_url)
    event.add(APPROVAL, "TRUE" if window.approval_required else "FALSE")
    if window.approval_kinds:
        event.add(APPROVAL_KINDS, ",".join(window.approval_kinds))
    return event


# --------------------------------------------------------------------------- reading


def from_ics(data: bytes) -> list[WindowData]:
    """The windows of an .ics file, in the file's order; :class:`IcsError` with every
    problem of every event when any is wrong (nothing is half read)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else str(data)
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, UnicodeDecodeError, IndexError, KeyError) as exc:
        raise IcsError([("ics", f"not an iCalendar file: {exc}")]) from None
    windows: list[WindowData] = []
    problems: list[tuple[str, str]] = []
    for index, event in enumerate(calendar.walk("VEVENT")):
        reader = _EventReader(event, f"events/{index}")
        window = reader.read()
        problems += reader.problems
        if window is not None:
            windows.append(window)
    if problems:
        raise IcsError(problems)
    return windows


class _EventReader:
    """Reads one VEVENT, collecting its problems."""

    def __init__(self, event: Any, path: str) -> None:
        self.event = event
        self.path = path
        self.problems: list[tuple[str, str]] = []
        self.broken = {name.upper() for name, _ in getattr(event, "errors", [])}
        for name, message in getattr(event, "errors", []):
            self.problem(name.upper(), f"cannot be read: {message}")

    def problem(self, prop: str, message: str) -> None:
        self.problems.append((f"{self.path}/{prop}", message))

    def one(self, prop: str, *, required: bool = False) -> Any:
        if prop in self.broken:
            return None
        value = self.event.get(prop)
        if isinstance(value, list):
            self.problem(prop, f"given {len(value)} times; a window has one {prop}")
            return None
        if value is None and required:
            self.problem(prop, "missing")
        return value

    def read(self) -> WindowData | None:
        for prop, message in UNSUPPORTED.items():
            if prop in self.event:
                self.problem(prop, message)
        name = self._name()
        kind = self._kind()
        tz, local_start = self._start()
        duration = self._duration(tz, local_start)
        rrule = self._rrule()
        exdates = self._exdates(tz)
        cutoff = self._cutoff()
        scope = self._scope()
        enabled = self._boolean(ENABLED, default=True)
        approval_required = self._boolean(APPROVAL, default=False)
        approval_kinds = self._approval_kinds()
        webhook = str(self.one(WEBHOOK) or "").strip()
        description = str(self.one("DESCRIPTION") or "")
        if self.problems or tz is None or local_start is None or duration is None:
            return None
        rule = WindowRule(
            tz=tz,
            start_date=local_start.date(),
            start_time=local_start.time(),
            duration_minutes=duration,
            rrule=rrule,
            exdates=exdates,
            cutoff_minutes=cutoff,
        )
        for fieldname, message in validate_rule(rule):
            head, _, rest = fieldname.partition("/")
            self.problem(
                RULE_PROPERTIES.get(head, head.upper()) + (f"/{rest}" if rest else ""), message
            )
        if self.problems:
            return None
        return WindowData(
            name=name,
            kind=kind,
            rule=rule,
            description=description,
            enabled=enabled,
            webhook_url=webhook,
            scope=scope,
            approval_required=approval_required,
            approval_kinds=approval_kinds,
        )

    def _name(self) -> str:
        value = self.one("SUMMARY", required=True)
        name = str(value or "").strip()
        if value is not None and not name:
            self.problem("SUMMARY", "the window's name may not be empty")
        return name

    def _kind(self) -> str:
        if "CATEGORIES" in self.broken:
            return ""
        found = self.event.get("CATEGORIES")
        values = found if isinstance(found, list) else [found] if found is not None else []
        words = {str(c).strip().lower() for v in values for c in getattr(v, "cats", [])}
        kinds = sorted(words & set(KINDS))
        if len(kinds) != 1:
            self.problem(
                "CATEGORIES",
                "say whether the window is 'maintenance' (work may run) or 'blackout' "
                "(nothing may start): exactly one of the two",
            )
            return ""
        return kinds[0]

    def _start(self) -> tuple[str | None, datetime | None]:
        prop = self.one("DTSTART", required=True)
        if prop is None:
            return None, None
        value = prop.dt
        if not isinstance(value, datetime):
            self.problem("DTSTART", "an all-day event is not a window: give a start time")
            return None, None
        tzid = prop.params.get("TZID")
        if tzid:
            tz = _zone_name(str(tzid))
            if tz is None:
                self.problem(
                    "DTSTART", f"TZID '{tzid}' is not an IANA time zone (e.g. Europe/Berlin)"
                )
                return None, None
        elif value.tzinfo is not None and value.utcoffset() == timedelta(0):
            tz = "UTC"
        else:
            self.problem(
                "DTSTART",
                "a floating time (no TZID): give the time zone, e.g. DTSTART;TZID=Europe/Berlin:...",
            )
            return None, None
        return tz, value.replace(tzinfo=None)

    def _duration(self, tz: str | None, local_start: datetime | None) -> int | None:
        duration = self.one("DURATION")
        end = self.one("DTEND")
        if duration is not None and end is not None:
            self.problem("DTEND", "give DURATION or DTEND, not both")
            return None
        if duration is not None:
            return self._minutes("DURATION", duration.dt)
        if end is None:
            if "DURATION" not in self.broken and "DTEND" not in self.broken:
                self.problem("DURATION", "missing: give DURATION (or DTEND)")
            return None
        if tz is None or local_start is None:
            return None
        if not isinstance(end.dt, datetime):
            self.problem("DTEND", "a date and time, like DTSTART")
            return None
        start = local_start.replace(tzinfo=ZoneInfo(tz))
        end_at = end.dt
        if end_at.tzinfo is None:
            end_tzid = end.params.get("TZID")
            zone = _zone_name(str(end_tzid)) if end_tzid else tz
            end_at = end_at.replace(tzinfo=ZoneInfo(zone or tz))
        elapsed = end_at.astimezone(UTC) - start.astimezone(UTC)
        return self._minutes("DTEND", elapsed)

    def _minutes(self, prop: str, value: Any) -> int | None:
        if not isinstance(value, timedelta) or value.total_seconds() % 60:
            self.problem(prop, "a whole number of minutes")
            return None
        minutes = int(value.total_seconds() // 60)
        if minutes <= 0:
            self.problem(prop, "the window must last at least a minute")
            return None
        return minutes

    def _rrule(self) -> str:
        prop = self.one("RRULE")
        if prop is None:
            return ""
        return normalize_rrule(prop.to_ical().decode())

    def _exdates(self, tz: str | None) -> tuple[date, ...]:
        if "EXDATE" in self.broken:
            return ()
        found = self.event.get("EXDATE")
        lists = found if isinstance(found, list) else [found] if found is not None else []
        zone = ZoneInfo(tz) if tz else None
        days: list[date] = []
        for item in lists:
            for entry in getattr(item, "dts", []):
                value = entry.dt
                if isinstance(value, datetime):
                    if value.tzinfo is not None and zone is not None:
                        value = value.astimezone(zone)
                    value = value.date()
                if value not in days:
                    days.append(value)
        return tuple(sorted(days))

    def _cutoff(self) -> int:
        value = self.one(CUTOFF)
        if value is None:
            return 0
        text = str(value).strip()
        if not text.isdigit():
            self.problem(CUTOFF, f"'{text}' is not a whole number of minutes")
            return 0
        return int(text)

    def _scope(self) -> WindowScope:
        value = self.one(SCOPE)
        if value is None:
            return WindowScope()
        parsed = _json(str(value))
        if parsed is None:
            self.problem(SCOPE, "not JSON")
            return WindowScope()
        scope, problems = WindowScope.from_json(parsed, path=SCOPE)
        for path, message in problems:
            self.problems.append((f"{self.path}/{path}", message))
        return scope

    def _boolean(self, prop: str, *, default: bool) -> bool:
        value = self.one(prop)
        if value is None:
            return default
        text = str(value).strip().upper()
        if text not in ("TRUE", "FALSE"):
            self.problem(prop, "TRUE or FALSE")
            return default
        return text == "TRUE"

    def _approval_kinds(self) -> tuple[str, ...]:
        """The job kinds, separated by commas (escaped or not); the service checks them
        (``events/<n>/approval_kinds/<i>``)."""
        value = self.one(APPROVAL_KINDS)
        if value is None:
            return ()
        text = _unescape(str(value))
        return tuple(kind.strip() for kind in text.split(",") if kind.strip())


def _json(text: str) -> Any:
    """JSON as written, or as a program that escaped it as TEXT wrote it."""
    for candidate in (text, _unescape(text)):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None


def _unescape(text: str) -> str:
    return (
        text.replace("\\,", ",")
        .replace("\\;", ";")
        .replace("\\n", "\n")
        .replace("\\N", "\n")
        .replace("\\\\", "\\")
    )


def _zone_name(tzid: str) -> str | None:
    """An IANA zone for a TZID: itself, or the IANA zone of a Windows zone name."""
    tzid = tzid.strip().strip('"')
    if timezone_problem(tzid) is None:
        return tzid
    mapped = WINDOWS_TO_OLSON.get(tzid)
    if mapped and timezone_problem(mapped) is None:
        return str(mapped)
    return None
