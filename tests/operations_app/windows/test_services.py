"""The windows service: who may write, validation with paths, one history row per change
(by its user, scope included), iCalendar import (all or nothing) and export."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.core.exceptions import ValidationError

from operations_app.models import MaintenanceWindow
from operations_app.services import windows as window_services
from operations_app.windows import WindowRule, from_ics
from tests.operations_app.job_support import approved_version, make_platform
from vmpersona.errors import NotPermitted, error_list

pytestmark = pytest.mark.django_db

PATCHING = {
    "name": "payments-patching",
    "kind": "maintenance",
    "timezone": "Europe/Berlin",
    "start_date": "2026-01-01",
    "start_time": "02:00",
    "duration_minutes": 180,
    "rrule": "freq=monthly;byday=2sa",
    "exdates": ["2026-12-12", "2026-02-14"],
    "cutoff_minutes": 30,
    "description": "Second Saturday patch night.",
    "webhook_url": "https://hooks.example.test/windows",
    "execution_flags": ["Production"],
    "labels": {"team": "payments"},
}


@pytest.fixture
def scope_rows(users):
    return {
        "platform": make_platform("lab-a"),
        "other": make_platform("lab-b"),
        "profile": approved_version(users, "web").policy,
    }


def paths(exc: ValidationError) -> dict[str, str]:
    return {e["path"]: e["message"] for e in error_list(exc)}


def test_an_operator_creates_a_window(users, scope_rows):
    window = window_services.window_create(
        user=users["operator"],
        data={**PATCHING, "platforms": ["lab-a"], "profiles": ["web"]},
    )
    window.refresh_from_db()
    assert window.rrule == "FREQ=MONTHLY;BYDAY=2SA"  # normalised
    assert window.exdates == ["2026-02-14", "2026-12-12"]  # sorted ISO dates
    assert window.start_time == time(2, 0) and window.start_date == date(2026, 1, 1)
    assert window.created_by == users["operator"]
    assert [p.name for p in window.platforms.all()] == ["lab-a"]
    assert [p.name for p in window.profiles.all()] == ["web"]
    assert window.rule() == WindowRule(
        "Europe/Berlin",
        date(2026, 1, 1),
        time(2, 0),
        180,
        "FREQ=MONTHLY;BYDAY=2SA",
        (date(2026, 2, 14), date(2026, 12, 12)),
        30,
    )
    scope = window.scope()
    assert scope.platforms == ("lab-a",) and scope.profiles == ("web",)
    assert scope.flags == ("Production",) and scope.labels == {"team": "payments"}


def test_viewers_and_authors_may_not_write(users):
    for name in ("viewer", "author"):
        with pytest.raises(NotPermitted):
            window_services.window_create(user=users[name], data=PATCHING)
    window = window_services.window_create(user=users["operator"], data=PATCHING)
    with pytest.raises(NotPermitted):
        window_services.window_update(user=users["viewer"], window=window, data={"enabled": False})
    with pytest.raises(NotPermitted):
        window_services.window_delete(user=users["viewer"], window=window)
    with pytest.raises(NotPermitted):
        window_services.windows_import_ics(
            user=users["viewer"], data=window_services.windows_export_ics([window])
        )
    assert MaintenanceWindow.objects.count() == 1


def test_every_problem_at_once_with_its_path(users, scope_rows):
    with pytest.raises(ValidationError) as caught:
        window_services.window_create(
            user=users["operator"],
            data={
                **PATCHING,
                "name": "Not A Slug",
                "kind": "sometimes",
                "start_time": "25:00",
                "exdates": ["2026-02-14", "not-a-date"],
                "webhook_url": "ftp://example.test/",
                "platforms": ["lab-a", "lab-x"],
                "profiles": ["nope"],
                "execution_flags": ["PRODUCTION"],
                "labels": {"team": "pay ments"},
                "colour": "red",
            },
        )
    found = paths(caught.value)
    assert set(found) == {
        "name",
        "kind",
        "start_time",
        "exdates/1",
        "webhook_url",
        "platforms/1",
        "profiles/0",
        "execution_flags/0",
        "labels/team",
        "colour",
    }
    assert "lab-x" in found["platforms/1"]


def test_rule_problems_come_with_their_field(users):
    with pytest.raises(ValidationError) as caught:
        window_services.window_create(
            user=users["operator"],
            data={**PATCHING, "timezone": "Europe/Nowhere", "cutoff_minutes": 500},
        )
    assert set(paths(caught.value)) == {"timezone", "cutoff_minutes"}
    with pytest.raises(ValidationError) as caught:
        window_services.window_create(
            user=users["operator"], data={**PATCHING, "exdates": ["2026-02-15"]}
        )
    assert "no occurrence on 2026-02-15" in paths(caught.value)["exdates/0"]
    with pytest.raises(ValidationError) as caught:
        window_services.window_create(user=users["operator"], data={"name": "x"})
    assert set(paths(caught.value)) == {"timezone", "start_date", "start_time", "duration_minutes"}


def test_names_are_unique(users):
    window_services.window_create(user=users["operator"], data=PATCHING)
    with pytest.raises(ValidationError) as caught:
        window_services.window_create(user=users["operator"], data=PATCHING)
    assert "already exists" in paths(caught.value)["name"]


def test_history_records_each_change_with_its_user_and_scope(users, scope_rows):
    window = window_services.window_create(
        user=users["operator"], data={**PATCHING, "platforms": ["lab-a"]}
    )
    window = window_services.window_update(
        user=users["admin"],
        window=window,
        data={"platforms": ["lab-a", "lab-b"], "cutoff_minutes": 15, "start_time": "03:00"},
    )
    window_services.window_update(user=users["admin"], window=window, data={"cutoff_minutes": 15})
    rows = list(window.history.order_by("history_date", "history_id"))
    assert [(r.history_type, r.history_user.username) for r in rows] == [
        ("+", "operator"),
        ("~", "admin"),
    ]  # one row per change; a change that changes nothing records nothing
    assert rows[1].history_change_reason == "changed: cutoff_minutes, platforms, start_time"
    assert [p.platform.name for p in rows[0].platforms.all()] == ["lab-a"]
    assert sorted(p.platform.name for p in rows[1].platforms.all()) == ["lab-a", "lab-b"]
    assert rows[1].cutoff_minutes == 15
    window_services.window_delete(user=users["operator"], window=window)
    last = MaintenanceWindow.history.filter(name=PATCHING["name"]).latest("history_date")
    assert (last.history_type, last.history_user, last.history_change_reason) == (
        "-",
        users["operator"],
        "window deleted",
    )
    assert not MaintenanceWindow.objects.exists()


def test_update_checks_the_rule_as_a_whole(users):
    window = window_services.window_create(user=users["operator"], data=PATCHING)
    with pytest.raises(ValidationError) as caught:
        window_services.window_update(
            user=users["operator"], window=window, data={"duration_minutes": 20}
        )
    assert "shorter than the duration" in paths(caught.value)["cutoff_minutes"]
    window_services.window_update(
        user=users["operator"], window=window, data={"name": "renamed", "enabled": False}
    )
    window.refresh_from_db()
    assert (window.name, window.enabled) == ("renamed", False)


# --------------------------------------------------------------------------- iCalendar


def test_export_and_import_round_trip(users, scope_rows):
    window = window_services.window_create(
        user=users["operator"],
        data={**PATCHING, "platforms": ["lab-a", "lab-b"], "profiles": ["web"]},
    )
    blackout = window_services.window_create(
        user=users["operator"],
        data={
            "name": "year-end-freeze",
            "kind": "blackout",
            "timezone": "America/New_York",
            "start_date": date(2026, 12, 20),
            "start_time": time(0, 0),
            "duration_minutes": 7 * 24 * 60,
            "rrule": "FREQ=YEARLY",
        },
    )
    exported = window_services.windows_export_ics(MaintenanceWindow.objects.all())
    before = [w.data() for w in (window, blackout)]  # by name
    assert from_ics(exported) == before
    MaintenanceWindow.objects.all().delete()
    imported = window_services.windows_import_ics(user=users["operator"], data=exported)
    assert [w.data() for w in imported] == before
    assert imported[0].history.get().history_change_reason == "imported from iCalendar"
    assert imported[0].history.get().history_user == users["operator"]


def test_import_refuses_existing_names_unless_replacing(users, scope_rows):
    window = window_services.window_create(user=users["operator"], data=PATCHING)
    exported = window_services.windows_export_ics([window])
    with pytest.raises(ValidationError) as caught:
        window_services.windows_import_ics(user=users["operator"], data=exported)
    assert "already exists" in paths(caught.value)["events/0/SUMMARY"]
    window_services.window_update(
        user=users["operator"], window=window, data={"cutoff_minutes": 0, "platforms": ["lab-a"]}
    )
    (replaced,) = window_services.windows_import_ics(
        user=users["operator"], data=exported, replace=True
    )
    assert replaced.pk == window.pk
    assert replaced.cutoff_minutes == 30 and not replaced.platforms.exists()
    assert replaced.history.latest("history_date").history_change_reason.startswith(
        "imported from iCalendar: "
    )


def test_import_is_all_or_nothing_with_paths_per_event(users, scope_rows):
    good = window_services.window_create(user=users["operator"], data=PATCHING)
    unknown_platform = window_services.window_create(
        user=users["operator"], data={**PATCHING, "name": "second", "platforms": ["lab-b"]}
    )
    exported = window_services.windows_export_ics([good, unknown_platform])
    MaintenanceWindow.objects.all().delete()
    scope_rows["other"].delete()  # lab-b is gone: the second event names it
    with pytest.raises(ValidationError) as caught:
        window_services.windows_import_ics(user=users["operator"], data=exported)
    assert paths(caught.value) == {"events/1/platforms/0": "no platform named 'lab-b'"}
    assert not MaintenanceWindow.objects.exists()


def test_import_reports_bad_files(users):
    with pytest.raises(ValidationError) as caught:
        window_services.windows_import_ics(user=users["operator"], data=b"not a calendar")
    assert list(paths(caught.value)) == ["ics"]
    empty = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nEND:VCALENDAR\r\n"
    with pytest.raises(ValidationError) as caught:
        window_services.windows_import_ics(user=users["operator"], data=empty)
    assert list(paths(caught.value)) == ["data"]
