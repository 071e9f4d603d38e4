"""Maintenance windows: when work may run, when nothing may start. Pure, no Django.

- ``recurrence``: a window's rule (:class:`WindowRule`: a local start, a duration, an
  RRULE, exception dates, a cutoff) and its occurrences on the time line, across
  daylight saving changes (the DST rule is in that module's docstring and in
  docs/windows.md); ``validate_rule``, ``describe``, ``format_occurrence``.
- ``rrules``: RRULE text read, checked and normalised.
- ``scope``: what a window covers (:class:`WindowScope`, :func:`covers`).
- ``state``: whether work may start at an instant (:func:`decide`: a blackout wins),
  conflicts, calendar rows.
- ``ics``: iCalendar export and import (:class:`WindowData`).

``services.windows`` and ``selectors.windows`` feed these from the rows.
"""

from .ics import IcsError, WindowData, from_ics, to_ics
from .recurrence import (
    MAX_DURATION_MINUTES,
    Occurrence,
    WindowRule,
    describe,
    first_occurrence,
    format_occurrence,
    next_occurrence,
    occurrence_at,
    occurrences,
    timezone_problem,
    validate_rule,
)
from .rrules import normalize_rrule, parse_rrule
from .scope import ScopeTarget, WindowScope, covers, scopes_overlap
from .state import (
    BLACKOUT,
    KINDS,
    MAINTENANCE,
    OUTSIDE,
    CalendarRow,
    Conflict,
    WindowEntry,
    WindowState,
    calendar_rows,
    conflicts,
    decide,
)

__all__ = [
    "BLACKOUT",
    "KINDS",
    "MAINTENANCE",
    "MAX_DURATION_MINUTES",
    "OUTSIDE",
    "CalendarRow",
    "Conflict",
    "IcsError",
    "Occurrence",
    "ScopeTarget",
    "WindowData",
    "WindowEntry",
    "WindowRule",
    "WindowScope",
    "WindowState",
    "calendar_rows",
    "conflicts",
    "covers",
    "decide",
    "describe",
    "first_occurrence",
    "format_occurrence",
    "from_ics",
    "next_occurrence",
    "normalize_rrule",
    "occurrence_at",
    "occurrences",
    "parse_rrule",
    "scopes_overlap",
    "timezone_problem",
    "to_ics",
    "validate_rule",
]
