"""Reads of jobs for their pages, the jobs API, websockets and the CLI.

Who sees which job: superusers and the operators, approvers and viewers roles see every
job; anyone else sees only the jobs they requested. A job someone may not see is
answered as if it did not exist (404), so its existence does not leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from operations_app.models import (
    ACTIVE_STATUSES,
    JobEvent,
    JobStep,
    OperationJob,
    VerificationCheck,
)
from vmpersona.errors import NotFoundError
from vmpersona.roles import APPROVERS, OPERATORS, VIEWERS, has_role

SEE_ALL_ROLES = (OPERATORS, APPROVERS, VIEWERS)

# Event kinds shown as lines of a job's log (a health watch's rounds show in its panel).
LOG_KINDS = ("log", "status", "cancel_requested", "watch")


def sees_all_jobs(user) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or any(has_role(user, role) for role in SEE_ALL_ROLES)


def job_visible_to(user, job: OperationJob) -> bool:
    """May ``user`` see ``job`` (its page, API, events and websocket)?"""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if sees_all_jobs(user):
        return True
    return job.requested_by_id is not None and job.requested_by_id == user.pk


def jobs_visible_to(user) -> QuerySet[OperationJob]:
    qs = OperationJob.objects.all()
    if sees_all_jobs(user):
        return qs
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    return qs.filter(requested_by=user)


def job_list(
    *,
    user,
    kind: str = "",
    status: str | Iterable[str] = "",
    platform: str = "",
    vm_name: str = "",
    mine: bool = False,
) -> QuerySet[OperationJob]:
    """Jobs ``user`` may see, newest first, with what a list row shows (one query)."""
    qs = _filtered(
        jobs_visible_to(user), kind=kind, status=status, platform=platform, vm_name=vm_name
    )
    if mine:
        qs = (
            qs.filter(requested_by=user)
            if user is not None and user.is_authenticated
            else qs.none()
        )
    return qs


def job_list_all(
    *, kind: str = "", status: str | Iterable[str] = "", platform: str = "", vm_name: str = ""
) -> QuerySet[OperationJob]:
    """Every job (for the command line, which reads the database directly anyway)."""
    return _filtered(
        OperationJob.objects.all(), kind=kind, status=status, platform=platform, vm_name=vm_name
    )


def _filtered(qs, *, kind, status, platform, vm_name) -> QuerySet[OperationJob]:
    qs = qs.select_related(
        "platform",
        "source_platform",
        "profile_version__policy",
        "requested_by",
        "trigger_policy",
        "window",
        "approved_by",
    )
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        if isinstance(status, str):
            status = [status]
        status = list(status)
        if "active" in status:
            status = [s for s in status if s != "active"] + list(ACTIVE_STATUSES)
        qs = qs.filter(status__in=status)
    if platform:
        qs = qs.filter(platform__name=platform)
    if vm_name:
        qs = qs.filter(vm_name=vm_name)
    return qs.order_by("-created_at", "-pk")


def vm_active_job(*, vm_name: str) -> OperationJob | None:
    """The job holding the VM named ``vm_name`` now (at most one job per VM is active),
    or None."""
    return OperationJob.objects.filter(vm_name=vm_name, status__in=ACTIVE_STATUSES).first()


def job_get(*, user, pk: int) -> OperationJob:
    """The job with its relations, or ``NotFoundError`` when missing or not visible."""
    job = (
        OperationJob.objects.select_related(
            "platform",
            "source_platform",
            "profile_version__policy",
            "requested_by",
            "trigger_policy",
            "vm",
            "window",
            "approved_by",
        )
        .filter(pk=pk)
        .first()
    )
    if job is None or not job_visible_to(user, job):
        raise NotFoundError(f"No job #{pk}.")
    return job


def job_steps(*, job: OperationJob) -> list[JobStep]:
    return list(job.steps.order_by("index", "started_at", "pk"))


def job_checks(*, job: OperationJob) -> list[VerificationCheck]:
    return list(job.checks.order_by("index", "pk"))


def job_events(*, job: OperationJob, after: int = 0, limit: int = 1000) -> list[JobEvent]:
    return list(JobEvent.objects.filter(job=job, seq__gt=after).order_by("seq")[:limit])


def job_log_events(
    *, job: OperationJob, upto: int, limit: int = 1000
) -> tuple[list[JobEvent], int]:
    """The newest ``limit`` log lines up to ``upto`` (oldest first), and how many were left out."""
    qs = JobEvent.objects.filter(job=job, seq__lte=upto, kind__in=LOG_KINDS)
    total = qs.count()
    events = list(reversed(list(qs.order_by("-seq")[:limit])))
    return events, max(0, total - len(events))


def job_latest_payload(*, job: OperationJob, kind: str, upto: int) -> dict | None:
    """The payload of the job's newest event of ``kind`` up to ``upto``, if any."""
    event = JobEvent.objects.filter(job=job, seq__lte=upto, kind=kind).order_by("-seq").first()
    if event is None or not isinstance(event.payload, dict):
        return None
    return event.payload


def job_result(*, job: OperationJob, upto: int) -> dict:
    """What the job reported at its end: its newest "result" event, else ``job.result``."""
    event = JobEvent.objects.filter(job=job, seq__lte=upto, kind="result").order_by("-seq").first()
    if event is not None and isinstance(event.payload, dict):
        return event.payload
    return job.result if isinstance(job.result, dict) else {}


def job_duration_s(job: OperationJob, *, now: datetime | None = None) -> float | None:
    """Seconds the job has run (so far, while it runs); None before it started."""
    if job.started_at is None:
        return None
    end = job.finished_at or (now or timezone.now())
    return max(0.0, (end - job.started_at).total_seconds())


def check_summary(checks: Iterable[VerificationCheck]) -> dict[str, int]:
    checks = list(checks)
    passed = sum(1 for c in checks if c.passed)
    return {"total": len(checks), "passed": passed, "failed": len(checks) - passed}


def job_check_counts(*, job: OperationJob) -> dict[str, int]:
    counts = job.checks.aggregate(total=Count("pk"), passed=Count("pk", filter=Q(passed=True)))
    total = counts["total"] or 0
    passed = counts["passed"] or 0
    return {"total": total, "passed": passed, "failed": total - passed}
