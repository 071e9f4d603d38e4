"""Window recurrence: local wall time, the DST rule in three zones (north and south),
elapsed durations, monthly rules, exception dates, cutoffs, validation and the words.
Pure: no database."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from operations_app.windows import (
    WindowRule,
    describe,
    first_occurrence,
    format_occurrence,
    next_occurrence,
    normalize_rrule,
    occurrence_at,
    occurrences,
    validate_rule,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: str, *args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


def one_off(tz: str, day: date, at: time, minutes: int = 60, **kw) -> WindowRule:
    return WindowRule(tz=tz, start_date=day, start_time=at, duration_minutes=minutes, **kw)


def only(rule: WindowRule):
    occurrence = first_occurrence(rule)
    assert occurrence is not None
    return occurrence


# --------------------------------------------------------------------------- the DST rule


@pytest.mark.parametrize(
    ("tz", "day", "start", "expected_utc", "expected_local"),
    [
        # Spring forward: 02:00 -> 03:00; 02:30 does not exist and moves forward an hour.
        (BERLIN, date(2026, 3, 29), time(2, 30), utc(2026, 3, 29, 1, 30), "03:30 CEST"),
        (NEW_YORK, date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30), "03:30 EDT"),
        # Sydney's spring is in October: 02:00 AEST -> 03:00 AEDT.
        (SYDNEY, date(2026, 10, 4), time(2, 30), utc(2026, 10, 3, 16, 30), "03:30 AEDT"),
    ],
)
def test_a_start_in_the_gap_moves_forward_by_the_gap(tz, day, start, expected_utc, expected_local):
    occurrence = only(one_off(tz, day, start))
    assert occurrence.start == expected_utc
    assert occurrence.start.astimezone(ZoneInfo(tz)).strftime("%H:%M %Z") == expected_local


@pytest.mark.parametrize(
    ("tz", "day", "start", "expected_utc", "expected_local"),
    [
        # Fall back: the repeated local time is the first of the two (still summer time).
        (BERLIN, date(2026, 10, 25), time(2, 30), utc(2026, 10, 25, 0, 30), "02:30 CEST"),
        (NEW_YORK, date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30), "01:30 EDT"),
        # Sydney's autumn is in April: 03:00 AEDT -> 02:00 AEST.
        (SYDNEY, date(2026, 4, 5), time(2, 30), utc(2026, 4, 4, 15, 30), "02:30 AEDT"),
    ],
)
def test_a_repeated_start_is_the_first_of_the_two(tz, day, start, expected_utc, expected_local):
    occurrence = only(one_off(tz, day, start))
    assert occurrence.start == expected_utc
    assert occurrence.start.astimezone(ZoneInfo(tz)).strftime("%H:%M %Z") == expected_local


@pytest.mark.parametrize(
    ("tz", "day", "start", "end_local"),
    [
        # Clocks go back: 3 elapsed hours are 2 hours of wall clock.
        (BERLIN, date(2026, 10, 25), time(1, 0), (2026, 10, 25, 3, 0, "CET")),
        (NEW_YORK, date(2026, 11, 1), time(0, 0), (2026, 11, 1, 2, 0, "EST")),
        (SYDNEY, date(2026, 4, 5), time(1, 30), (2026, 4, 5, 3, 30, "AEST")),
        # Clocks go forward: 3 elapsed hours are 4 hours of wall clock.
        (BERLIN, date(2026, 3, 29), time(1, 0), (2026, 3, 29, 5, 0, "CEST")),
        (NEW_YORK, date(2026, 3, 8), time(1, 0), (2026, 3, 8, 5, 0, "EDT")),
        (SYDNEY, date(2026, 10, 4), time(1, 0), (2026, 10, 4, 5, 0, "AEDT")),
    ],
)
def test_durations_are_elapsed_time_across_a_change(tz, day, start, end_local):
    occurrence = only(one_off(tz, day, start, minutes=180))
    assert occurrence.end - occurrence.start == timedelta(hours=3)
    end = occurrence.end.astimezone(ZoneInfo(tz))
    *wall, name = end_local
    assert (end.year, end.month, end.day, end.hour, end.minute) == tuple(wall)
    assert end.tzname() == name


def test_a_weekly_window_keeps_its_local_time_through_the_changes():
    rule = WindowRule(NEW_YORK, date(2026, 3, 1), time(2, 30), 60, "FREQ=WEEKLY;BYDAY=SU")
    starts = [o.start for o in occurrences(rule, utc(2026, 3, 1), utc(2026, 3, 22))]
    assert starts == [
        utc(2026, 3, 1, 7, 30),  # 02:30 EST
        utc(2026, 3, 8, 7, 30),  # the gap: 03:30 EDT
        utc(2026, 3, 15, 6, 30),  # 02:30 EDT
    ]


def test_a_daily_window_in_sydney_across_both_changes():
    rule = WindowRule(SYDNEY, date(2026, 4, 3), time(2, 30), 30, "FREQ=DAILY;COUNT=3")
    assert [
        o.start.astimezone(ZoneInfo(SYDNEY)).strftime("%d %H:%M %Z")
        for o in occurrences(rule, utc(2026, 4, 1), utc(2026, 4, 10))
    ] == ["03 02:30 AEDT", "04 02:30 AEDT", "05 02:30 AEDT"]  # the 5th: the first 02:30
    october = WindowRule(SYDNEY, date(2026, 10, 3), time(2, 30), 30, "FREQ=DAILY;COUNT=3")
    assert [
        o.start.astimezone(ZoneInfo(SYDNEY)).strftime("%d %H:%M %Z")
        for o in occurrences(october, utc(2026, 10, 1), utc(2026, 10, 10))
    ] == ["03 02:30 AEST", "04 03:30 AEDT", "05 02:30 AEDT"]


# --------------------------------------------------------------------------- recurrence

SECOND_SATURDAY = WindowRule(
    BERLIN, date(2026, 1, 1), time(2, 0), 180, "FREQ=MONTHLY;BYDAY=2SA", cutoff_minutes=30
)


def test_the_second_saturday_of_each_month_at_two_local():
    found = occurrences(SECOND_SATURDAY, utc(2026, 1, 1), utc(2027, 1, 1))
    assert [o.start.astimezone(ZoneInfo(BERLIN)).day for o in found] == [
        10,
        14,
        14,
        11,
        9,
        13,
        11,
        8,
        12,
        10,
        14,
        12,
    ]
    assert all(o.start.astimezone(ZoneInfo(BERLIN)).hour == 2 for o in found)
    assert found[0].start == utc(2026, 1, 10, 1, 0)  # CET
    assert found[5].start == utc(2026, 6, 13, 0, 0)  # CEST


def test_exception_dates_skip_local_days():
    rule = WindowRule(
        BERLIN,
        date(2026, 1, 1),
        time(2, 0),
        180,
        "FREQ=MONTHLY;BYDAY=2SA",
        exdates=(date(2026, 2, 14), date(2026, 12, 12)),
    )
    days = [o.start.date() for o in occurrences(rule, utc(2026, 1, 1), utc(2027, 1, 1))]
    assert date(2026, 2, 14) not in days and date(2026, 12, 12) not in days
    assert len(days) == 10
    assert validate_rule(rule) == []


def test_the_cutoff_is_the_last_start():
    occurrence = occurrences(SECOND_SATURDAY, utc(2026, 1, 1), utc(2026, 2, 1))[0]
    assert occurrence.end == utc(2026, 1, 10, 4, 0)
    assert occurrence.last_start == utc(2026, 1, 10, 3, 30)


def test_occurrences_overlapping_a_range_and_a_limit():
    # A range that starts inside an occurrence includes it.
    found = occurrences(SECOND_SATURDAY, utc(2026, 1, 10, 3), utc(2026, 3, 1))
    assert [o.start for o in found] == [utc(2026, 1, 10, 1), utc(2026, 2, 14, 1)]
    assert len(occurrences(SECOND_SATURDAY, utc(2026, 1, 1), utc(2030, 1, 1), limit=3)) == 3
    assert occurrences(SECOND_SATURDAY, utc(2026, 2, 1), utc(2026, 1, 1)) == []


def test_occurrence_at_and_next_occurrence():
    assert occurrence_at(SECOND_SATURDAY, utc(2026, 1, 10, 0, 59)) is None
    assert occurrence_at(SECOND_SATURDAY, utc(2026, 1, 10, 1)).start == utc(2026, 1, 10, 1)
    assert occurrence_at(SECOND_SATURDAY, utc(2026, 1, 10, 4)) is None  # the end is open
    nxt = next_occurrence(SECOND_SATURDAY, utc(2026, 1, 10, 1))
    assert nxt.start == utc(2026, 2, 14, 1)
    same = next_occurrence(SECOND_SATURDAY, utc(2026, 1, 10, 1), inclusive=True)
    assert same.start == utc(2026, 1, 10, 1)
    # Any aware datetime will do; naive ones are refused.
    assert next_occurrence(SECOND_SATURDAY, local(NEW_YORK, 2026, 1, 1)).start == utc(
        2026, 1, 10, 1
    )
    with pytest.raises(ValueError):
        occurrences(SECOND_SATURDAY, datetime(2026, 1, 1), utc(2026, 2, 1))


def test_a_rule_that_ends():
    rule = WindowRule(BERLIN, date(2026, 1, 1), time(2, 0), 60, "FREQ=DAILY;UNTIL=20260103")
    assert len(occurrences(rule, utc(2025, 1, 1), utc(2027, 1, 1))) == 3  # the whole last day
    assert next_occurrence(rule, utc(2026, 1, 5)) is None
    one_off_rule = one_off(BERLIN, date(2026, 5, 1), time(22, 0))
    assert next_occurrence(one_off_rule, utc(2026, 6, 1)) is None


# --------------------------------------------------------------------------- validation


def problems(**changes):
    fields = {
        "tz": BERLIN,
        "start_date": date(2026, 1, 1),
        "start_time": time(2, 0),
        "duration_minutes": 180,
        "rrule": "FREQ=MONTHLY;BYDAY=2SA",
    } | changes
    return validate_rule(WindowRule(**fields))


def test_a_valid_rule_has_no_problems():
    assert problems() == []
    assert problems(rrule="") == []


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"tz": "Mars/Olympus_Mons"}, "timezone", "not an IANA time zone"),
        ({"tz": ""}, "timezone", "IANA"),
        ({"duration_minutes": 0}, "duration_minutes", "from 1 to 10080"),
        ({"duration_minutes": 10081}, "duration_minutes", "from 1 to 10080"),
        ({"cutoff_minutes": 180}, "cutoff_minutes", "shorter than the duration"),
        ({"cutoff_minutes": -1}, "cutoff_minutes", "0 or more"),
        ({"rrule": "FREQ=MONTHLY;BYDAY=2XX"}, "rrule", "not a weekday"),
        ({"rrule": "FREQ=SOMETIMES"}, "rrule", "not DAILY"),
        ({"rrule": "FREQ=HOURLY"}, "rrule", "at most daily"),
        ({"rrule": "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY"}, "rrule", "no DTSTART"),
        ({"rrule": "FREQ=DAILY;COUNT=0"}, "rrule", "COUNT=0"),
        ({"rrule": "FREQ=DAILY;COUNT=2;UNTIL=20270101"}, "rrule", "both"),
        ({"rrule": "BYDAY=MO"}, "rrule", "FREQ is missing"),
        ({"rrule": "FREQ=DAILY;FREQ=WEEKLY"}, "rrule", "twice"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=2SA"}, "rrule", "numbered weekday"),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rrule", "never occurs"),
        ({"rrule": "FREQ=DAILY;UNTIL=20251231"}, "rrule", "before the window's start"),
        ({"rrule": "FREQ=DAILY", "duration_minutes": 1500}, "duration_minutes", "overlap"),
        ({"exdates": (date(2026, 1, 11),)}, "exdates/0", "no occurrence on 2026-01-11"),
        ({"exdates": (date(2025, 12, 13),)}, "exdates/0", "before the start date"),
        (
            {"exdates": (date(2026, 1, 10), date(2026, 1, 10))},
            "exdates/1",
            "given twice",
        ),
        ({"rrule": "", "exdates": (date(2026, 1, 1),)}, "exdates", "skipped"),
        ({"rrule": "FREQ=DAILY;COUNT=1", "exdates": (date(2026, 1, 1),)}, "exdates", "skipped"),
        ({"start_date": date(1900, 1, 1)}, "start_date", "a year from"),
    ],
)
def test_problems_name_their_field(changes, field, words):
    found = problems(**changes)
    assert any(path == field and words in message for path, message in found), found


def test_a_daily_window_of_24_hours_overlaps_itself_when_the_clocks_go_forward():
    found = problems(rrule="FREQ=DAILY", duration_minutes=24 * 60, start_date=date(2026, 3, 1))
    assert found and found[0][0] == "duration_minutes"


def test_a_rule_that_never_matches_is_found_quickly():
    started = clock.monotonic()
    found = problems(rrule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")
    assert found[0][0] == "rrule" and "never occurs" in found[0][1]
    found = problems(rrule="FREQ=DAILY;BYSETPOS=2;BYDAY=MO")
    assert "never occurs" in found[0][1]
    assert clock.monotonic() - started < 3  # dateutil alone searches to the year 9999


def test_rrule_text_is_normalised():
    assert normalize_rrule(" rrule:byday=2sa;freq=monthly ") == "FREQ=MONTHLY;BYDAY=2SA"
    assert normalize_rrule("") == ""
    assert normalize_rrule("FREQ=WEEKLY;WKST=SU;INTERVAL=2") == "FREQ=WEEKLY;INTERVAL=2;WKST=SU"


# --------------------------------------------------------------------------- in words


@pytest.mark.parametrize(
    ("rrule", "words"),
    [
        ("FREQ=MONTHLY;BYDAY=2SA", "Second Saturday of every month, 02:00–05:00 Europe/Berlin"),
        ("FREQ=MONTHLY;BYDAY=-1SU", "Last Sunday of every month, 02:00–05:00 Europe/Berlin"),
        (
            "FREQ=MONTHLY;INTERVAL=3;BYDAY=1MO",
            "First Monday of every 3 months, 02:00–05:00 Europe/Berlin",
        ),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "The last day of every month, 02:00–05:00 Europe/Berlin"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "Day 1 and 15 of every month, 02:00–05:00 Europe/Berlin"),
        ("FREQ=MONTHLY", "Day 1 of every month, 02:00–05:00 Europe/Berlin"),
        ("FREQ=WEEKLY", "Every Thursday, 02:00–05:00 Europe/Berlin"),
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH",
            "Every 2 weeks on Tuesday and Thursday, 02:00–05:00 Europe/Berlin",
        ),
        ("FREQ=DAILY", "Every day, 02:00–05:00 Europe/Berlin"),
        (
            "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
            "Every weekday (Monday to Friday), 02:00–05:00 Europe/Berlin",
        ),
        ("FREQ=DAILY;INTERVAL=2", "Every 2 days, 02:00–05:00 Europe/Berlin"),
        (
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            "Last Sunday of March, every year, 02:00–05:00 Europe/Berlin",
        ),
        (
            "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24",
            "Every year on 24 December, 02:00–05:00 Europe/Berlin",
        ),
        ("FREQ=YEARLY", "Every year on 1 January, 02:00–05:00 Europe/Berlin"),
        (
            "FREQ=MONTHLY;BYDAY=2SA;COUNT=6",
            "Second Saturday of every month, 6 times, 02:00–05:00 Europe/Berlin",
        ),
        (
            "FREQ=MONTHLY;BYDAY=2SA;UNTIL=20271231",
            "Second Saturday of every month, until 31 December 2027, 02:00–05:00 Europe/Berlin",
        ),
        (
            "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR",
            "Repeats FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR, 02:00–05:00 Europe/Berlin",
        ),
        ("", "Once on Thu 1 Jan 2026, 02:00–05:00 Europe/Berlin"),
    ],
)
def test_describe(rrule, words):
    assert describe(WindowRule(BERLIN, date(2026, 1, 1), time(2, 0), 180, rrule)) == words


def test_describe_long_and_overnight_windows():
    overnight = WindowRule("UTC", date(2026, 1, 2), time(22, 0), 240, "FREQ=WEEKLY")
    assert describe(overnight) == "Every Friday, 22:00–02:00 next day UTC"
    weekend = WindowRule("UTC", date(2026, 1, 2), time(22, 0), 56 * 60, "FREQ=WEEKLY")
    assert describe(weekend) == "Every Friday, 22:00 for 2 days 8 h UTC"


def test_format_occurrence():
    occurrence = occurrences(SECOND_SATURDAY, utc(2026, 12, 1), utc(2027, 1, 1))[0]
    assert format_occurrence(occurrence, BERLIN) == "Sat 12 Dec 2026 02:00–05:00 CET"
    assert format_occurrence(occurrence, ZoneInfo("UTC")) == "Sat 12 Dec 2026 01:00–04:00 UTC"
    fall_back = only(one_off(BERLIN, date(2026, 10, 25), time(1, 0), minutes=180))
    assert format_occurrence(fall_back, BERLIN) == "Sun 25 Oct 2026 01:00 CEST–03:00 CET"
    weekend = only(one_off(BERLIN, date(2026, 12, 11), time(22, 0), minutes=32 * 60))
    assert format_occurrence(weekend, BERLIN) == "Fri 11 Dec 2026 22:00 – Sun 13 Dec 2026 06:00 CET"


def test_field_and_rrule_problems_are_reported_together():
    found = problems(tz="Nowhere/Land", rrule="FREQ=FORTNIGHTLY", duration_minutes=0)
    assert [path for path, _ in found] == ["timezone", "duration_minutes", "rrule"]
