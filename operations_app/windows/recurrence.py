"""When a window is open: its occurrences, in local wall time, across time-zone changes.

A window's rule (:class:`WindowRule`) is a start in *local* time (a date and a time of
day in an IANA time zone), a duration, an optional RRULE and exception dates. The
recurrence is worked out in local wall time: dateutil's ``rrule`` runs over naive local
datetimes from the start date and time, exception dates (local dates) drop occurrences,
and only then is each start placed on the time line with ``zoneinfo``. So "02:00 on the
second Saturday" stays 02:00 local all year, in winter and in summer time.

Daylight saving time: the one rule
-----------------------------------

- **A local start time that does not exist** (the clocks jump over it when summer time
  begins) **is moved forward by the length of the jump**: 02:30 in Europe/Berlin on the
  last Sunday of March (02:00 -> 03:00) starts at 03:30 CEST; 02:30 in America/New_York
  on the second Sunday of March starts at 03:30 EDT. This is what ``zoneinfo`` gives a
  local time in the gap with ``fold=0`` (the offset from before the change), the same as
  reading the wall clock as if the change had not happened yet.
- **A local start time that happens twice** (the clocks go back over it when summer
  time ends) **is the first of the two** (``fold=0``, still summer time): 02:30 in
  Australia/Sydney on the first Sunday of April starts at 02:30 AEDT (UTC+11), not an
  hour later at 02:30 AEST.
- **A duration is elapsed time.** A 3-hour window from 01:00 on the night the clocks
  go back ends 3 real hours later, at 03:00 on the new clock (2 hours later on the wall
  clock); on the night they go forward, at 05:00 (4 hours later on the wall clock). The
  cutoff is elapsed time too: ``last_start = end - cutoff``.
- **An exception date is a local date**: it drops the occurrence the rule puts on that
  day in local wall time (before any DST shift).

Every datetime this module returns is aware and in UTC; every datetime it takes must be
aware (any zone). Pure: no Django.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.rrule import rrulebase, rrulestr

from .rrules import parse_rrule
from .text import describe, format_occurrence

__all__ = [
    "MAX_DURATION_MINUTES",
    "Occurrence",
    "WindowRule",
    "describe",
    "first_occurrence",
    "format_occurrence",
    "next_occurrence",
    "occurrence_at",
    "occurrences",
    "timezone_problem",
    "validate_rule",
]

MAX_DURATION_MINUTES = 7 * 24 * 60  # a week
MIN_YEAR, MAX_YEAR = 1970, 2999
MAX_EXDATES = 1000
# A local wall time is at most a day away from the same instant in UTC (any zone).
_SLACK = timedelta(days=1)
# The Gregorian calendar repeats itself every 400 years (146097 days, a whole number of
# weeks), so a rule's occurrences 400*k years later are the same ones shifted.
_CYCLE_YEARS = 400
_NEVER_HORIZON_YEARS = 60
_OVERLAP_SAMPLE = 500


@dataclass(frozen=True)
class WindowRule:
    """When a window is open, in local time: ``tz`` is an IANA zone name, ``start_date``
    and ``start_time`` the first start (local wall time), ``rrule`` an RFC 5545 RRULE
    without DTSTART ("" for a one-off), ``exdates`` local dates whose occurrence is
    skipped, ``cutoff_minutes`` the last minutes of each occurrence in which no new
    operation starts."""

    tz: str
    start_date: date
    start_time: time
    duration_minutes: int
    rrule: str = ""
    exdates: tuple[date, ...] = ()
    cutoff_minutes: int = 0

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def cutoff(self) -> timedelta:
        return timedelta(minutes=self.cutoff_minutes)

    @property
    def local_start(self) -> datetime:
        """The first start as a naive local datetime (DTSTART)."""
        return datetime.combine(self.start_date, self.start_time)


@dataclass(frozen=True)
class Occurrence:
    """One opening of a window: ``start`` to ``end`` (aware, UTC); no new operation
    starts at or after ``last_start`` (``end`` minus the cutoff)."""

    start: datetime
    end: datetime
    last_start: datetime

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and self.end > start


# --------------------------------------------------------------------------- the time line


def to_utc(local: datetime, zone: tzinfo) -> datetime:
    """A naive local wall time placed on the time line by the DST rule above: a time in
    the gap moves forward by the gap, a repeated time is the first (``fold=0``)."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def to_local(at: datetime, zone: tzinfo) -> datetime:
    """An aware datetime as naive local wall time in ``zone``."""
    return at.astimezone(zone).replace(tzinfo=None)


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value


def _occurrence(rule: WindowRule, local_start: datetime, zone: tzinfo) -> Occurrence:
    start = to_utc(local_start, zone)
    end = start + rule.duration
    return Occurrence(start=start, end=end, last_start=end - rule.cutoff)


# --------------------------------------------------------------------------- the recurrence


def _local_until(value: str, zone: tzinfo) -> datetime:
    """UNTIL as naive local wall time: a date is the whole local day, a UTC time is
    converted to the zone, a floating time is local already."""
    if len(value) == 8:
        return datetime.strptime(value, "%Y%m%d").replace(hour=23, minute=59, second=59)
    if value.endswith("Z"):
        return to_local(datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC), zone)
    return datetime.strptime(value, "%Y%m%dT%H%M%S")


@lru_cache(maxsize=512)
def _compile(text: str, dtstart: datetime, tz: str, year_shift: int = 0) -> rrulebase:
    """The dateutil rule over naive local datetimes from ``dtstart``; ``year_shift``
    moves the whole rule that many years later (for the bounded checks)."""
    parts, problems = parse_rrule(text)
    if problems:
        raise ValueError("; ".join(problems))
    parts.setdefault("WKST", "MO")  # RFC 5545's default, whatever the locale's
    if "UNTIL" in parts:
        until = _local_until(parts["UNTIL"], ZoneInfo(tz))
        if year_shift:
            # Whole 400-year cycles keep 29 February; past 9999 means "no end".
            until = (
                until.replace(year=until.year + year_shift)
                if until.year + year_shift <= 9999
                else datetime(9999, 12, 31, 23, 59, 59)
            )
        parts["UNTIL"] = until.strftime("%Y%m%dT%H%M%S")
    if year_shift:
        dtstart = dtstart.replace(year=dtstart.year + year_shift)
    rule_text = ";".join(f"{k}={v}" for k, v in parts.items())
    return rrulestr(rule_text, dtstart=dtstart)


def _local_starts(rule: WindowRule, after: datetime | None = None) -> Iterator[datetime]:
    """The naive local starts (exception dates removed), from ``after`` (inclusive) on."""
    skipped = set(rule.exdates)
    if not rule.rrule:
        candidates: Iterator[datetime] = iter([rule.local_start])
    else:
        compiled = _compile(rule.rrule, rule.local_start, rule.tz)
        candidates = iter(compiled) if after is None else compiled.xafter(after, inc=True)
    for local in candidates:
        if after is not None and local < after:
            continue
        if local.date() not in skipped:
            yield local


# --------------------------------------------------------------------------- the queries


def occurrences(
    rule: WindowRule, start: datetime, end: datetime, *, limit: int | None = None
) -> list[Occurrence]:
    """The occurrences that overlap ``[start, end)``, in order (at most ``limit``)."""
    _aware(start, "start")
    _aware(end, "end")
    if end <= start:
        return []
    zone = rule.zone
    low = to_local(start, zone) - rule.duration - _SLACK
    high = to_local(end, zone) + _SLACK
    found: list[Occurrence] = []
    for local in _local_starts(rule, low):
        if local > high:
            break
        occurrence = _occurrence(rule, local, zone)
        if occurrence.overlaps(start, end):
            found.append(occurrence)
            if limit is not None and len(found) >= limit:
                break
    return found


def occurrence_at(rule: WindowRule, at: datetime) -> Occurrence | None:
    """The occurrence open at ``at`` (start <= at < end), or None. Should two overlap,
    the one that ends last."""
    _aware(at, "at")
    found = occurrences(rule, at, at + timedelta(microseconds=1))
    return max(found, key=lambda o: o.end) if found else None


def next_occurrence(
    rule: WindowRule, after: datetime, *, inclusive: bool = False
) -> Occurrence | None:
    """The first occurrence that starts after ``after`` (or at it, with ``inclusive``),
    or None when the rule has no more."""
    _aware(after, "after")
    zone = rule.zone
    for local in _local_starts(rule, to_local(after, zone) - _SLACK):
        occurrence = _occurrence(rule, local, zone)
        if occurrence.start > after or (inclusive and occurrence.start == after):
            return occurrence
    return None


def first_occurrence(rule: WindowRule) -> Occurrence | None:
    """The rule's first occurrence (exception dates skipped), or None."""
    for local in _local_starts(rule):
        return _occurrence(rule, local, rule.zone)
    return None


# --------------------------------------------------------------------------- validation

Problem = tuple[str, str]


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_problem(tz: object) -> str | None:
    """Why ``tz`` is not an IANA time zone name, or None."""
    if not isinstance(tz, str) or not tz:
        return "an IANA time zone name, e.g. Europe/Berlin"
    if tz not in _zone_names():
        return f"'{tz}' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return f"'{tz}' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"
    return None


def validate_rule(rule: WindowRule) -> list[Problem]:
    """Every problem of ``rule`` as (field, message); an empty list when it is valid.

    The fields are the model's: ``timezone``, ``start_date``, ``start_time``,
    ``duration_minutes``, ``rrule``, ``exdates/<n>``, ``cutoff_minutes``.
    """
    problems = _field_problems(rule)
    if isinstance(rule.rrule, str):
        problems += [("rrule", p) for p in parse_rrule(rule.rrule)[1]]
    if problems:
        return problems
    try:
        if rule.rrule:
            _compile(rule.rrule, rule.local_start, rule.tz)
    except (ValueError, KeyError, TypeError, IndexError, OverflowError) as exc:
        return [("rrule", f"dateutil cannot read this rule: {exc}")]
    problems += _exdate_problems(rule)
    if problems:
        return problems
    return _occurrence_problems(rule)


def _field_problems(rule: WindowRule) -> list[Problem]:
    problems: list[Problem] = []
    tz_problem = timezone_problem(rule.tz)
    if tz_problem:
        problems.append(("timezone", tz_problem))
    if not isinstance(rule.start_date, date) or isinstance(rule.start_date, datetime):
        problems.append(("start_date", "a date, e.g. 2026-12-12"))
    elif not MIN_YEAR <= rule.start_date.year <= MAX_YEAR:
        problems.append(("start_date", f"a year from {MIN_YEAR} to {MAX_YEAR}"))
    if not isinstance(rule.start_time, time) or rule.start_time.tzinfo is not None:
        problems.append(("start_time", "a local time of day, e.g. 02:00 (no time zone)"))
    duration = rule.duration_minutes
    duration_ok = _is_int(duration) and 1 <= duration <= MAX_DURATION_MINUTES
    if not duration_ok:
        problems.append(
            ("duration_minutes", f"a whole number of minutes from 1 to {MAX_DURATION_MINUTES}")
        )
    cutoff = rule.cutoff_minutes
    if not _is_int(cutoff) or cutoff < 0:
        problems.append(("cutoff_minutes", "a whole number of minutes, 0 or more"))
    elif duration_ok and cutoff >= duration:
        problems.append(
            ("cutoff_minutes", f"must be shorter than the duration ({duration} minutes)")
        )
    if not isinstance(rule.rrule, str):
        problems.append(("rrule", "RRULE text, e.g. FREQ=MONTHLY;BYDAY=2SA"))
    if not isinstance(rule.exdates, tuple | list):
        problems.append(("exdates", "a list of dates"))
    return problems


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _exdate_problems(rule: WindowRule) -> list[Problem]:
    problems: list[Problem] = []
    if len(rule.exdates) > MAX_EXDATES:
        return [("exdates", f"at most {MAX_EXDATES} exception dates")]
    seen: set[date] = set()
    for index, day in enumerate(rule.exdates):
        path = f"exdates/{index}"
        if not isinstance(day, date) or isinstance(day, datetime):
            problems.append((path, "a date, e.g. 2026-12-12"))
        elif day in seen:
            problems.append((path, f"{day.isoformat()} is given twice"))
        elif day < rule.start_date:
            problems.append((path, f"{day.isoformat()} is before the start date"))
        elif day.year > rule.start_date.year + 100:
            problems.append((path, f"{day.isoformat()} is more than 100 years after the start"))
        elif not _occurs_on(rule, day):
            problems.append((path, f"the window has no occurrence on {day.isoformat()} to skip"))
        if isinstance(day, date):
            seen.add(day)
    return problems


def _occurs_on(rule: WindowRule, day: date) -> bool:
    """Whether the rule (exception dates aside) starts an occurrence on local ``day``."""
    if not rule.rrule:
        return day == rule.start_date
    compiled = _compile(rule.rrule, rule.local_start, rule.tz)
    first = datetime.combine(day, time.min)
    last = datetime.combine(day, time.max)
    return bool(compiled.between(first, last, inc=True))


def _occurrence_problems(rule: WindowRule) -> list[Problem]:
    if rule.rrule and not _occurs_at_all(rule):
        parts, _ = parse_rrule(rule.rrule)
        until = parts.get("UNTIL")
        if until and _local_until(until, rule.zone) < rule.local_start:
            return [("rrule", f"UNTIL={until} is before the window's start")]
        return [
            (
                "rrule",
                "the rule never occurs: no date from the start date on matches all of its parts",
            )
        ]
    if first_occurrence(rule) is None:
        if not rule.rrule:
            return [("exdates", "the one-off occurrence is skipped by its own exception date")]
        return [("exdates", "every occurrence of the rule is skipped by an exception date")]
    return _overlap_problems(rule)


def _overlap_problems(rule: WindowRule) -> list[Problem]:
    """Two occurrences may not overlap (checked over the first few hundred, exception
    dates aside, on the time line: a daily 24-hour window overlaps itself when the
    clocks go forward)."""
    every = replace(rule, exdates=())
    zone = rule.zone
    starts = itertools.islice(_local_starts(every), _OVERLAP_SAMPLE)
    occs = (_occurrence(rule, local, zone) for local in starts)
    for earlier, later in itertools.pairwise(occs):
        if later.start < earlier.end:
            local = to_local(later.start, zone)
            return [
                (
                    "duration_minutes",
                    f"occurrences overlap: the one starting {local:%Y-%m-%d %H:%M} begins "
                    "before the one before it ends; make the window shorter than the time "
                    "between two starts",
                )
            ]
    return []


def _occurs_at_all(rule: WindowRule) -> bool:
    """Whether the rule gives any start, checked in bounded time.

    dateutil searches to the year 9999 for a rule that never matches (seconds for a
    daily rule); the same rule moved by whole 400-year cycles towards 9999 gives the same
    occurrences shifted, and the search ends within a few centuries.
    """
    start_year = rule.start_date.year
    cycles = max(0, (9999 - _NEVER_HORIZON_YEARS - start_year) // _CYCLE_YEARS)
    try:
        compiled = _compile(rule.rrule, rule.local_start, rule.tz, cycles * _CYCLE_YEARS)
        return next(iter(compiled), None) is not None
    except (ValueError, OverflowError):
        return False
