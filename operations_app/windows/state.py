"""May work start now? Blackouts, maintenance windows and their cutoffs, decided.

The rules, for the windows that cover a platform or a VM:

1. **A blackout always wins.** While a blackout occurrence is open nothing may start.
2. Work may start only **inside an open maintenance occurrence, before its cutoff**
   (``start <= at < last_start``).
3. A maintenance window's cutoff also applies **before a blackout** that begins inside
   it: with a 30-minute cutoff and a blackout from 04:00, new work may start until 03:30.
4. Outside every maintenance occurrence nothing may start ("outside any maintenance
   window"), even when no window covers the target at all.

:func:`decide` answers for one instant, with the reason and the next instant work may
start. :func:`conflicts` lists maintenance occurrences that a blackout with an
overlapping scope cuts into; :func:`calendar_rows` lists every occurrence in a range.

Pure: no Django.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .recurrence import (
    MAX_DURATION_MINUTES,
    Occurrence,
    WindowRule,
    format_occurrence,
    occurrences,
)
from .scope import WindowScope, scopes_overlap
from .text import local_moment

MAINTENANCE = "maintenance"
BLACKOUT = "blackout"
KINDS = (MAINTENANCE, BLACKOUT)
OUTSIDE = "outside any maintenance window"

# How far ahead next_start looks, in widening steps (days). Any step gives the right
# answer for what it finds (an occurrence lasts at most a week and the blackouts are read
# _CUTOFF_MARGIN further); the short first one makes the common case cheap.
SEARCH_HORIZONS_DAYS = (2, 35, 400, 3660)
_CUTOFF_MARGIN = timedelta(days=8)  # more than the longest cutoff (under a week)
MAX_DURATION = timedelta(minutes=MAX_DURATION_MINUTES)


@dataclass(frozen=True)
class WindowEntry:
    """One window as the decisions see it."""

    name: str
    kind: str
    rule: WindowRule
    scope: WindowScope = field(default_factory=WindowScope)
    description: str = ""


@dataclass(frozen=True)
class WindowState:
    """The answer for one instant ``at``.

    ``may_start``: whether new work may start at ``at``. ``window``/``kind``/
    ``occurrence``: the window that decided it (the open blackout, or the maintenance
    occurrence ``at`` is in), or None. ``reason``: why, in words. ``next_start``: the
    first instant from ``at`` on when work may start (``at`` itself when it may now;
    None when no maintenance window opens within ten years). ``until``: when it may,
    the last instant it still may (the cutoff, or a blackout's start less the cutoff).
    """

    may_start: bool
    reason: str
    window: str | None = None
    kind: str | None = None
    occurrence: Occurrence | None = None
    next_start: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "may_start": self.may_start,
            "window": self.window,
            "kind": self.kind,
            "occurrence": self.occurrence,
            "reason": self.reason,
            "next_start": self.next_start,
            "until": self.until,
        }


@dataclass(frozen=True)
class OpenSpan:
    """A stretch ``[start, end)`` in which new work may start, inside ``occurrence`` of
    the maintenance window ``entry``."""

    start: datetime
    end: datetime
    entry: WindowEntry
    occurrence: Occurrence


Timed = tuple[WindowEntry, Occurrence]


def _timed(
    entries: Iterable[WindowEntry], kind: str, start: datetime, end: datetime
) -> list[Timed]:
    return [
        (entry, occ)
        for entry in entries
        if entry.kind == kind
        for occ in occurrences(entry.rule, start, end)
    ]


def open_spans(maintenance: Sequence[Timed], blackouts: Sequence[Timed]) -> list[OpenSpan]:
    """Where new work may start: each maintenance occurrence up to its cutoff, less each
    blackout (from its start less the maintenance cutoff to its end). Sorted.

    Only the blackouts that can touch an occurrence are looked at (found by their start,
    no occurrence being longer than ``MAX_DURATION``), so a large estate costs about
    maintenance x log(blackouts), not their product."""
    ordered = sorted((black for _, black in blackouts), key=lambda b: b.start)
    starts = [b.start for b in ordered]
    spans: list[OpenSpan] = []
    for entry, occ in maintenance:
        pieces = [(occ.start, occ.last_start)]
        lo = bisect_left(starts, occ.start - MAX_DURATION)
        hi = bisect_right(starts, occ.last_start + entry.rule.cutoff)
        for black in ordered[lo:hi]:
            cut_start, cut_end = black.start - entry.rule.cutoff, black.end
            pieces = [
                piece
                for lo, hi in pieces
                for piece in ((lo, min(hi, cut_start)), (max(lo, cut_end), hi))
                if piece[0] < piece[1]
            ]
        spans += [OpenSpan(lo, hi, entry, occ) for lo, hi in pieces]
    return sorted(spans, key=lambda s: (s.start, s.end))


def _spans_from(entries: Sequence[WindowEntry], at: datetime, days: int) -> list[OpenSpan]:
    horizon = at + timedelta(days=days)
    maintenance = _timed(entries, MAINTENANCE, at, horizon)
    blackouts = _timed(entries, BLACKOUT, at, horizon + _CUTOFF_MARGIN)
    return open_spans(maintenance, blackouts)


def _next_open(entries: Sequence[WindowEntry], at: datetime) -> OpenSpan | None:
    """The span open at ``at`` that stays open longest, else the first that opens later."""
    if not any(e.kind == MAINTENANCE for e in entries):
        return None
    for days in SEARCH_HORIZONS_DAYS:
        limit = at + timedelta(days=days)
        last = days == SEARCH_HORIZONS_DAYS[-1]
        spans = [s for s in _spans_from(entries, at, days) if s.end > at]
        now = [s for s in spans if s.start <= at]
        if now:
            return max(now, key=lambda s: s.end)
        if spans and (spans[0].start < limit or last):
            return spans[0]
    return None


def decide(entries: Sequence[WindowEntry], at: datetime) -> WindowState:
    """Whether new work may start at ``at`` under ``entries`` (the windows that cover
    the target; disabled ones left out by the caller)."""
    nxt = _next_open(entries, at)
    next_start = max(nxt.start, at) if nxt else None
    if nxt is not None and nxt.start <= at:
        return WindowState(
            may_start=True,
            reason=f"maintenance window '{nxt.entry.name}' is open; new work may start until "
            f"{local_moment(nxt.end, nxt.entry.rule.tz)}",
            window=nxt.entry.name,
            kind=MAINTENANCE,
            occurrence=nxt.occurrence,
            next_start=at,
            until=nxt.end,
        )
    instant = at + timedelta(microseconds=1)
    blackouts = _timed(entries, BLACKOUT, at, instant)
    if blackouts:
        entry, occ = max(blackouts, key=lambda t: t[1].end)
        return WindowState(
            may_start=False,
            reason=f"blackout '{entry.name}' until {local_moment(occ.end, entry.rule.tz)}",
            window=entry.name,
            kind=BLACKOUT,
            occurrence=occ,
            next_start=next_start,
        )
    maintenance = _timed(entries, MAINTENANCE, at, instant)
    if maintenance:
        entry, occ = max(maintenance, key=lambda t: t[1].end)
        return WindowState(
            may_start=False,
            reason=_closed_reason(entries, entry, occ, at),
            window=entry.name,
            kind=MAINTENANCE,
            occurrence=occ,
            next_start=next_start,
        )
    return WindowState(may_start=False, reason=OUTSIDE, next_start=next_start)


def _closed_reason(
    entries: Sequence[WindowEntry], entry: WindowEntry, occ: Occurrence, at: datetime
) -> str:
    """Why an open maintenance occurrence takes no new work at ``at``: its cutoff, or a
    blackout about to begin."""
    tz = entry.rule.tz
    minutes = entry.rule.cutoff_minutes
    if at >= occ.last_start:
        return (
            f"maintenance window '{entry.name}' takes no new work in its last {minutes} "
            f"minutes (from {local_moment(occ.last_start, tz)})"
        )
    coming = _timed(entries, BLACKOUT, at, at + entry.rule.cutoff + timedelta(microseconds=1))
    if coming:
        black_entry, black = min(coming, key=lambda t: t[1].start)
        return (
            f"blackout '{black_entry.name}' begins at {local_moment(black.start, tz)}; "
            f"maintenance window '{entry.name}' takes no new work {minutes} minutes before"
        )
    return f"maintenance window '{entry.name}' takes no new work now"


# --------------------------------------------------------------------------- conflicts


@dataclass(frozen=True)
class Conflict:
    """A maintenance occurrence that a blackout (with an overlapping scope) cuts into."""

    maintenance: WindowEntry
    maintenance_occurrence: Occurrence
    blackout: WindowEntry
    blackout_occurrence: Occurrence

    def describe(self) -> str:
        m, b = self.maintenance, self.blackout
        return (
            f"blackout '{b.name}' ({format_occurrence(self.blackout_occurrence, b.rule.tz)}) "
            f"overlaps maintenance window '{m.name}' "
            f"({format_occurrence(self.maintenance_occurrence, m.rule.tz)})"
        )


def conflicts(entries: Sequence[WindowEntry], start: datetime, end: datetime) -> list[Conflict]:
    """Each maintenance occurrence in ``[start, end)`` overlapped by a blackout
    occurrence whose scope overlaps the maintenance window's; by time."""
    maintenance = _timed(entries, MAINTENANCE, start, end)
    blackouts = _timed(entries, BLACKOUT, start, end)
    found = [
        Conflict(m_entry, m_occ, b_entry, b_occ)
        for m_entry, m_occ in maintenance
        for b_entry, b_occ in blackouts
        if b_occ.overlaps(m_occ.start, m_occ.end) and scopes_overlap(m_entry.scope, b_entry.scope)
    ]
    return sorted(
        found,
        key=lambda c: (c.maintenance_occurrence.start, c.maintenance.name, c.blackout.name),
    )


# --------------------------------------------------------------------------- the calendar


@dataclass(frozen=True)
class CalendarRow:
    """One occurrence for a calendar: ``text`` is its local time in the window's zone."""

    name: str
    kind: str
    timezone: str
    occurrence: Occurrence
    text: str
    description: str = ""


def calendar_rows(
    entries: Iterable[WindowEntry], start: datetime, end: datetime
) -> list[CalendarRow]:
    """Every occurrence overlapping ``[start, end)``, by start time (blackouts first at
    the same time), then name."""
    rows = [
        CalendarRow(
            name=entry.name,
            kind=entry.kind,
            timezone=entry.rule.tz,
            occurrence=occ,
            text=format_occurrence(occ, entry.rule.tz),
            description=entry.description,
        )
        for entry in entries
        for occ in occurrences(entry.rule, start, end)
    ]
    return sorted(rows, key=lambda r: (r.occurrence.start, r.kind != BLACKOUT, r.name))
