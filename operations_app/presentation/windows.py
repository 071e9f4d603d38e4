"""How maintenance windows read on the pages (and in the CLI): a window's scope and
next occurrences in words, the calendar's days and agenda with their conflicts, and a
window's history as who changed what.

Pure functions from windows, occurrences and history records to what the templates
show; no queries (the callers pass rows with their scope prefetched) and no writes.
Times are shown in the window's own zone (``format_occurrence``) and, where it helps,
in the viewer's zone too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from operations_app.services.window_notices import WEBHOOK_ATTEMPTS
from operations_app.windows import (
    BLACKOUT,
    CalendarRow,
    Conflict,
    Occurrence,
    WindowRule,
    WindowScope,
    describe,
    format_occurrence,
    occurrence_at,
    occurrences,
)
from operations_app.windows.text import clock, short_date, span

# How far ahead "the next occurrences" look (a yearly window shows ten years).
HORIZON = timedelta(days=3660)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# --------------------------------------------------------------------------- a window


def scope_parts(scope: WindowScope) -> list[tuple[str, list[str]]]:
    """The scope's non-empty parts as (what, names): ``[("platforms", ["lab-a"]),
    ("labels", ["team=payments"])]``; empty when the window covers everything."""
    parts = [
        ("platforms", list(scope.platforms)),
        ("profiles", list(scope.profiles)),
        ("flags", list(scope.flags)),
        ("labels", [f"{k}={v}" for k, v in scope.labels.items()]),
    ]
    return [(what, names) for what, names in parts if names]


APPROVAL_KIND_WORDS = {
    "migrate": "migrations",
    "clone": "clones",
    "snapshot": "snapshots",
    "decommission": "decommissions",
}


def approval_text(required: bool, kinds: Sequence[str]) -> str:
    """A window's approval in words: "not required", "required for every job",
    "required for migrations and clones"."""
    if not required:
        return "not required"
    if not kinds:
        return "required for every job"
    words = [APPROVAL_KIND_WORDS.get(k, k) for k in kinds]
    listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
    return f"required for {listed}"


def scope_text(scope: WindowScope) -> str:
    """One line: "platforms lab-a, lab-b · labels team=payments", or "everything"."""
    parts = scope_parts(scope)
    if not parts:
        return "everything"
    return " · ".join(f"{what} {', '.join(names)}" for what, names in parts)


@dataclass(frozen=True)
class OccurrenceView:
    """One occurrence as a page shows it: in the window's zone, in UTC, and when the
    last new work may start (the cutoff)."""

    occurrence: Occurrence
    text: str
    utc_text: str
    cutoff_text: str
    is_open: bool = False


def occurrence_view(occurrence: Occurrence, rule: WindowRule, now: datetime) -> OccurrenceView:
    zone = ZoneInfo(rule.tz)
    cutoff = ""
    if rule.cutoff_minutes:
        cutoff = f"new work until {clock(occurrence.last_start.astimezone(zone))}"
    return OccurrenceView(
        occurrence=occurrence,
        text=format_occurrence(occurrence, rule.tz),
        utc_text=format_occurrence(occurrence, UTC),
        cutoff_text=cutoff,
        is_open=occurrence.contains(now),
    )


def next_occurrences(rule: WindowRule, now: datetime, count: int = 10) -> list[OccurrenceView]:
    """The occurrence open at ``now`` (if any) and the next ones, ``count`` in all."""
    found = occurrences(rule, now, now + HORIZON, limit=count)
    return [occurrence_view(o, rule, now) for o in found]


def window_row(window: Any, now: datetime) -> dict[str, Any]:
    """A window for the list: its rule in words, its next (or open) occurrence, its
    scope. ``window`` is a ``MaintenanceWindow`` with its scope prefetched."""
    rule = window.rule()
    upcoming = next_occurrences(rule, now, count=1)
    return {
        "window": window,
        "when": describe(rule),
        "next": upcoming[0] if upcoming else None,
        "open_now": occurrence_at(rule, now) is not None,
        "scope": scope_text(window.scope()),
        "approval": approval_text(window.approval_required, window.approval_kinds or ()),
    }


def _delivery(sent_at: Any, delivered_at: Any, attempts: int, has_webhook: bool) -> str:
    """How a reminder's or summary's webhook delivery went, in a word or three."""
    if sent_at is None:
        return ""
    if delivered_at is not None:
        return "delivered"
    if attempts >= WEBHOOK_ATTEMPTS:
        return f"failed ({attempts} attempts)"
    if attempts:
        return f"failed, retrying ({attempts} of {WEBHOOK_ATTEMPTS})"
    return "pending" if has_webhook else "no webhook"


def notice_rows(records: Iterable[Any], window: Any) -> list[dict[str, Any]]:
    """The window's recent occurrences as its page lists them: when, the jobs, whether
    the reminder and the summary went out and how their webhook deliveries went.
    ``records`` are ``WindowOccurrenceRecord`` rows of ``window``."""
    rows = []
    for record in records:
        span_ = Occurrence(
            start=record.occurrence_start,
            end=record.occurrence_end,
            last_start=record.occurrence_end,
        )
        payload = record.summary_payload or record.reminder_payload or {}
        jobs = [
            {
                "id": j.get("id"),
                "label": f"{j.get('kind', '')} {j.get('vm', '')}".strip(),
                "status": j.get("status", ""),
            }
            for j in payload.get("jobs", [])
            if isinstance(j, Mapping) and isinstance(j.get("id"), int)
        ]
        rows.append(
            {
                "text": format_occurrence(span_, window.timezone),
                "jobs": jobs,
                "reminded_at": record.reminded_at,
                "summarized_at": record.summarized_at,
                "reminder_webhook": _delivery(
                    record.reminded_at,
                    record.reminder_webhook_at,
                    record.reminder_webhook_attempts,
                    bool(window.webhook_url),
                ),
                "summary_webhook": _delivery(
                    record.summarized_at,
                    record.summary_webhook_at,
                    record.summary_webhook_attempts,
                    bool(window.webhook_url),
                ),
                "webhook_error": record.webhook_error,
                "webhook_error_at": record.webhook_error_at,
            }
        )
    return rows


def rule_preview(rule: WindowRule, now: datetime, count: int = 6) -> dict[str, Any]:
    """What the form's preview shows: the rule in words, its next occurrences from
    ``now`` (or its first ones when it starts later), and the duration."""
    upcoming = next_occurrences(rule, now, count=count)
    return {
        "describe": describe(rule),
        "rrule": rule.rrule,
        "duration": span(rule.duration_minutes),
        "cutoff": span(rule.cutoff_minutes) if rule.cutoff_minutes else "",
        "occurrences": upcoming,
        "timezone": rule.tz,
    }


# --------------------------------------------------------------------------- the calendar


@dataclass
class CalendarEntry:
    """One occurrence in the calendar. ``conflicts`` says what cuts into it (or what it
    cuts into, for a blackout); ``operations`` are the operations scheduled in it (for
    later: the calendar view passes them in, the template lists them)."""

    row: CalendarRow
    when: str  # in the viewer's zone
    local: str  # in the window's own zone
    time: str  # in the viewer's zone, without the day it starts on (the agenda's heading)
    same_zone: bool
    conflicts: list[str] = field(default_factory=list)
    operations: list[Any] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def kind(self) -> str:
        return self.row.kind

    @property
    def start(self) -> datetime:
        return self.row.occurrence.start

    @property
    def anchor(self) -> str:
        return f"o-{self.row.name}-{self.row.occurrence.start:%Y%m%dT%H%MZ}"


@dataclass
class CalendarDay:
    day: date
    today: bool
    in_range: bool
    # (entry, the time it shows that day: "02:00–05:00", "from 22:00", "until 06:00")
    items: list[tuple[CalendarEntry, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return short_date(self.day)

    @property
    def has_conflict(self) -> bool:
        return any(entry.conflicts for entry, _ in self.items)


def _conflict_notes(found: Iterable[Conflict]) -> dict[tuple[str, datetime], list[str]]:
    notes: dict[tuple[str, datetime], list[str]] = {}
    for c in found:
        m, b = c.maintenance, c.blackout
        m_key = (m.name, c.maintenance_occurrence.start)
        b_key = (b.name, c.blackout_occurrence.start)
        notes.setdefault(m_key, []).append(
            f"blackout '{b.name}' cuts into it "
            f"({format_occurrence(c.blackout_occurrence, b.rule.tz)})"
        )
        notes.setdefault(b_key, []).append(
            f"cuts into maintenance window '{m.name}' "
            f"({format_occurrence(c.maintenance_occurrence, m.rule.tz)})"
        )
    return notes


def _operations_by_occurrence(
    operations: Iterable[Any],
) -> dict[tuple[str, datetime], list[Any]]:
    """Operations keyed by (window name, occurrence start): each operation is a mapping
    or an object with ``window`` (a name) and ``start`` (the occurrence's start)."""
    found: dict[tuple[str, datetime], list[Any]] = {}
    for op in operations:
        get = op.get if isinstance(op, Mapping) else lambda key, op=op: getattr(op, key, None)
        window, start = get("window"), get("start")
        if window is not None and start is not None:
            found.setdefault((str(window), start), []).append(op)
    return found


def _span_on(occ: Occurrence, day_start: datetime, day_end: datetime, zone: ZoneInfo) -> str:
    starts, ends = occ.start >= day_start, occ.end <= day_end
    start, end = clock(occ.start.astimezone(zone)), clock(occ.end.astimezone(zone))
    if starts and ends:
        return f"{start}\u2013{end}"
    if starts:
        return f"from {start}"
    if ends:
        return f"until {end}"
    return "all day"


def _without_day(occ: Occurrence, zone: ZoneInfo, first_day: date) -> str:
    """The occurrence in ``zone`` without the day it starts on: "04:00–08:00 CET",
    "22:00 – Tue 7 Jan 2031 02:00 CET"; whole when it starts before ``first_day``."""
    text = format_occurrence(occ, zone)
    day = occ.start.astimezone(zone).date()
    prefix = short_date(day) + " "
    return text[len(prefix) :] if day >= first_day and text.startswith(prefix) else text


def calendar_view(
    rows: Sequence[CalendarRow],
    found_conflicts: Iterable[Conflict],
    *,
    first_day: date,
    weeks: int,
    zone: ZoneInfo,
    today: date,
    operations: Iterable[Any] = (),
) -> dict[str, Any]:
    """The calendar page: ``weeks`` (lists of seven days from the Monday on or before
    ``first_day``, each day with the occurrences open on it in ``zone``), ``agenda``
    (each day with the occurrences that start on it) and ``conflicts`` (in words).

    ``rows`` and ``found_conflicts`` cover ``first_day`` to ``first_day + weeks``
    (``selectors.windows.calendar`` and ``window_conflicts``); ``operations`` are listed
    under the occurrence they are scheduled in (see ``_operations_by_occurrence``).
    """
    found_conflicts = list(found_conflicts)
    notes = _conflict_notes(found_conflicts)
    scheduled = _operations_by_occurrence(operations)
    zone_name = str(zone.key)
    entries = [
        CalendarEntry(
            row=row,
            when=format_occurrence(row.occurrence, zone),
            local=row.text,
            time=_without_day(row.occurrence, zone, first_day),
            same_zone=row.timezone == zone_name,
            conflicts=notes.get((row.name, row.occurrence.start), []),
            operations=scheduled.get((row.name, row.occurrence.start), []),
        )
        for row in rows
    ]
    last_day = first_day + timedelta(days=7 * weeks - 1)
    grid_start = first_day - timedelta(days=first_day.weekday())
    grid_end = last_day + timedelta(days=6 - last_day.weekday())
    days: list[CalendarDay] = []
    day = grid_start
    while day <= grid_end:
        day_start = datetime.combine(day, time.min, zone).astimezone(UTC)
        day_end = datetime.combine(day + timedelta(days=1), time.min, zone).astimezone(UTC)
        in_range = first_day <= day <= last_day
        cell = CalendarDay(day=day, today=day == today, in_range=in_range)
        if in_range:
            cell.items = [
                (e, _span_on(e.row.occurrence, day_start, day_end, zone))
                for e in entries
                if e.row.occurrence.overlaps(day_start, day_end)
            ]
        days.append(cell)
        day += timedelta(days=1)
    agenda: dict[date, list[CalendarEntry]] = {}
    for entry in entries:
        start_day = entry.start.astimezone(zone).date()
        agenda.setdefault(max(start_day, first_day), []).append(entry)
    return {
        "weeks": [days[i : i + 7] for i in range(0, len(days), 7)],
        "day_names": DAY_NAMES,
        "agenda": [
            {"day": d, "label": short_date(d), "entries": agenda[d]} for d in sorted(agenda)
        ],
        "conflicts": [c.describe() for c in found_conflicts],
        "entries": entries,
        "first_day": first_day,
        "last_day": last_day,
        "blackouts": sum(1 for e in entries if e.kind == BLACKOUT),
    }


# --------------------------------------------------------------------------- history

FIELD_LABELS = {
    "name": "name",
    "kind": "kind",
    "timezone": "time zone",
    "start_date": "start date",
    "start_time": "start time",
    "duration_minutes": "duration",
    "rrule": "recurrence",
    "exdates": "exception dates",
    "cutoff_minutes": "cutoff",
    "enabled": "enabled",
    "description": "description",
    "webhook_url": "webhook",
    "platforms": "platforms",
    "profiles": "profiles",
    "execution_flags": "execution flags",
    "labels": "labels",
    "approval_required": "approval required",
    "approval_kinds": "approval for",
}
HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def value_text(key: str, value: Any) -> str:
    """A setting as the history shows it; "—" for an empty one."""
    if key == "approval_kinds" and value in (None, []):
        return "every job"
    if value in (None, "", [], {}):
        return "one-off" if key == "rrule" else "—"
    if key in ("duration_minutes", "cutoff_minutes"):
        return span(int(value))
    if key in ("enabled", "approval_required"):
        return "yes" if value else "no"
    if key == "start_time" and isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def history_entries(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``selectors.windows.window_history``'s records, newest first, each with its
    ``changes``: (setting, before, after) for what differs from the record before."""
    entries = []
    previous: Mapping[str, Any] | None = None
    for record in records:
        values = record["values"]
        changes = []
        if previous is not None:
            for key, label in FIELD_LABELS.items():
                old, new = previous.get(key), values.get(key)
                if old != new:
                    changes.append((label, value_text(key, old), value_text(key, new)))
        entries.append(
            {
                "when": record["when"],
                "user": record["user"],
                "type": HISTORY_TYPES.get(record["type"], record["type"]),
                "reason": record["reason"],
                "changes": changes,
            }
        )
        previous = values
    return list(reversed(entries))
