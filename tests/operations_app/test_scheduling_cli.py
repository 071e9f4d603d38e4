"""Scheduled jobs on the command line: ``--window``, ``--at`` and ``--on-miss`` on clone,
migrate, snapshot and destroy; ``persona schedule list|move``; ``persona job approve|reject``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from operations_app.models import JobStatus, OperationJob
from tests.operations_app.job_support import persona
from tests.operations_app.scheduling_support import OPENS, fleet, tomorrow, window

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_cli_user")]


@pytest.fixture
def f(users):
    made = fleet(users)
    window(users, "nightly")
    return made


def later(days: int = 2) -> str:
    return (timezone.now() + timedelta(days=days)).replace(microsecond=0).isoformat()


def test_migrate_for_a_window(users, f):
    code, out, err = persona(
        "migrate", "web-1", "--to", "lab-b", "--window", "nightly", "--as", "operator"
    )
    assert code == 0, err
    job = OperationJob.objects.get()
    assert job.status == JobStatus.SCHEDULED and job.not_before == tomorrow() + OPENS
    assert out.strip().startswith(
        f"job {job.pk} scheduled: migrate web-1 in maintenance window 'nightly', may start "
    )


def test_every_request_command_schedules(users, f):
    assert persona("snapshot", "web-1", "--window", "auto", "--as", "operator")[0] == 0
    assert persona("destroy", "web-1", "--at", later(), "--as", "operator")[0] == 0
    code, out, err = persona(
        "clone",
        "--profile",
        "web",
        "--platform",
        "lab-a",
        "--name",
        "web-9",
        "--window",
        "nightly",
        "--on-miss",
        "expire",
        "--as",
        "operator",
    )
    assert code == 0, err
    jobs = list(OperationJob.objects.order_by("pk"))
    assert [j.status for j in jobs] == [JobStatus.SCHEDULED] * 3
    assert [j.schedule for j in jobs] == ["auto", "at", "window"]
    assert jobs[2].on_miss == "expire"


def test_prod_says_it_waits_for_an_approver(users, f):
    code, out, _ = persona("snapshot", "prod-1", "--window", "nightly", "--as", "operator")
    assert code == 0
    assert out.strip().endswith("; it waits for an approver other than its requester")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--window", "nope"), "window: no maintenance window named 'nope'"),
        (("--at", "2031-01-01T02:00"), "at: needs its UTC offset"),
        (("--at", "2020-01-01T02:00Z"), "at: 2020-01-01T02:00:00+00:00 is in the past"),
        (("--at", "at dawn"), "at: not a time"),
    ],
)
def test_bad_schedules_exit_1_with_the_path(users, f, args, message):
    code, out, err = persona("migrate", "web-1", "--to", "lab-b", *args, "--as", "operator")
    assert code == 1
    assert message in err
    assert not OperationJob.objects.exists()


def test_window_and_at_together_and_plan_with_a_schedule_are_usage_errors(users, f):
    code, _, err = persona(
        "migrate",
        "web-1",
        "--to",
        "lab-b",
        "--window",
        "nightly",
        "--at",
        later(),
        "--as",
        "operator",
    )
    assert code != 0 and "not allowed with argument" in err
    code, _, err = persona(
        "migrate", "web-1", "--to", "lab-b", "--plan", "--window", "nightly", "--as", "operator"
    )
    assert code == 2 and "nothing to schedule" in err


def test_schedule_list_and_move(users, f):
    persona("snapshot", "web-1", "--window", "nightly", "--as", "operator")
    persona("snapshot", "prod-1", "--at", later(3), "--as", "operator")
    job, prod = OperationJob.objects.order_by("pk")
    code, out, _ = persona("schedule", "list")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == [
        "ID",
        "KIND",
        "VM",
        "STATUS",
        "WINDOW",
        "NOT",
        "BEFORE",
        "NOT",
        "AFTER",
        "ON",
        "MISS",
        "APPROVAL",
    ]
    assert lines[1].split()[:5] == [str(job.pk), "snapshot", "web-1", "scheduled", "nightly"]
    assert lines[1].rstrip().endswith("-")
    assert lines[2].split()[:5] == [str(prod.pk), "snapshot", "prod-1", "scheduled", "(at"]
    assert lines[2].rstrip().endswith("waiting")

    code, out, err = persona(
        "schedule",
        "move",
        str(job.pk),
        "--at",
        later(4),
        "--on-miss",
        "expire",
        "--as",
        "operator",
    )
    assert code == 0, err
    job.refresh_from_db()
    assert job.schedule == "at" and job.on_miss == "expire"
    assert persona("schedule", "move", str(job.pk), "--window", "auto", "--as", "viewer")[0] == 3
    persona("job", "cancel", str(job.pk), "--as", "operator")
    assert str(job.pk) not in persona("schedule", "list")[1].split()
    assert "cancelled" in persona("schedule", "list", "--all")[1]


def test_job_approve_and_reject(users, f):
    persona("snapshot", "prod-1", "--window", "nightly", "--as", "operator")
    persona("snapshot", "prod-1", "--window", "nightly", "--as", "admin")
    mine, admins = OperationJob.objects.order_by("pk")
    code, _, err = persona("job", "approve", str(mine.pk), "--as", "operator")
    assert code == 3 and "'approvers' role" in err
    code, _, err = persona("job", "approve", str(admins.pk), "--as", "admin")
    assert code == 3 and "admin requested job" in err
    code, out, err = persona(
        "job", "approve", str(mine.pk), "--comment", "fine", "--as", "approver"
    )
    assert code == 0, err
    assert out.strip() == f"job {mine.pk}: approved by approver"
    mine.refresh_from_db()
    assert mine.approved_by == users["approver"]
    code, out, _ = persona("job", str(mine.pk))
    assert "approval:      approved by approver" in out
    assert "window:        nightly" in out and "may start:" in out

    code, _, err = persona("job", "reject", str(admins.pk), "--as", "approver")
    assert code == 1 and "comment: a rejection needs a comment" in err
    code, out, _ = persona(
        "job", "reject", str(admins.pk), "--comment", "not now", "--as", "approver"
    )
    assert code == 0 and out.strip() == f"job {admins.pk}: rejected by approver"
    admins.refresh_from_db()
    assert admins.status == JobStatus.REJECTED
    assert persona("job", "cancel", str(mine.pk), "--comment", "x", "--as", "operator")[0] == 2
