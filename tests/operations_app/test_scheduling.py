"""Scheduled jobs in the services: requested for a window, the next covering window or a
time; never queued before their interval, after it, inside a blackout or while waiting
for an approver; moved or ended when they miss it; checked again before they start;
edited, moved and cancelled until then. The clock is driven by passing ``now``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from operations_app.models import (
    JobStatus,
    Notification,
    OperationJob,
    VMState,
)
from operations_app.selectors.scheduling import scheduled_jobs, scheduled_jobs_between
from operations_app.services import clones as clone_services
from operations_app.services import decommissions as decommission_services
from operations_app.services import jobs as job_services
from operations_app.services import migrations as migration_services
from operations_app.services import scheduling
from operations_app.services import snapshots as snapshot_services
from profiles_app.services import versions as version_services
from tests.operations_app.scheduling_support import (
    LAST_START,
    OPENS,
    blackout,
    fleet,
    queued_tasks,
    ready_plan,
    tomorrow,
    window,
)
from vmpersona.errors import NotPermitted, StateConflict, error_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def f(users):
    return fleet(users)


def paths(exc: ValidationError) -> dict[str, str]:
    return {e["path"]: e["message"] for e in error_list(exc)}


def snapshot(users, vm, by="operator", **when):
    return snapshot_services.job_request_snapshot(user=users[by], vm=vm, **when)


def tick(at: datetime) -> dict[str, list[int]]:
    return scheduling.scheduled_jobs_tick(now=at)


def status(job) -> str:
    job.refresh_from_db()
    return job.status


# --------------------------------------------------------------------------- requests


def test_a_job_for_a_window_is_recorded_scheduled_and_not_queued(
    users, f, django_capture_on_commit_callbacks
):
    nightly = window(users, "nightly")
    with django_capture_on_commit_callbacks(execute=True):
        job = snapshot(users, f["web-1"], window="nightly")
    assert job.status == JobStatus.SCHEDULED
    assert job.schedule == "window" and job.window == nightly and job.on_miss == "next"
    assert job.not_before == tomorrow() + OPENS
    assert job.not_after == tomorrow() + LAST_START
    assert not job.approval_required
    assert queued_tasks() == []
    assert (
        "Scheduled in maintenance window 'nightly'"
        in (job.events.filter(kind="log").first().payload["message"])
    )
    # Not active: another job on the VM may be requested meanwhile, now or scheduled.
    now_job = snapshot(users, f["web-1"])
    assert now_job.status == JobStatus.QUEUED
    again = snapshot(users, f["web-1"], window="nightly")
    assert again.status == JobStatus.SCHEDULED


def test_auto_takes_the_next_window_covering_the_vm(users, f):
    window(users, "lab-b-nights", platforms=["lab-b"], start_time="00:00")
    window(users, "lab-a-nights", platforms=["lab-a"], start_time="02:00")
    job = snapshot(users, f["web-1"], window="auto")
    assert job.schedule == "auto" and job.window.name == "lab-a-nights"
    assert job.not_before == tomorrow() + timedelta(hours=2)
    assert job.not_after == tomorrow() + timedelta(hours=5, minutes=30)


def test_at_a_time_gets_the_grace(users, f):
    at = timezone.now() + timedelta(days=2)
    with override_settings(VMPERSONA_SCHEDULE_AT_GRACE_MINUTES=20):
        job = snapshot(users, f["web-1"], at=at, on_miss="expire")
    assert job.schedule == "at" and job.window is None and job.on_miss == "expire"
    assert job.not_before == at and job.not_after == at + timedelta(minutes=20)


@pytest.mark.parametrize(
    ("when", "path", "message"),
    [
        ({"window": "nope"}, "window", "no maintenance window named 'nope'"),
        ({"window": "black"}, "window", "is a blackout"),
        ({"window": "off"}, "window", "is disabled"),
        ({"window": "lab-b-only"}, "window", "does not cover web-1"),
        ({"window": "once-past"}, "window", "has no occurrence to come"),
        ({"window": "nightly", "at": "2030-01-01T00:00:00Z"}, "at", "not both"),
        ({"at": "2030-01-01T02:00:00"}, "at", "needs its UTC offset"),
        ({"at": "2020-01-01T02:00:00+00:00"}, "at", "is in the past"),
        ({"at": "tomorrow"}, "at", "not a time"),
        ({"at": "2099-06-01T10:30:00Z"}, "at", "falls in blackout 'black'"),
        ({"window": "nightly", "on_miss": "retry"}, "on_miss", "one of: next, expire"),
    ],
)
def test_bad_windows_and_times_are_refused_on_their_field(users, f, when, path, message):
    window(users, "nightly")
    window(users, "off", enabled=False)
    window(users, "lab-b-only", platforms=["lab-b"])
    window(users, "once-past", rrule="", start_date="2021-01-01")
    blackout(users, "black", start=datetime(2099, 6, 1, 10, tzinfo=UTC), minutes=60)
    with pytest.raises(ValidationError) as raised:
        snapshot(users, f["web-1"], **when)
    assert message in paths(raised.value)[path]
    assert not OperationJob.objects.exists()


def test_auto_without_any_covering_window_is_refused(users, f):
    window(users, "lab-b-only", platforms=["lab-b"])
    with pytest.raises(ValidationError) as raised:
        snapshot(users, f["web-1"], window="auto")
    assert "no maintenance window covering web-1" in paths(raised.value)["window"]


def test_every_kind_can_be_scheduled(users, f):
    window(users, "nightly")
    clone = clone_services.job_request_clone(
        user=users["operator"],
        version=f["web"],
        platform=f["lab-a"],
        vm_name="web-9",
        window="nightly",
    )
    migrate = migration_services.job_request_migrate(
        user=users["operator"], vm=f["web-1"], target=f["lab-b"], window="auto"
    )
    # at 00:30 tomorrow: whatever the time of day now, before the window opens (01:00)
    gone = decommission_services.job_request_decommission(
        user=users["operator"], vm=f["web-1"], at=tomorrow() + timedelta(minutes=30)
    )
    assert {clone.status, migrate.status, gone.status} == {JobStatus.SCHEDULED}
    assert [j.pk for j in scheduled_jobs()] == [gone.pk, clone.pk, migrate.pk]


# --------------------------------------------------------------------------- the tick


def test_never_queued_before_its_window_nor_after_its_cutoff(users, f):
    window(users, "nightly")
    expire = snapshot(users, f["web-1"], window="nightly", on_miss="expire")
    start = tomorrow() + OPENS
    assert tick(start - timedelta(seconds=1)) == {
        "queued": [],
        "waiting": [],
        "moved": [],
        "expired": [],
        "skipped": [],
    }
    assert status(expire) == JobStatus.SCHEDULED
    # Past the cutoff (04:30) it is never queued: it expires and its requester hears.
    result = tick(tomorrow() + LAST_START + timedelta(seconds=1))
    assert result["expired"] == [expire.pk]
    expire.refresh_from_db()
    assert expire.status == JobStatus.EXPIRED and expire.finished_at is not None
    assert "Expired: its start interval" in expire.error
    assert queued_tasks() == []
    note = Notification.objects.get(recipient=users["operator"], job=expire)
    assert note.severity == "warning" and "Expired" in note.message


def test_queued_inside_its_window_and_the_requester_is_told(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly")
    result = tick(tomorrow() + OPENS + timedelta(minutes=1))
    assert result["queued"] == [job.pk]
    assert status(job) == JobStatus.QUEUED
    assert queued_tasks() == [(job.pk,)]
    job.refresh_from_db()
    assert job.enqueued_at is not None
    note = Notification.objects.get(recipient=users["operator"], job=job)
    assert "is queued: its scheduled time has come" in note.message
    # Once queued the tick leaves it alone.
    assert tick(tomorrow() + OPENS + timedelta(minutes=2))["queued"] == []


def test_the_cutoff_itself_is_too_late(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly", on_miss="expire")
    assert tick(tomorrow() + LAST_START)["waiting"] == [job.pk]
    assert status(job) == JobStatus.SCHEDULED
    assert (
        "takes no new work in its last 30 minutes"
        in (job.events.filter(kind="log").last().payload["message"])
    )


def test_never_queued_inside_a_blackout(users, f):
    window(users, "nightly")
    blackout(users, "freeze", start=tomorrow() + OPENS, minutes=60)
    job = snapshot(users, f["web-1"], window="nightly")
    assert tick(tomorrow() + OPENS + timedelta(minutes=10))["waiting"] == [job.pk]
    assert tick(tomorrow() + OPENS + timedelta(minutes=50))["waiting"] == [job.pk]
    # One log line for the wait, not one per tick.
    waits = [
        e.payload["message"]
        for e in job.events.filter(kind="log")
        if e.payload["message"].startswith("Waiting")
    ]
    assert waits == [waits[0]] and "blackout 'freeze'" in waits[0]
    assert queued_tasks() == []
    assert tick(tomorrow() + OPENS + timedelta(minutes=61))["queued"] == [job.pk]


def test_a_job_at_a_time_waits_out_a_blackout_but_needs_no_window(users, f):
    at = tomorrow() + timedelta(hours=12)
    job = snapshot(users, f["web-1"], at=at)  # no maintenance window anywhere
    blackout(users, "freeze", start=at + timedelta(minutes=5), minutes=10)
    assert tick(at - timedelta(minutes=1))["queued"] == []
    assert tick(at + timedelta(minutes=6))["waiting"] == [job.pk]
    assert tick(at + timedelta(minutes=16))["queued"] == [job.pk]


def test_a_job_at_a_time_expires_after_its_grace_even_with_on_miss_next(users, f):
    at = tomorrow() + timedelta(hours=12)
    job = snapshot(users, f["web-1"], at=at, on_miss="next")
    blackout(users, "freeze", start=at, minutes=120)
    assert tick(at + timedelta(minutes=10))["waiting"] == [job.pk]
    assert tick(at + timedelta(minutes=31))["expired"] == [job.pk]
    assert status(job) == JobStatus.EXPIRED


def test_on_miss_next_moves_to_the_next_occurrence(users, f):
    window(users, "nightly")
    blackout(users, "freeze", start=tomorrow(), minutes=6 * 60)  # covers the first night
    job = snapshot(users, f["web-1"], window="nightly", on_miss="next")
    assert tick(tomorrow() + timedelta(hours=2))["waiting"] == [job.pk]
    result = tick(tomorrow() + timedelta(hours=6))
    assert result["moved"] == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.SCHEDULED
    assert job.not_before == tomorrow() + timedelta(days=1) + OPENS
    assert job.not_after == tomorrow() + timedelta(days=1) + LAST_START
    assert "missed its window" in Notification.objects.get(job=job).message
    assert tick(tomorrow() + timedelta(days=1, hours=1))["queued"] == [job.pk]


def test_on_miss_next_for_auto_looks_again_at_every_covering_window(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="auto")
    blackout(users, "freeze", start=tomorrow(), minutes=6 * 60)
    tick(tomorrow() + timedelta(hours=6))
    job.refresh_from_db()
    assert job.status == JobStatus.SCHEDULED and job.schedule == "auto"
    assert job.not_before == tomorrow() + timedelta(days=1) + OPENS


def test_on_miss_next_without_a_next_occurrence_expires(users, f):
    window(users, "once", rrule="")
    job = snapshot(users, f["web-1"], window="once")
    blackout(users, "freeze", start=tomorrow(), minutes=6 * 60)
    assert tick(tomorrow() + timedelta(hours=6))["expired"] == [job.pk]
    job.refresh_from_db()
    assert "no occurrence to come" in job.error


def test_another_active_job_on_the_vm_makes_it_wait(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly")
    busy = snapshot(users, f["web-1"])
    assert tick(tomorrow() + OPENS)["waiting"] == [job.pk]
    assert (
        f"job #{busy.pk} is active on web-1"
        in job.events.filter(kind="log").last().payload["message"]
    )
    job_services.job_cancel(user=users["operator"], job=busy)
    assert tick(tomorrow() + OPENS + timedelta(minutes=1))["queued"] == [job.pk]


# --------------------------------------------------------------------------- re-checks


def test_skipped_when_the_vm_is_gone(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly")
    f["web-1"].state = VMState.GONE
    f["web-1"].save()
    assert tick(tomorrow() + OPENS)["skipped"] == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.SKIPPED and job.error == "Skipped: VM 'web-1' is gone."
    note = Notification.objects.get(recipient=users["operator"], job=job)
    assert "VM 'web-1' is gone" in note.message
    assert queued_tasks() == []


def test_skipped_when_the_vm_left_the_inventory(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly")
    f["web-1"].snapshots.all().delete()
    OperationJob.objects.filter(vm=f["web-1"]).update(vm=None)
    f["web-1"].delete()
    assert tick(tomorrow() + OPENS)["skipped"] == [job.pk]
    job.refresh_from_db()
    assert "no longer in the inventory" in job.error


def test_skipped_when_the_profile_version_was_retired(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly")
    version_services.version_retire(user=users["approver"], version=f["web"])
    assert tick(tomorrow() + OPENS)["skipped"] == [job.pk]
    job.refresh_from_db()
    assert "was retired" in job.error


def test_a_scheduled_clone_is_skipped_when_its_version_is_no_longer_approved(users, f):
    window(users, "nightly")
    job = clone_services.job_request_clone(
        user=users["operator"],
        version=f["web"],
        platform=f["lab-a"],
        vm_name="web-9",
        window="auto",
    )
    version_services.version_retire(user=users["approver"], version=f["web"])
    assert tick(tomorrow() + OPENS)["skipped"] == [job.pk]
    job.refresh_from_db()
    assert "only approved versions can be cloned" in job.error


def test_a_scheduled_migration_runs_its_dry_run_again(users, f, monkeypatch):
    window(users, "nightly")
    calls = []

    def preview(**kwargs):
        calls.append(kwargs)
        return {"ready": False, "verdict": "Blocked: lab-b offers q35 machines only"}

    job = migration_services.job_request_migrate(
        user=users["operator"], vm=f["web-1"], target=f["lab-b"], window="nightly"
    )
    monkeypatch.setattr(migration_services, "migration_preview", preview)
    assert tick(tomorrow() + OPENS)["skipped"] == [job.pk]
    assert calls[0]["user"] == users["operator"] and calls[0]["target"] == f["lab-b"]
    job.refresh_from_db()
    assert "dry run refuses it: Blocked: lab-b offers q35" in job.error


def test_a_scheduled_migration_whose_dry_run_goes_ahead_is_queued(users, f, monkeypatch):
    window(users, "nightly")
    job = migration_services.job_request_migrate(
        user=users["operator"], vm=f["web-1"], target=f["lab-b"], mode="cold", window="nightly"
    )
    modes = []
    monkeypatch.setattr(
        migration_services,
        "migration_preview",
        lambda **kw: modes.append(kw["mode"]) or ready_plan(),
    )
    assert tick(tomorrow() + OPENS)["queued"] == [job.pk]
    assert modes == ["cold"]


def test_a_host_out_of_reach_makes_a_migration_wait(users, f, monkeypatch):
    from operations_app import hypervisor as hv

    window(users, "nightly")
    job = migration_services.job_request_migrate(
        user=users["operator"], vm=f["web-1"], target=f["lab-b"], window="nightly"
    )

    def unreachable(**kwargs):
        try:
            raise hv.HypervisorError("connection refused")
        except hv.HypervisorError as exc:
            raise StateConflict(f"The dry run could not read the platforms: {exc}") from exc

    monkeypatch.setattr(migration_services, "migration_preview", unreachable)
    assert tick(tomorrow() + OPENS)["waiting"] == [job.pk]
    assert status(job) == JobStatus.SCHEDULED


def test_a_requester_who_lost_the_operators_role_is_skipped_by_the_dry_run(users, f):
    window(users, "nightly")
    job = migration_services.job_request_migrate(
        user=users["operator"], vm=f["web-1"], target=f["lab-b"], window="nightly"
    )
    users["operator"].groups.clear()
    assert tick(tomorrow() + OPENS)["skipped"] == [job.pk]
    job.refresh_from_db()
    assert "needs the 'operators' role" in job.error


def test_a_vm_that_moved_is_followed(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly")
    f["web-1"].platform = f["lab-b"]
    f["web-1"].save()
    assert tick(tomorrow() + OPENS)["queued"] == [job.pk]
    job.refresh_from_db()
    assert job.platform == f["lab-b"]


# --------------------------------------------------------------------------- approval


def test_a_production_vm_waits_for_an_approver_other_than_its_requester(users, f):
    window(users, "nightly")
    job = snapshot(users, f["prod-1"], window="nightly")
    assert job.approval_required and job.approved_by is None
    # The approvers (not the requester) are asked.
    asked = set(Notification.objects.filter(job=job).values_list("recipient__username", flat=True))
    assert {"approver", "approver2", "admin"} <= asked and "operator" not in asked
    assert tick(tomorrow() + OPENS)["waiting"] == [job.pk]
    with pytest.raises(NotPermitted, match="'approvers' role"):
        scheduling.job_schedule_approve(user=users["operator"], job=job)
    job = scheduling.job_schedule_approve(user=users["approver"], job=job, comment="go")
    assert job.approved_by == users["approver"] and job.approved_at is not None
    record = job.history.first()
    assert record.history_user == users["approver"] and record.history_change_reason == (
        "approved: go"
    )
    assert (
        "approved by approver"
        in Notification.objects.filter(recipient=users["operator"], job=job).last().message
    )
    with pytest.raises(StateConflict, match="approved already"):
        scheduling.job_schedule_approve(user=users["approver2"], job=job)
    assert tick(tomorrow() + OPENS + timedelta(minutes=1))["queued"] == [job.pk]


def test_nobody_approves_their_own_job_superusers_included(users, f):
    window(users, "nightly")
    own = snapshot(users, f["prod-1"], by="admin", window="nightly")
    with pytest.raises(NotPermitted, match="admin requested job"):
        scheduling.job_schedule_approve(user=users["admin"], job=own)
    with pytest.raises(NotPermitted, match="admin requested job"):
        scheduling.job_schedule_reject(user=users["admin"], job=own, comment="no")
    # Another superuser-less approver may; a superuser may approve someone else's.
    other = snapshot(users, f["prod-1"], window="nightly")
    scheduling.job_schedule_approve(user=users["admin"], job=other)
    scheduling.job_schedule_approve(user=users["approver"], job=own)


def test_a_job_that_needs_no_approval_cannot_be_approved(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly")
    with pytest.raises(StateConflict, match="needs no approval"):
        scheduling.job_schedule_approve(user=users["approver"], job=job)


@override_settings(VMPERSONA_SCHEDULE_APPROVAL_FLAGS=["Testing"])
def test_the_flags_that_need_an_approval_are_a_setting(users, f):
    window(users, "nightly")
    assert snapshot(users, f["web-1"], window="nightly").approval_required
    assert not snapshot(users, f["prod-1"], window="nightly").approval_required


def test_a_job_queued_at_once_needs_no_approval(users, f):
    job = snapshot(users, f["prod-1"])
    assert job.status == JobStatus.QUEUED and not job.approval_required


def test_a_rejected_job_ends_and_its_requester_hears_why(users, f):
    window(users, "nightly")
    job = snapshot(users, f["prod-1"], window="nightly")
    with pytest.raises(ValidationError) as raised:
        scheduling.job_schedule_reject(user=users["approver"], job=job, comment=" ")
    assert "tells the requester why" in paths(raised.value)["comment"]
    job = scheduling.job_schedule_reject(user=users["approver"], job=job, comment="not this week")
    assert job.status == JobStatus.REJECTED and job.finished_at is not None
    assert job.error == "Rejected by approver: not this week"
    assert job.history.first().history_user == users["approver"]
    note = Notification.objects.filter(recipient=users["operator"], job=job).last()
    assert "rejected by approver: not this week" in note.message
    assert tick(tomorrow() + OPENS)["queued"] == []


def test_unapproved_jobs_miss_their_window(users, f):
    window(users, "nightly")
    job = snapshot(users, f["prod-1"], window="nightly", on_miss="expire")
    tick(tomorrow() + timedelta(hours=5))
    job.refresh_from_db()
    assert job.status == JobStatus.EXPIRED and "nobody approved it in time" in job.error


# --------------------------------------------------------------------------- edit, cancel


def test_requester_moves_a_scheduled_job_and_a_stranger_may_not(users, f):
    window(users, "nightly")
    window(users, "weekend", rrule="FREQ=WEEKLY;BYDAY=SA,SU")
    job = snapshot(users, f["web-1"], window="nightly")
    with pytest.raises(NotPermitted):
        scheduling.job_schedule_update(user=users["viewer"], job=job, window="weekend")
    job = scheduling.job_schedule_update(user=users["operator"], job=job, window="weekend")
    assert job.window.name == "weekend" and job.not_before.weekday() in (5, 6)
    at = timezone.now() + timedelta(days=3)
    job = scheduling.job_schedule_update(user=users["operator"], job=job, at=at, on_miss="expire")
    assert job.schedule == "at" and job.window is None and job.not_before == at
    assert job.on_miss == "expire"
    assert "Schedule changed by operator" in job.events.filter(kind="log").last().payload["message"]
    with pytest.raises(ValidationError) as raised:
        scheduling.job_schedule_update(user=users["operator"], job=job, window="nope")
    assert "no maintenance window named 'nope'" in paths(raised.value)["window"]
    with pytest.raises(ValidationError) as raised:
        scheduling.job_schedule_update(user=users["operator"], job=job)
    assert "say what changes" in paths(raised.value)["window"]


def test_moving_an_approved_job_needs_an_approval_again(users, f):
    window(users, "nightly")
    job = snapshot(users, f["prod-1"], window="nightly")
    job = scheduling.job_schedule_approve(user=users["approver"], job=job)
    job = scheduling.job_schedule_update(
        user=users["operator"], job=job, at=timezone.now() + timedelta(days=2)
    )
    assert job.approval_required and job.approved_by is None


def test_cancel_ends_a_scheduled_job_at_once(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly")
    with pytest.raises(NotPermitted):
        job_services.job_cancel(user=users["viewer"], job=job)
    job = job_services.job_cancel(user=users["operator"], job=job)
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert job.history.first().history_user == users["operator"]
    assert tick(tomorrow() + OPENS)["queued"] == []
    with pytest.raises(StateConflict):
        scheduling.job_schedule_update(user=users["operator"], job=job, window="nightly")


def test_a_started_job_can_no_longer_be_moved(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly")
    tick(tomorrow() + OPENS)
    with pytest.raises(StateConflict, match="only a scheduled job"):
        scheduling.job_schedule_update(user=users["operator"], job=job, window="auto")


# --------------------------------------------------------------------------- calendar


def test_scheduled_jobs_between_gives_the_window_occurrence(users, f):
    window(users, "nightly")
    job = snapshot(users, f["web-1"], window="nightly")
    at = snapshot(users, f["prod-1"], at=tomorrow() + timedelta(hours=12))
    rows = scheduled_jobs_between(tomorrow(), tomorrow() + timedelta(days=1))
    assert [r.job.pk for r in rows] == [job.pk, at.pk]
    assert rows[0].window == "nightly" and rows[0].occurrence.start == tomorrow() + OPENS
    assert rows[0].occurrence.end == tomorrow() + timedelta(hours=5)
    assert rows[1].window is None and rows[1].occurrence is None and rows[1].awaits_approval
    assert (
        scheduled_jobs_between(tomorrow() + timedelta(days=2), tomorrow() + timedelta(days=3)) == []
    )


# --------------------------------------------------------------------------- the periodic task


def test_the_tick_runs_every_minute_as_a_django_q_schedule(users, f):
    from django_q.models import Schedule

    from operations_app import tasks

    schedule = Schedule.objects.get(func="operations_app.tasks.start_scheduled_jobs")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1
    assert schedule.repeats == -1
    window(users, "nightly")
    snapshot(users, f["web-1"], window="nightly")
    assert tasks.start_scheduled_jobs() == {
        "queued": [],
        "waiting": [],
        "moved": [],
        "expired": [],
        "skipped": [],
    }
