"""Approval per window: a maintenance window whose scheduled jobs (of some kinds, or all)
wait for an approver other than their requester. Its settings through the service, the
API, the CLI, the form, the admin and iCalendar; the jobs scheduled into it (by name or
``auto``) wait in the tick until another approver approves them; a move into the window
needs an approval, a move out of it no longer does. The clock is driven by ``now``."""

from __future__ import annotations

import html
from datetime import date, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from operations_app.models import JobStatus, MaintenanceWindow, Notification
from operations_app.services import migrations as migration_services
from operations_app.services import scheduling
from operations_app.services import snapshots as snapshot_services
from operations_app.services import windows as window_services
from operations_app.windows import WindowData, WindowRule, from_ics, to_ics
from tests.operations_app.job_support import errors, persona
from tests.operations_app.scheduling_support import (
    OPENS,
    fleet,
    queued_tasks,
    ready_plan,
    tomorrow,
    window,
)
from vmpersona.errors import NotPermitted, error_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def f(users):
    return fleet(users)


def paths(exc: ValidationError) -> dict[str, str]:
    return {e["path"]: e["message"] for e in error_list(exc)}


def snapshot(users, vm, by="operator", **when):
    return snapshot_services.job_request_snapshot(user=users[by], vm=vm, **when)


def migrate(users, f, by="operator", vm="web-1", **when):
    return migration_services.job_request_migrate(
        user=users[by], vm=f[vm], target=f["lab-b"], **when
    )


def tick(at) -> dict[str, list[int]]:
    return scheduling.scheduled_jobs_tick(now=at)


def logs(job) -> list[str]:
    return [e.payload["message"] for e in job.events.filter(kind="log").order_by("seq")]


def notes(user, job) -> list[str]:
    return [n.message for n in Notification.objects.filter(recipient=user, job=job)]


def payments_night(users, **data):
    """Daily from tomorrow 01:00–05:00 UTC; scheduled jobs of every kind need an approval."""
    return window(users, "payments-night", approval_required=True, **data)


# --------------------------------------------------------------------------- the setting


def test_a_window_keeps_its_approval_and_its_kinds_in_one_order(users):
    made = window(
        users, "payments-night", approval_required=True, approval_kinds=["snapshot", "migrate"]
    )
    made.refresh_from_db()
    assert made.approval_required is True and made.approval_kinds == ["migrate", "snapshot"]
    assert made.requires_approval("migrate") and not made.requires_approval("clone")
    plain = window(users, "nightly")
    assert plain.approval_required is False and plain.approval_kinds == []
    assert not plain.requires_approval("migrate")
    every = window(users, "every", approval_required=True)
    assert all(every.requires_approval(k) for k in ("migrate", "clone", "snapshot", "decommission"))
    # The same kinds in another order change nothing and record nothing.
    before = made.history.count()
    window_services.window_update(
        user=users["operator"], window=made, data={"approval_kinds": ["migrate", "snapshot"]}
    )
    assert made.history.count() == before
    window_services.window_update(
        user=users["operator"], window=made, data={"approval_required": False}
    )
    assert made.history.first().history_change_reason == "changed: approval_required"


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"approval_kinds": ["migrate", "reboot"]}, "approval_kinds/1", "unknown kind 'reboot'"),
        ({"approval_kinds": ["migrate", "rollback"]}, "approval_kinds/1", "one of migrate, clone"),
        ({"approval_kinds": ["clone", "clone"]}, "approval_kinds/1", "'clone' is given twice"),
        ({"approval_kinds": "migrate"}, "approval_kinds", "a list of job kinds"),
        ({"approval_required": "yes"}, "approval_required", "true or false"),
        (
            {"kind": "blackout", "approval_required": True},
            "approval_required",
            "a blackout takes no work",
        ),
    ],
)
def test_bad_approval_settings_are_refused_at_their_path(users, data, path, message):
    with pytest.raises(ValidationError) as raised:
        window(users, "payments-night", **data)
    assert message in paths(raised.value)[path]
    assert not MaintenanceWindow.objects.exists()


def test_a_window_that_requires_approval_cannot_become_a_blackout_alone(users):
    made = payments_night(users)
    with pytest.raises(ValidationError) as raised:
        window_services.window_update(
            user=users["operator"], window=made, data={"kind": "blackout"}
        )
    assert "approval is for maintenance windows" in paths(raised.value)["approval_required"]
    window_services.window_update(
        user=users["operator"],
        window=made,
        data={"kind": "blackout", "approval_required": False},
    )


# --------------------------------------------------------------------------- scheduling


def test_a_job_in_the_window_waits_for_another_approver_then_starts(
    users, f, django_capture_on_commit_callbacks
):
    payments_night(users)
    job = snapshot(users, f["web-1"], window="payments-night")
    assert job.status == JobStatus.SCHEDULED and job.approval_required
    assert "Waits for an approval (window 'payments-night' requires approval)" in logs(job)[-1]
    for approver in ("approver", "approver2", "admin"):
        (note,) = notes(users[approver], job)
        assert "scheduled by operator" in note
        assert note.endswith("waits for your approval: window 'payments-night' requires approval.")
    assert notes(users["operator"], job) == []

    assert tick(tomorrow() + OPENS + timedelta(minutes=1))["waiting"] == [job.pk]
    assert logs(job)[-1] == "Waiting: it waits for an approver other than its requester."
    job = scheduling.job_schedule_approve(user=users["approver"], job=job, comment="go")
    with django_capture_on_commit_callbacks(execute=True):
        assert tick(tomorrow() + OPENS + timedelta(minutes=2))["queued"] == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.approved_by == users["approver"]
    assert len(queued_tasks()) == 1


def test_the_requester_cannot_approve_a_job_in_the_window(users, f, monkeypatch):
    payments_night(users, approval_kinds=["migrate"])
    job = migrate(users, f, by="admin", window="payments-night")
    assert job.approval_required
    with pytest.raises(NotPermitted, match="admin requested job"):
        scheduling.job_schedule_approve(user=users["admin"], job=job)
    monkeypatch.setattr(migration_services, "migration_preview", lambda **kw: ready_plan())
    assert tick(tomorrow() + OPENS)["waiting"] == [job.pk]
    scheduling.job_schedule_approve(user=users["approver2"], job=job)
    assert tick(tomorrow() + OPENS)["queued"] == [job.pk]


def test_only_the_kinds_named_need_an_approval(users, f):
    payments_night(users, approval_kinds=["migrate", "clone"])
    assert migrate(users, f, window="payments-night").approval_required
    quick = snapshot(users, f["web-1"], window="payments-night")
    assert not quick.approval_required
    assert not any("approval" in line for line in logs(quick))
    assert tick(tomorrow() + OPENS)["queued"] == [quick.pk]


def test_auto_picking_the_window_needs_its_approval(users, f):
    payments_night(users, platforms=["lab-a"])
    job = snapshot(users, f["web-1"], window="auto")
    assert job.window.name == "payments-night" and job.approval_required


def test_a_time_or_a_window_without_approval_needs_none(users, f):
    payments_night(users)
    window(users, "nightly")
    assert not snapshot(users, f["web-1"], window="nightly").approval_required
    at = tomorrow() + timedelta(days=2)
    assert not snapshot(users, f["web-1"], at=at).approval_required


def test_window_and_flags_both_say_why(users, f):
    payments_night(users)
    job = snapshot(users, f["prod-1"], window="payments-night")
    reason = "window 'payments-night' requires approval and prod-1 is flagged Production"
    assert f"Waits for an approval ({reason})" in logs(job)[-1]
    assert notes(users["approver"], job)[0].endswith(f"waits for your approval: {reason}.")


def test_the_flags_alone_still_say_so(users, f):
    window(users, "nightly")
    job = snapshot(users, f["prod-1"], window="nightly")
    assert "Waits for an approval (prod-1 is flagged Production)" in logs(job)[-1]


# --------------------------------------------------------------------------- moves


def test_a_move_into_the_window_needs_an_approval_and_out_of_it_no_longer(users, f):
    payments_night(users)
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly")
    assert not job.approval_required

    job = scheduling.job_schedule_update(user=users["operator"], job=job, window="payments-night")
    assert job.approval_required and job.approved_by is None
    assert logs(job)[-1].endswith(
        "; it now needs an approval (window 'payments-night' requires approval)."
    )
    (note,) = notes(users["approver"], job)
    assert "moved by operator" in note and "window 'payments-night' requires approval" in note
    job = scheduling.job_schedule_approve(user=users["approver"], job=job)

    job = scheduling.job_schedule_update(user=users["operator"], job=job, window="nightly")
    assert not job.approval_required and job.approved_by is None
    assert logs(job)[-1].endswith("; it no longer needs an approval.")
    job.refresh_from_db()
    assert not job.approval_required and job.approved_by is None
    assert tick(tomorrow() + OPENS)["queued"] == [job.pk]


def test_a_move_out_of_the_window_still_needs_one_when_the_flags_say_so(users, f):
    payments_night(users)
    window(users, "nightly")
    job = snapshot(users, f["prod-1"], window="payments-night")
    job = scheduling.job_schedule_approve(user=users["approver"], job=job)
    job = scheduling.job_schedule_update(user=users["operator"], job=job, window="nightly")
    assert job.approval_required and job.approved_by is None
    assert "it needs an approval again (prod-1 is flagged Production)" in logs(job)[-1]


def test_a_move_inside_the_window_needs_the_approval_again(users, f):
    payments_night(users)
    window(users, "weekend", approval_required=True, rrule="FREQ=WEEKLY;BYDAY=SA,SU")
    job = snapshot(users, f["web-1"], window="payments-night")
    job = scheduling.job_schedule_approve(user=users["approver"], job=job)
    job = scheduling.job_schedule_update(user=users["operator"], job=job, window="weekend")
    assert job.approval_required and job.approved_by is None
    assert "it needs an approval again (window 'weekend' requires approval)" in logs(job)[-1]


def test_changing_on_miss_alone_leaves_the_approval(users, f):
    payments_night(users)
    job = snapshot(users, f["web-1"], window="payments-night")
    job = scheduling.job_schedule_approve(user=users["approver"], job=job)
    job = scheduling.job_schedule_update(user=users["operator"], job=job, on_miss="expire")
    job.refresh_from_db()
    assert job.approval_required and job.approved_by == users["approver"]


def test_auto_moving_a_missed_job_into_the_window_makes_it_wait(users, f):
    window(users, "early", rrule="", start_time="00:00", duration_minutes=60, cutoff_minutes=0)
    payments_night(users, start_time="06:00")
    job = snapshot(users, f["web-1"], window="auto")
    assert job.window.name == "early" and not job.approval_required
    assert tick(tomorrow() + timedelta(hours=2))["moved"] == [job.pk]
    job.refresh_from_db()
    assert job.window.name == "payments-night" and job.approval_required
    assert "Waits for an approval (window 'payments-night' requires approval)" in logs(job)[-1]
    assert "moved to the next window" in notes(users["approver"], job)[0]
    assert tick(tomorrow() + timedelta(hours=6, minutes=1))["waiting"] == [job.pk]


# --------------------------------------------------------------------------- iCalendar


def test_the_ics_round_trip_keeps_the_approval():
    rule = WindowRule("Europe/Berlin", date(2031, 1, 1), time(2, 0), 180, "FREQ=DAILY")
    with_kinds = WindowData(
        name="payments-night",
        kind="maintenance",
        rule=rule,
        approval_required=True,
        approval_kinds=("migrate", "clone"),
    )
    plain = WindowData(name="nightly", kind="maintenance", rule=rule)
    text = to_ics([with_kinds, plain]).decode()
    assert "X-VMPERSONA-APPROVAL:TRUE\r\n" in text
    assert "X-VMPERSONA-APPROVAL-KINDS:migrate,clone\r\n" in text
    assert "X-VMPERSONA-APPROVAL:FALSE\r\n" in text
    assert from_ics(text.encode()) == [with_kinds, plain]
    # As another program may escape the commas, and without the properties at all.
    escaped = text.replace("KINDS:migrate,clone", "KINDS:migrate\\,clone")
    assert from_ics(escaped.encode())[0].approval_kinds == ("migrate", "clone")
    bare = text.replace("X-VMPERSONA-APPROVAL:TRUE\r\n", "")
    assert from_ics(bare.encode())[0].approval_required is False


def test_the_ics_import_checks_the_approval(users):
    made = payments_night(users, approval_kinds=["migrate"])
    data = window_services.windows_export_ics([made])
    made.delete()
    (imported,) = window_services.windows_import_ics(user=users["operator"], data=data)
    assert imported.approval_required and imported.approval_kinds == ["migrate"]

    bad = data.replace(b"KINDS:migrate", b"KINDS:migrate,reboot")
    with pytest.raises(ValidationError) as raised:
        window_services.windows_import_ics(user=users["operator"], data=bad, replace=True)
    assert "unknown kind 'reboot'" in paths(raised.value)["events/0/approval_kinds/1"]
    worse = data.replace(b"X-VMPERSONA-APPROVAL:TRUE", b"X-VMPERSONA-APPROVAL:sometimes")
    with pytest.raises(ValidationError) as raised:
        window_services.windows_import_ics(user=users["operator"], data=worse, replace=True)
    assert paths(raised.value)["events/0/X-VMPERSONA-APPROVAL"] == "TRUE or FALSE"


# --------------------------------------------------------------------------- API


def test_the_api_reads_and_writes_the_approval(api, users):
    body = {
        "name": "payments-night",
        "timezone": "UTC",
        "start_date": "2031-01-01",
        "start_time": "01:00",
        "duration_minutes": 240,
        "rrule": "FREQ=DAILY",
        "approval_required": True,
        "approval_kinds": ["migrate"],
    }
    response = api(users["operator"]).post("/api/v1/windows/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["approval_required"] is True
    assert response.json()["approval_kinds"] == ["migrate"]
    url = "/api/v1/windows/payments-night/"
    response = api(users["operator"]).patch(
        url, {"approval_kinds": ["migrate", "reboot"]}, format="json"
    )
    assert response.status_code == 400
    assert "unknown kind 'reboot'" in errors(response)["approval_kinds/1"]
    response = api(users["operator"]).patch(url, {"approval_kinds": []}, format="json")
    assert response.status_code == 200 and response.json()["approval_kinds"] == []
    assert api(users["viewer"]).get(url).json()["approval_required"] is True
    assert (
        api(users["viewer"]).patch(url, {"approval_required": False}, format="json").status_code
        == 403
    )


# --------------------------------------------------------------------------- CLI


@pytest.mark.usefixtures("no_cli_user")
def test_the_cli_adds_and_shows_the_approval(users):
    add = ("window", "add", "payments-night", "--tz", "UTC", "--start", "2031-01-01T01:00")
    code, _, err = persona(
        *add,
        "--duration",
        "4h",
        "--approval",
        "--approval-kind",
        "migrate",
        "--approval-kind",
        "clone",
        "--as",
        "operator",
    )
    assert code == 0, err
    made = MaintenanceWindow.objects.get()
    assert made.approval_required and made.approval_kinds == ["migrate", "clone"]
    code, out, _ = persona("window", "show", "payments-night", "--count", "0")
    assert "approval:    required for migrations and clones\n" in out

    code, _, err = persona(*add[:2], "other", *add[3:], "--duration", "4h", "--approval-kind", "x")
    assert code == 1 and "approval_kind: give --approval too" in err
    code, _, err = persona(
        *add[:2], "other", *add[3:], "--duration", "4h", "--approval", "--approval-kind", "x"
    )
    assert code == 1 and "approval_kinds/0: unknown kind 'x'" in err


# --------------------------------------------------------------------------- pages


FORM = {
    "name": "payments-night",
    "kind": "maintenance",
    "timezone": "UTC",
    "start_date": "2031-01-01",
    "start_time": "01:00",
    "duration_hours": "4",
    "duration_mins": "0",
    "repeat": "daily",
    "interval": "1",
    "on": "weekday",
    "nth": "2",
    "weekday": "SA",
    "monthday": "1",
    "month": "1",
    "ends": "never",
    "cutoff_minutes": "30",
    "enabled": "on",
    "approval_required": "on",
    "approval_kinds": ["migrate"],
}


def page(response) -> str:
    return html.unescape(response.content.decode())


def test_the_form_sets_the_approval_and_the_pages_show_it(users):
    client = Client()
    client.force_login(users["operator"])
    text = page(client.get(reverse("operations:window_create")))
    assert 'id="field-approval_required"' in text and 'name="approval_required"' in text
    assert "start only once an approver other than the requester approves them" in text
    for value, label in (("migrate", "Migrations"), ("decommission", "Decommissions")):
        assert f'value="{value}"' in text and label in text
    assert "None checked: every kind." in text

    response = client.post(reverse("operations:window_create"), {**FORM, "save": "1"})
    assert response.status_code == 302, page(response)[:3000]
    made = MaintenanceWindow.objects.get()
    assert made.approval_required and made.approval_kinds == ["migrate"]

    detail = page(client.get(reverse("operations:window", args=["payments-night"])))
    assert 'title="Approval required for migrations: scheduled jobs' in detail
    assert '<dd id="window-approval"><strong>Required for migrations</strong>' in detail
    listing = page(client.get(reverse("operations:windows")))
    assert (
        'title="Scheduled jobs: approval required for migrations">needs approval</span>' in listing
    )
    edit = page(client.get(reverse("operations:window_edit", args=["payments-night"])))
    assert 'name="approval_required" id="id_approval_required"' in edit
    assert 'aria-describedby="id_approval_required_helptext" checked>' in edit
    assert 'id="id_approval_required_helptext"' in edit
    assert 'value="migrate" id="id_approval_kinds_0" checked' in edit

    window_services.window_update(
        user=users["operator"], window=made, data={"approval_kinds": ["migrate", "clone"]}
    )
    detail = page(client.get(reverse("operations:window", args=["payments-night"])))
    assert 'approval for:</span> <span class="old-value">migrate' in detail


def test_the_form_shows_the_approval_problem_beside_it(users):
    client = Client()
    client.force_login(users["operator"])
    response = client.post(
        reverse("operations:window_create"), {**FORM, "kind": "blackout", "save": "1"}
    )
    assert response.status_code == 400
    text = page(response)
    block = text[text.index('id="field-approval_required"') :]
    block = block[: block.index('id="field-approval_kinds"')]
    assert "a blackout takes no work" in block
    assert '<a class="path" href="#field-approval_required">Approval required</a>' in text
    assert not MaintenanceWindow.objects.exists()


def test_the_admin_saves_the_approval(users):
    client = Client()
    client.force_login(users["admin"])
    response = client.post(
        "/admin/operations_app/maintenancewindow/add/",
        {
            "name": "payments-night",
            "kind": "maintenance",
            "timezone": "UTC",
            "start_date": "2031-01-01",
            "start_time": "01:00",
            "duration_minutes": "240",
            "rrule": "FREQ=DAILY",
            "exdates": "[]",
            "cutoff_minutes": "30",
            "enabled": "on",
            "description": "",
            "webhook_url": "",
            "execution_flags": "[]",
            "labels": "{}",
            "approval_required": "on",
            "approval_kinds": ["clone", "decommission"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    made = MaintenanceWindow.objects.get()
    assert made.approval_required and made.approval_kinds == ["clone", "decommission"]
