"""RRULE text (RFC 5545 section 3.3.10) without DTSTART: read, checked, normalised.

A window's recurrence is one RRULE value such as ``FREQ=MONTHLY;BYDAY=2SA``; its start
is the window's own start date and time, so ``DTSTART`` (and any other property) is
refused. :func:`parse_rrule` splits the text into its parts and says what is wrong with
it; :func:`normalize_rrule` writes the parts in one order, upper case, so that the same
rule always reads the same (and survives an iCalendar round trip unchanged).

Pure: no Django.
"""

from __future__ import annotations

import re

# The parts RFC 5545 defines, in the order normalize_rrule writes them.
PART_ORDER = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "BYSETPOS",
    "WKST",
)
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
TOO_FREQUENT = ("HOURLY", "MINUTELY", "SECONDLY")
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_INTERVAL = 1000
MAX_COUNT = 100_000

_UNTIL = re.compile(r"\d{8}(T\d{6}Z?)?")
_BYDAY_ITEM = re.compile(r"([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_INT = re.compile(r"[+-]?\d{1,6}")

# (part, lowest, highest, may be negative)
_INT_LISTS = {
    "BYMONTH": (1, 12, False),
    "BYWEEKNO": (1, 53, True),
    "BYYEARDAY": (1, 366, True),
    "BYMONTHDAY": (1, 31, True),
    "BYHOUR": (0, 23, False),
    "BYMINUTE": (0, 59, False),
    "BYSECOND": (0, 59, False),
    "BYSETPOS": (1, 366, True),
}
# Parts RFC 5545 allows only with some frequencies.
_ONLY_WITH = {
    "BYWEEKNO": ("YEARLY",),
    "BYYEARDAY": ("YEARLY",),
    "BYMONTHDAY": ("DAILY", "MONTHLY", "YEARLY"),
}


def strip_prefix(text: str) -> str:
    """The rule text without surrounding space and an ``RRULE:`` prefix."""
    text = (text or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :].strip()
    return text


def parse_rrule(text: str) -> tuple[dict[str, str], list[str]]:
    """The parts of an RRULE (upper-case names and values) and the problems of its text.

    An empty text is a one-off window: no parts, no problems. The checks are RFC 5545's
    grammar and ranges and the product's own limits (a window repeats at most daily).
    """
    text = strip_prefix(text)
    if not text:
        return {}, []
    problems: list[str] = []
    if "DTSTART" in text.upper():
        return {}, [
            "no DTSTART here: the window's start date and start time are where the "
            "recurrence starts"
        ]
    if ":" in text or "\n" in text or "\r" in text:
        return {}, ["one RRULE value such as FREQ=MONTHLY;BYDAY=2SA, without other properties"]
    parts: dict[str, str] = {}
    for raw in text.split(";"):
        item = raw.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        name, value = name.strip().upper(), value.strip().upper()
        if not eq or not name or not value:
            problems.append(f"'{item}' is not NAME=VALUE")
        elif name not in PART_ORDER:
            problems.append(f"'{name}' is not an RRULE part ({', '.join(PART_ORDER)})")
        elif name in parts:
            problems.append(f"{name} is given twice")
        else:
            parts[name] = value
    if problems:
        return parts, problems
    return parts, _part_problems(parts)


def normalize_rrule(text: str) -> str:
    """The rule in canonical form: parts in ``PART_ORDER``, upper case, no prefix; ""
    for a one-off. Text with problems comes back stripped but otherwise as given."""
    parts, problems = parse_rrule(text)
    if problems:
        return strip_prefix(text)
    return join_parts(parts)


def join_parts(parts: dict[str, str]) -> str:
    return ";".join(f"{name}={parts[name]}" for name in PART_ORDER if name in parts)


def _part_problems(parts: dict[str, str]) -> list[str]:
    problems: list[str] = []
    freq = parts.get("FREQ")
    if freq is None:
        return ["FREQ is missing (DAILY, WEEKLY, MONTHLY or YEARLY)"]
    if freq in TOO_FREQUENT:
        return [
            f"FREQ={freq}: a window repeats at most daily (DAILY, WEEKLY, MONTHLY or "
            "YEARLY; BYHOUR gives several starts a day)"
        ]
    if freq not in FREQUENCIES:
        return [f"FREQ={freq} is not DAILY, WEEKLY, MONTHLY or YEARLY"]
    problems += _count_interval_until(parts)
    for name, allowed in _ONLY_WITH.items():
        if name in parts and freq not in allowed:
            problems.append(f"{name} cannot be used with FREQ={freq}")
    for name, (low, high, negative) in _INT_LISTS.items():
        if name in parts:
            problems += _int_list_problems(name, parts[name], low, high, negative)
    if "BYDAY" in parts:
        problems += _byday_problems(parts["BYDAY"], freq, "BYWEEKNO" in parts)
    if "WKST" in parts and parts["WKST"] not in WEEKDAY_CODES:
        problems.append(f"WKST={parts['WKST']} is not one of {', '.join(WEEKDAY_CODES)}")
    if "BYSETPOS" in parts and not any(
        p in parts for p in PART_ORDER if p.startswith("BY") and p != "BYSETPOS"
    ):
        problems.append("BYSETPOS needs another BY... part to pick from")
    return problems


def _count_interval_until(parts: dict[str, str]) -> list[str]:
    problems: list[str] = []
    if "INTERVAL" in parts:
        value = parts["INTERVAL"]
        if not value.isdigit() or not 1 <= int(value) <= MAX_INTERVAL:
            problems.append(f"INTERVAL={value}: a whole number from 1 to {MAX_INTERVAL}")
    if "COUNT" in parts:
        value = parts["COUNT"]
        if not value.isdigit() or not 1 <= int(value) <= MAX_COUNT:
            problems.append(f"COUNT={value}: a whole number from 1 to {MAX_COUNT}")
    if "UNTIL" in parts:
        if not _UNTIL.fullmatch(parts["UNTIL"]):
            problems.append(
                f"UNTIL={parts['UNTIL']}: a date (20261231), a local date and time "
                "(20261231T235959) or a UTC one (20261231T235959Z)"
            )
        if "COUNT" in parts:
            problems.append("COUNT and UNTIL cannot both be given")
    return problems


def _int_list_problems(name: str, value: str, low: int, high: int, negative: bool) -> list[str]:
    for item in value.split(","):
        if not _INT.fullmatch(item):
            return [f"{name}={value}: '{item}' is not a whole number"]
        number = int(item)
        if abs(number) < low or abs(number) > high or (number < 0 and not negative):
            span = f"{low} to {high}" + (f" or -{high} to -{low}" if negative else "")
            return [f"{name}={value}: {number} is not within {span}"]
    return []


def _byday_problems(value: str, freq: str, with_weekno: bool) -> list[str]:
    limit = {"MONTHLY": 5, "YEARLY": 53}.get(freq)
    for item in value.split(","):
        match = _BYDAY_ITEM.fullmatch(item)
        if match is None:
            return [
                f"BYDAY={value}: '{item}' is not a weekday (MO ... SU), optionally numbered (2SA, -1SU)"
            ]
        if match.group(2) is None:
            if match.group(1):
                return [f"BYDAY={value}: '{item}' has a sign but no number"]
            continue
        number = int(match.group(2))
        if limit is None or with_weekno:
            why = "with BYWEEKNO" if with_weekno else f"with FREQ={freq}"
            return [f"BYDAY={value}: a numbered weekday ('{item}') is not allowed {why}"]
        if not 1 <= number <= limit:
            return [
                f"BYDAY={value}: '{item}': the number runs from 1 to {limit} (or -1 to -{limit})"
            ]
    return []


def weekday_items(value: str) -> list[tuple[int | None, str]]:
    """BYDAY's items as (ordinal or None, weekday code): ``2SA`` is (2, "SA")."""
    items: list[tuple[int | None, str]] = []
    for item in value.split(","):
        match = _BYDAY_ITEM.fullmatch(item)
        if match is None:
            continue
        number = int(match.group(1) + match.group(2)) if match.group(2) else None
        items.append((number, match.group(3)))
    return items
