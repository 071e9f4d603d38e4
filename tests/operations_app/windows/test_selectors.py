"""Which windows cover a platform or a VM, whether work may start on it, the calendar
and conflicts, from the rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from operations_app.models import ManagedVM
from operations_app.selectors import windows as window_selectors
from operations_app.services import windows as window_services
from tests.operations_app.job_support import approved_version, make_platform, managed_vm

pytestmark = pytest.mark.django_db

HAS_LABELS = any(f.name == "labels" for f in ManagedVM._meta.fields)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def window(users, name: str, **data):
    fields = {
        "name": name,
        "timezone": "UTC",
        "start_date": "2026-01-03",
        "start_time": "01:00",
        "duration_minutes": 240,
        "rrule": "FREQ=WEEKLY;BYDAY=SA",
        **data,
    }
    return window_services.window_create(user=users["operator"], data=fields)


@pytest.fixture
def fleet(users):
    lab_a, lab_b = make_platform("lab-a"), make_platform("lab-b")
    web = approved_version(users, "web", flags=("Production",))
    db = approved_version(users, "db", flags=("Testing",))
    extra = {"labels": {"team": "payments"}} if HAS_LABELS else {}
    return {
        "lab-a": lab_a,
        "lab-b": lab_b,
        "web-1": managed_vm(web, lab_a, "web-1", execution_flags=["Production"], **extra),
        "db-1": managed_vm(db, lab_b, "db-1", execution_flags=["Testing"]),
    }


def names(windows) -> list[str]:
    return [w.name for w in windows]


def test_windows_for_match_platform_profile_flag_and_label(users, fleet):
    window(users, "everything")
    window(users, "lab-a-only", platforms=["lab-a"])
    window(users, "web-profile", profiles=["web"])
    window(users, "production", execution_flags=["Production"])
    window(users, "payments", labels={"team": "payments"})
    window(users, "switched-off", enabled=False)
    web_expected = ["everything", "lab-a-only", "production", "web-profile"]
    if HAS_LABELS:
        web_expected.insert(2, "payments")
    assert names(window_selectors.windows_for(vm=fleet["web-1"])) == web_expected
    assert names(window_selectors.windows_for(vm=fleet["db-1"])) == ["everything"]
    # A platform: only platform (and label) scopes; profiles and flags concern VMs.
    assert names(window_selectors.windows_for(platform=fleet["lab-a"])) == [
        "everything",
        "lab-a-only",
    ]
    assert names(window_selectors.windows_for(platform=fleet["lab-b"])) == ["everything"]
    # With ``at``: only the ones open then.
    window(users, "sundays", rrule="FREQ=WEEKLY;BYDAY=SU")
    assert "sundays" not in names(
        window_selectors.windows_for(vm=fleet["db-1"], at=utc(2026, 1, 10, 2))
    )
    assert names(window_selectors.windows_for(vm=fleet["db-1"], at=utc(2026, 1, 11, 2))) == [
        "sundays"
    ]


def test_window_state_blackout_wins_for_a_vm(users, fleet):
    window(users, "saturday-patching", cutoff_minutes=30)
    window(
        users,
        "production-freeze",
        kind="blackout",
        execution_flags=["Production"],
        rrule="",
        start_date="2026-01-10",
        start_time="00:00",
        duration_minutes=24 * 60,
    )
    at = utc(2026, 1, 10, 2)
    web = window_selectors.window_state(vm=fleet["web-1"], at=at)
    assert web["may_start"] is False and web["window"] == "production-freeze"
    assert web["reason"].startswith("blackout 'production-freeze' until Sun 11 Jan 2026 00:00")
    assert web["next_start"] == utc(2026, 1, 17, 1)
    db = window_selectors.window_state(vm=fleet["db-1"], at=at)  # not Production: open
    assert db["may_start"] is True and db["window"] == "saturday-patching"
    assert db["until"] == utc(2026, 1, 10, 4, 30)
    late = window_selectors.window_state(vm=fleet["db-1"], at=utc(2026, 1, 10, 4, 40))
    assert late["may_start"] is False and "last 30 minutes" in late["reason"]
    outside = window_selectors.window_state(platform=fleet["lab-b"], at=utc(2026, 1, 12))
    assert outside["may_start"] is False
    assert outside["reason"] == "outside any maintenance window"


def test_calendar_and_conflicts(users, fleet):
    patching = window(users, "saturday-patching")
    window(
        users,
        "month-end-freeze",
        kind="blackout",
        timezone="Europe/Berlin",
        start_date="2026-01-01",
        start_time="00:00",
        duration_minutes=24 * 60,
        rrule="FREQ=MONTHLY;BYMONTHDAY=-1",
    )
    window(users, "switched-off", enabled=False)
    rows = window_selectors.calendar(utc(2026, 1, 24), utc(2026, 2, 1))
    assert [(r.name, r.text) for r in rows] == [
        ("saturday-patching", "Sat 24 Jan 2026 01:00–05:00 UTC"),
        ("month-end-freeze", "Sat 31 Jan 2026 00:00 – Sun 1 Feb 2026 00:00 CET"),
        ("saturday-patching", "Sat 31 Jan 2026 01:00–05:00 UTC"),
    ]
    only = window_selectors.calendar(utc(2026, 1, 24), utc(2026, 2, 1), windows=[patching])
    assert len(only) == 2
    found = window_selectors.window_conflicts(utc(2026, 1, 1), utc(2026, 2, 1))
    assert [(c.maintenance.name, c.blackout.name) for c in found] == [
        ("saturday-patching", "month-end-freeze")
    ]
    assert window_selectors.window_occurrences(patching, utc(2026, 1, 1), utc(2026, 1, 11))[
        -1
    ].start == utc(2026, 1, 10, 1)


def test_reads_take_a_constant_number_of_queries(users, fleet, django_assert_max_num_queries):
    for n in range(6):
        window(users, f"w{n}", platforms=["lab-a"], profiles=["web"])
    vm = ManagedVM.objects.select_related("platform", "profile_version__policy").get(name="web-1")
    with django_assert_max_num_queries(3):
        window_selectors.window_state(vm=vm, at=utc(2026, 1, 10, 2))
    with django_assert_max_num_queries(3):
        window_selectors.calendar(utc(2026, 1, 1), utc(2026, 2, 1))
