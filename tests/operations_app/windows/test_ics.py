"""iCalendar export and import: a round trip keeps everything; bad input is refused with
the event's index and the property. Pure: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import icalendar
import pytest

from operations_app.windows import (
    IcsError,
    WindowData,
    WindowRule,
    WindowScope,
    from_ics,
    to_ics,
)

PATCHING = WindowData(
    name="payments-patching",
    kind="maintenance",
    rule=WindowRule(
        tz="Europe/Berlin",
        start_date=date(2026, 1, 1),
        start_time=time(2, 30),
        duration_minutes=180,
        rrule="FREQ=MONTHLY;BYDAY=2SA",
        exdates=(date(2026, 2, 14), date(2026, 12, 12)),
        cutoff_minutes=45,
    ),
    description="Patch night; kernels, firmware, and reboots.\nSecond line, with \\ backslash.",
    enabled=False,
    webhook_url="https://hooks.example.test/windows?team=payments;x=1",
    scope=WindowScope(
        platforms=("lab-a", "lab-b"),
        profiles=("web",),
        flags=("Production",),
        labels={"team": "payments", "example.com/tier": "gold"},
    ),
)
FREEZE = WindowData(
    name="month-end-freeze",
    kind="blackout",
    rule=WindowRule("America/New_York", date(2026, 3, 8), time(2, 30), 24 * 60, ""),
)
SYDNEY = WindowData(
    name="sydney-sundays",
    kind="maintenance",
    rule=WindowRule(
        "Australia/Sydney", date(2026, 4, 5), time(2, 30), 90, "FREQ=WEEKLY;UNTIL=20261231T130000Z"
    ),
)


def test_a_round_trip_keeps_everything():
    data = to_ics([PATCHING, FREEZE, SYDNEY])
    assert from_ics(data) == [PATCHING, FREEZE, SYDNEY]


def test_the_export_is_a_calendar_other_programs_read():
    calendar = icalendar.Calendar.from_ical(
        to_ics([PATCHING], stamp=datetime(2026, 1, 1, tzinfo=UTC))
    )
    event = next(iter(calendar.walk("VEVENT")))
    assert str(event["SUMMARY"]) == "payments-patching"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event["DTSTART"].dt.replace(tzinfo=None) == datetime(2026, 1, 1, 2, 30)
    assert event["DURATION"].dt.total_seconds() == 3 * 3600
    assert event["RRULE"].to_ical() == b"FREQ=MONTHLY;BYDAY=2SA"
    assert [str(c) for c in event["CATEGORIES"].cats] == ["maintenance"]
    assert str(event["X-VMPERSONA-CUTOFF"]) == "45"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert str(event["UID"]) == "payments-patching@vmpersona"


def calendar(*events: str) -> bytes:
    body = "\r\n".join(events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}\r\nEND:VCALENDAR\r\n".encode()


def event(*lines: str) -> str:
    return "\r\n".join(
        ["BEGIN:VEVENT", "UID:x@test", "DTSTAMP:20260101T000000Z", *lines, "END:VEVENT"]
    )


GOOD = (
    "SUMMARY:ok",
    "DTSTART;TZID=Europe/Berlin:20260101T020000",
    "DURATION:PT2H",
    "CATEGORIES:maintenance",
)


def test_what_other_programs_write_is_read():
    data = calendar(
        event(
            "SUMMARY:from-outlook",
            "DTSTART;TZID=W. Europe Standard Time:20260110T020000",
            "DTEND;TZID=W. Europe Standard Time:20260110T050000",
            "RRULE:BYDAY=2SA;FREQ=MONTHLY",
            "EXDATE;VALUE=DATE:20260214",
            "CATEGORIES:Work,BLACKOUT",
        ),
        event(
            "SUMMARY:in-utc", "DTSTART:20260101T220000Z", "DURATION:PT30M", "CATEGORIES:maintenance"
        ),
    )
    outlook, in_utc = from_ics(data)
    assert outlook.rule.tz == "Europe/Berlin"
    assert outlook.rule.duration_minutes == 180
    assert outlook.rule.rrule == "FREQ=MONTHLY;BYDAY=2SA"
    assert outlook.rule.exdates == (date(2026, 2, 14),)
    assert outlook.kind == "blackout"
    assert outlook.enabled is True and outlook.scope == WindowScope()
    assert in_utc.rule.tz == "UTC" and in_utc.rule.start_time == time(22, 0)


def test_dtend_is_elapsed_time_across_a_change():
    data = calendar(
        event(
            "SUMMARY:fall-back",
            "DTSTART;TZID=Europe/Berlin:20261025T010000",
            "DTEND;TZID=Europe/Berlin:20261025T030000",
            "CATEGORIES:maintenance",
        )
    )
    assert from_ics(data)[0].rule.duration_minutes == 180


@pytest.mark.parametrize(
    ("lines", "path", "words"),
    [
        (
            (
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
            ),
            "events/1/SUMMARY",
            "missing",
        ),
        (
            ("SUMMARY:x", "DTSTART;VALUE=DATE:20260101", "DURATION:P1D", "CATEGORIES:maintenance"),
            "events/1/DTSTART",
            "all-day",
        ),
        (
            ("SUMMARY:x", "DTSTART:20260101T020000", "DURATION:PT2H", "CATEGORIES:maintenance"),
            "events/1/DTSTART",
            "floating",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Mars/Base:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
            ),
            "events/1/DTSTART",
            "Mars/Base",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:2026010XT020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
            ),
            "events/1/DTSTART",
            "cannot be read",
        ),
        (
            ("SUMMARY:x", "DTSTART;TZID=Europe/Berlin:20260101T020000", "CATEGORIES:maintenance"),
            "events/1/DURATION",
            "missing",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT90S",
                "CATEGORIES:maintenance",
            ),
            "events/1/DURATION",
            "whole number of minutes",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "DTEND;TZID=Europe/Berlin:20260101T040000",
                "CATEGORIES:maintenance",
            ),
            "events/1/DTEND",
            "not both",
        ),
        (
            ("SUMMARY:x", "DTSTART;TZID=Europe/Berlin:20260101T020000", "DURATION:PT2H"),
            "events/1/CATEGORIES",
            "maintenance",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance,blackout",
            ),
            "events/1/CATEGORIES",
            "exactly one",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
                "RRULE:FREQ=HOURLY",
            ),
            "events/1/RRULE",
            "at most daily",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
                "RRULE:FREQ=DAILY",
                "RRULE:FREQ=WEEKLY",
            ),
            "events/1/RRULE",
            "given 2 times",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
                "RDATE:20260105T020000",
            ),
            "events/1/RDATE",
            "not supported",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
                "RRULE:FREQ=DAILY",
                "EXDATE;VALUE=DATE:20251201",
            ),
            "events/1/EXDATE/0",
            "before the start date",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
                "X-VMPERSONA-CUTOFF:120",
            ),
            "events/1/X-VMPERSONA-CUTOFF",
            "shorter than the duration",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
                "X-VMPERSONA-CUTOFF:soon",
            ),
            "events/1/X-VMPERSONA-CUTOFF",
            "whole number",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
                "X-VMPERSONA-SCOPE:{not json",
            ),
            "events/1/X-VMPERSONA-SCOPE",
            "not JSON",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
                'X-VMPERSONA-SCOPE:{"platforms": "lab-a"}',
            ),
            "events/1/X-VMPERSONA-SCOPE/platforms",
            "a list",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
                'X-VMPERSONA-SCOPE:{"hosts": []}',
            ),
            "events/1/X-VMPERSONA-SCOPE/hosts",
            "not a part",
        ),
        (
            (
                "SUMMARY:x",
                "DTSTART;TZID=Europe/Berlin:20260101T020000",
                "DURATION:PT2H",
                "CATEGORIES:maintenance",
                "X-VMPERSONA-ENABLED:maybe",
            ),
            "events/1/X-VMPERSONA-ENABLED",
            "TRUE or FALSE",
        ),
    ],
)
def test_bad_events_are_refused_with_index_and_property(lines, path, words):
    with pytest.raises(IcsError) as caught:
        from_ics(calendar(event(*GOOD), event(*lines)))
    assert any(p == path and words in m for p, m in caught.value.problems), caught.value.problems
    assert not any(p.startswith("events/0/") for p, _ in caught.value.problems)


def test_every_bad_event_is_reported_at_once():
    bad = ("SUMMARY:x", "DTSTART;TZID=Europe/Berlin:20260101T020000", "DURATION:PT2H")
    with pytest.raises(IcsError) as caught:
        from_ics(calendar(event(*bad), event(*GOOD), event(*bad)))
    assert [p for p, _ in caught.value.problems] == ["events/0/CATEGORIES", "events/2/CATEGORIES"]


@pytest.mark.parametrize(
    "data", [b"hello", b"", b"\xff\xfe", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"]
)
def test_what_is_not_a_calendar(data):
    with pytest.raises(IcsError) as caught:
        from_ics(data)
    assert caught.value.problems[0][0] == "ics"


def test_a_scope_escaped_as_text_by_another_program_is_read():
    data = calendar(
        event(*GOOD, 'X-VMPERSONA-SCOPE:{"platforms": ["a"\\, "b"]\\, "labels": {"k": "v"}}')
    )
    assert from_ics(data)[0].scope == WindowScope(platforms=("a", "b"), labels={"k": "v"})


@pytest.mark.parametrize(
    "tz", ["UTC", "Etc/UTC", "GMT", "Africa/Abidjan", "Asia/Kolkata", "America/St_Johns"]
)
def test_a_round_trip_keeps_the_zone_name(tz):
    window = WindowData(
        "daily",
        "maintenance",
        WindowRule(tz, date(2026, 1, 1), time(23, 30), 60, "FREQ=DAILY", (date(2026, 1, 3),)),
    )
    assert from_ics(to_ics([window])) == [window]
