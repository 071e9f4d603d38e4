"""Jobs in their health watch, for the watch tests: made through the job services (the
transitions and events a runner records), with a probe round recorded, no worker."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from operations_app.models import JobStatus, OperationJob
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from tests.operations_app.job_support import clone_job

# One probe round: two probes passed, the HTTP check failed (the first time in a row).
ROUND_CHECKS = [
    {
        "name": "guest agent answers",
        "pointer": "/health_watch",
        "expected": "answers",
        "actual": "answers",
        "passed": True,
    },
    {
        "name": "nginx verify command",
        "pointer": "/application_manifest/0/verify",
        "expected": "exit 0",
        "actual": "exit 0",
        "passed": True,
    },
    {
        "name": "http://127.0.0.1/healthz answers",
        "pointer": "/health_watch/checks/0",
        "expected": "HTTP 200",
        "actual": "HTTP 503",
        "passed": False,
    },
]


def health_round(job: OperationJob, *, number: int = 3, passed: bool = False):
    checks = [{**c, "passed": True} for c in ROUND_CHECKS] if passed else ROUND_CHECKS
    failed = [c["name"] for c in checks if not c["passed"]]
    return event_services.job_event(
        job=job,
        kind="health",
        round=number,
        passed=not failed,
        failed=failed,
        consecutive_failures=1 if failed else 0,
        until=job.watch_until.isoformat() if job.watch_until else None,
        checks=checks,
    )


def watching_job(
    users,
    *,
    by: str = "author",
    vm_name: str = "web-w",
    left: timedelta = timedelta(minutes=10),
    rounds: int = 1,
    version=None,
    platform=None,
) -> OperationJob:
    """A clone requested by ``by``, verified and now watching until ``left`` from now,
    with ``rounds`` probe rounds recorded (the last one with a failed HTTP check)."""
    job = clone_job(users, by=by, vm_name=vm_name, version=version, platform=platform)
    job = job_services.job_transition(job=job, to=JobStatus.RUNNING, allowed=[JobStatus.QUEUED])
    job = job_services.job_transition(
        job=job,
        to=JobStatus.WATCHING,
        allowed=[JobStatus.RUNNING],
        reason="watching health for 10 min",
        watch_until=timezone.now() + left,
    )
    for number in range(1, rounds + 1):
        health_round(job, number=number, passed=number < rounds)
    job.refresh_from_db()
    return job


def watch_events(job: OperationJob) -> list[dict]:
    return list(job.events.filter(kind="watch").order_by("seq").values_list("payload", flat=True))
