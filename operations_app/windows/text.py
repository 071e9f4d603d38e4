"""Windows in words, in English, whatever the server's locale:

    describe(rule)            "Second Saturday of every month, 02:00–05:00 Europe/Berlin"
    format_occurrence(o, tz)  "Sat 13 Dec 2026 02:00–05:00 CET"

dateutil has no renderer for rules, so this is a small one: FREQ DAILY, WEEKLY, MONTHLY
and YEARLY with INTERVAL, BYDAY (plain and numbered: ``2SA``, ``-1SU``), BYMONTHDAY,
BYMONTH, UNTIL and COUNT. Anything else reads as its RRULE text ("Repeats FREQ=...").

Pure: no Django. Takes any object with the rule's attributes (``WindowRule``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .rrules import parse_rrule, weekday_items

if TYPE_CHECKING:
    from .recurrence import Occurrence, WindowRule

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_ABBREVIATIONS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = dict(zip(CODES, DAY_NAMES, strict=True))
_ORDINAL_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
_DESCRIBED = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "UNTIL", "COUNT", "WKST"}
DASH = "\u2013"  # en dash


# --------------------------------------------------------------------------- small words


def ordinal(n: int) -> str:
    """first, second, ... fifth, 6th, 21st; last, second-to-last, 6th-to-last."""
    if n < 0:
        return "last" if n == -1 else f"{ordinal(-n)}-to-last"
    if n in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[n]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def join_words(words: list[str]) -> str:
    """a; a and b; a, b and c."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def short_date(day: date) -> str:
    """Sat 13 Dec 2026."""
    return (
        f"{DAY_ABBREVIATIONS[day.weekday()]} {day.day} {MONTH_NAMES[day.month - 1][:3]} {day.year}"
    )


def long_date(day: date) -> str:
    """13 December 2026."""
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


def clock(moment: datetime) -> str:
    """02:00, or 02:00:30 when there are seconds."""
    return moment.strftime("%H:%M:%S" if moment.second else "%H:%M")


def span(minutes: int) -> str:
    """90 -> "1 h 30 min"; 2880 -> "2 days"."""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day" + ("s" if days != 1 else ""))
    if hours:
        parts.append(f"{hours} h")
    if mins or not parts:
        parts.append(f"{mins} min")
    return " ".join(parts)


# --------------------------------------------------------------------------- describe


def describe(rule: WindowRule) -> str:
    """When the window is open, in words, e.g. "Second Saturday of every month,
    02:00–05:00 Europe/Berlin" or "Once on Sat 13 Dec 2026, 02:00–05:00 UTC"."""
    return f"{_recurrence_words(rule)}, {time_range(rule)} {rule.tz}"


def time_range(rule: WindowRule) -> str:
    """02:00–05:00; 22:00–02:00 next day; 22:00 for 2 days 8 h (local wall clock)."""
    start = datetime.combine(date(2000, 1, 1), rule.start_time)
    if rule.duration_minutes >= 24 * 60:
        return f"{clock(start)} for {span(rule.duration_minutes)}"
    end = start + timedelta(minutes=rule.duration_minutes)
    later = " next day" if end.date() != start.date() else ""
    return f"{clock(start)}{DASH}{clock(end)}{later}"


def _recurrence_words(rule: WindowRule) -> str:
    if not rule.rrule:
        return f"Once on {short_date(rule.start_date)}"
    parts, problems = parse_rrule(rule.rrule)
    words = None if problems or set(parts) - _DESCRIBED else _rule_words(parts, rule.start_date)
    if words is None:
        return f"Repeats {rule.rrule}"
    words = words[0].upper() + words[1:]
    if "UNTIL" in parts:
        words += f", until {_until_words(parts['UNTIL'])}"
    if "COUNT" in parts:
        count = int(parts["COUNT"])
        words += ", once" if count == 1 else f", {count} times"
    return words


def _until_words(value: str) -> str:
    day = date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    if len(value) == 8:
        return long_date(day)
    hhmm = f"{value[9:11]}:{value[11:13]}"
    return f"{long_date(day)} {hhmm}" + (" UTC" if value.endswith("Z") else "")


def _rule_words(parts: dict[str, str], start: date) -> str | None:
    freq = parts["FREQ"]
    interval = int(parts.get("INTERVAL", "1"))
    days = weekday_items(parts["BYDAY"]) if "BYDAY" in parts else []
    monthdays = [int(d) for d in parts["BYMONTHDAY"].split(",")] if "BYMONTHDAY" in parts else []
    months = [int(m) for m in parts["BYMONTH"].split(",")] if "BYMONTH" in parts else []
    if freq == "DAILY":
        return _daily(interval, days, monthdays, months)
    if freq == "WEEKLY":
        return _weekly(interval, days or [(None, CODES[start.weekday()])], months)
    if freq == "MONTHLY":
        return _monthly(interval, days, monthdays or ([] if days else [start.day]), months)
    if freq == "YEARLY":
        return _yearly(interval, days, monthdays, months, start)
    return None


def _every(interval: int, unit: str) -> str:
    return f"every {unit}" if interval == 1 else f"every {interval} {unit}s"


def _plain_days(days: list[tuple[int | None, str]]) -> str | None:
    if any(n is not None for n, _ in days):
        return None
    return join_words([WEEKDAY_NAMES[code] for _, code in days])


def _in_months(months: list[int]) -> str:
    return f" in {join_words([MONTH_NAMES[m - 1] for m in months])}" if months else ""


def _monthday_words(monthdays: list[int]) -> str:
    """day 1 and 15; the last day; day 1 and the last day."""
    words = [
        ("the last day" if d == -1 else f"the {ordinal(-d)}-to-last day") if d < 0 else f"day {d}"
        for d in monthdays
    ]
    text = join_words(words)
    return text.replace(" and day ", " and ").replace(", day ", ", ")


def _daily(interval, days, monthdays, months) -> str | None:
    base = _every(interval, "day")
    if days:
        names = _plain_days(days)
        if names is None:
            return None
        weekdays = [code for _, code in days]
        if interval == 1 and sorted(weekdays, key=CODES.index) == list(CODES[:5]):
            base = "every weekday (Monday to Friday)"
        else:
            base = f"{base} on {names}" if interval > 1 else f"every {names}"
    if monthdays:
        base += f", on {_monthday_words(monthdays)} of the month"
    return base + _in_months(months)


def _weekly(interval, days, months) -> str | None:
    names = _plain_days(days)
    if names is None:
        return None
    base = f"every {names}" if interval == 1 else f"every {interval} weeks on {names}"
    return base + _in_months(months)


def _numbered_days(days) -> str | None:
    if not days or any(n is None for n, _ in days):
        return None
    return join_words([f"{ordinal(n)} {WEEKDAY_NAMES[code]}" for n, code in days])


def _monthly(interval, days, monthdays, months) -> str | None:
    period = _every(interval, "month")
    if days and monthdays:
        return None
    if days:
        numbered = _numbered_days(days)
        if numbered is not None:
            return f"{numbered} of {period}{_in_months(months)}"
        names = _plain_days(days)
        if names is None:
            return None
        return f"every {names}, {period}{_in_months(months)}"
    return f"{_monthday_words(monthdays)} of {period}{_in_months(months)}"


def _yearly(interval, days, monthdays, months, start: date) -> str | None:
    period = _every(interval, "year")
    if days and monthdays:
        return None
    if days:
        numbered = _numbered_days(days)
        if numbered is None:
            return None
        where = join_words([MONTH_NAMES[m - 1] for m in months]) if months else "the year"
        return f"{numbered} of {where}, {period}"
    if not monthdays:  # dateutil's defaults: the start's day (and month)
        monthdays, months = [start.day], months or [start.month]
    if not months:
        return None
    month_names = join_words([MONTH_NAMES[m - 1] for m in months])
    if len(monthdays) == 1 and monthdays[0] > 0:
        return f"{period} on {monthdays[0]} {month_names}"
    return f"{period} on {_monthday_words(monthdays)} of {month_names}"


# --------------------------------------------------------------------------- occurrences


def _zone(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def local_moment(moment: datetime, tz: str | tzinfo) -> str:
    """Sat 13 Dec 2026 02:00 CET."""
    local = moment.astimezone(_zone(tz))
    return f"{short_date(local.date())} {clock(local)} {local.tzname()}"


def format_occurrence(occurrence: Occurrence, tz: str | tzinfo) -> str:
    """An occurrence in the zone's local time: "Sat 13 Dec 2026 02:00–05:00 CET";
    "Sun 25 Oct 2026 01:00 CEST–03:00 CET" across a change of offset; "Fri 11 Dec 2026
    22:00 – Sun 13 Dec 2026 06:00 CET" across days."""
    zone = _zone(tz)
    start = occurrence.start.astimezone(zone)
    end = occurrence.end.astimezone(zone)
    day = short_date(start.date())
    if start.date() != end.date():
        start_name = "" if start.tzname() == end.tzname() else f" {start.tzname()}"
        return (
            f"{day} {clock(start)}{start_name} {DASH} "
            f"{short_date(end.date())} {clock(end)} {end.tzname()}"
        )
    if start.tzname() != end.tzname():
        return f"{day} {clock(start)} {start.tzname()}{DASH}{clock(end)} {end.tzname()}"
    return f"{day} {clock(start)}{DASH}{clock(end)} {end.tzname()}"
