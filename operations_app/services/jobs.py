"""Job records: creation, state transitions, steps, progress and cancellation.

A transition is a conditional update (``filter(pk, status__in=allowed).update(...)``)
that raises ``StateConflict`` when no row changed, so two workers (or a worker and the
reaper) can never both move a job.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from operations_app.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    JobEvent,
    JobKind,
    JobStatus,
    JobStep,
    OperationJob,
)
from operations_app.services.events import job_event
from operations_app.services.queue import queue_after_commit
from operations_app.services.schedule_when import schedule_recorded
from vmpersona.errors import NotPermitted, StateConflict
from vmpersona.history import attribute_change
from vmpersona.roles import OPERATORS, has_role

# ``job_transition``'s default ``user``: the request's user (simple-history's middleware).
_REQUEST_USER: Any = object()


def job_transition(
    *,
    job: OperationJob,
    to: str,
    allowed: Iterable[str],
    reason: str = "",
    user: Any = _REQUEST_USER,
    **fields: Any,
) -> OperationJob:
    """Move ``job`` to ``to`` if its status is one of ``allowed``; else ``StateConflict``.
    ``user``: who the history row names (default: the request's user, if any)."""
    allowed = tuple(allowed)
    now = timezone.now()
    updates: dict[str, Any] = {"status": to, **fields}
    if to == JobStatus.RUNNING and "started_at" not in fields:
        updates["started_at"] = now
    if to in TERMINAL_STATUSES:
        updates["finished_at"] = now
    with transaction.atomic():
        changed = OperationJob.objects.filter(pk=job.pk, status__in=allowed).update(**updates)
        if not changed:
            current = (
                OperationJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
            )
            raise StateConflict(f"Job #{job.pk} is {current}; it cannot become {to}.")
        job.refresh_from_db()
        # One history row per transition, with the reason; made by the request's person,
        # else (a worker, the reaper, a tick) for the job's requester.
        if user is _REQUEST_USER:
            attribute_change(job, reason=reason or f"status {to}", on_behalf_of=job.requested_by)
        else:
            attribute_change(job, reason=reason or f"status {to}", user=user)
        job.save(update_fields=["status"])
        job_event(job=job, kind="status", status=to, reason=reason, progress=job.progress)
    return job


def job_heartbeat(*, job: OperationJob) -> None:
    OperationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())


def job_progress(*, job: OperationJob, progress: int, step: str = "") -> None:
    progress = max(0, min(100, int(progress)))
    OperationJob.objects.filter(pk=job.pk).update(
        progress=progress, current_step=step, heartbeat_at=timezone.now()
    )
    job.progress = progress
    job.current_step = step
    job_event(job=job, kind="progress", progress=progress, step=step)


def job_cancel_requested(*, job: OperationJob) -> bool:
    return OperationJob.objects.filter(pk=job.pk, cancel_requested=True).exists()


def job_cancelled_by(*, job: OperationJob) -> str:
    """Who asked to cancel ``job`` (the newest ``cancel_requested`` event), or ""."""
    payload = (
        JobEvent.objects.filter(job_id=job.pk, kind="cancel_requested")
        .order_by("-seq")
        .values_list("payload", flat=True)
        .first()
    )
    if not isinstance(payload, dict):
        return ""
    return str(payload.get("by") or "")


def job_result_update(*, job: OperationJob, **values: Any) -> OperationJob:
    """Merge ``values`` into the job's ``result``, in the row and in ``job`` alike."""
    job.result = {**(job.result or {}), **values}
    OperationJob.objects.filter(pk=job.pk).update(result=job.result)
    return job


def job_provisioned_plan(*, job: OperationJob) -> dict | None:
    """The provisioning plan the latest succeeded clone or migration of ``job``'s VM
    (``job`` itself aside) recorded, or ``None`` when there is none."""
    earlier = (
        OperationJob.objects.filter(
            vm_name=job.vm_name,
            kind__in=[JobKind.CLONE, JobKind.MIGRATE],
            status=JobStatus.SUCCEEDED,
        )
        .exclude(pk=job.pk)
        .order_by("-finished_at", "-pk")
        .first()
    )
    return (earlier.result or {}).get("plan") if earlier else None


# --------------------------------------------------------------------------- steps


def step_start(*, job: OperationJob, index: int, name: str, title: str = "") -> JobStep:
    step = JobStep.objects.create(
        job=job, index=index, name=name, title=title, started_at=timezone.now()
    )
    job_event(job=job, kind="step_started", index=index, step=name, title=title)
    return step


def step_finish(*, step: JobStep, status: str, output: str = "") -> JobStep:
    step.status = status
    step.finished_at = timezone.now()
    if output:
        step.output = (step.output + "\n" + output).strip() if step.output else output
    step.save(update_fields=["status", "finished_at", "output"])
    job_event(
        job=step.job,
        kind="step_finished",
        index=step.index,
        step=step.name,
        status=status,
        duration_s=step.duration_s,
        output=step.output[-2000:],
    )
    return step


def vm_busy_message(vm_name: str, active: OperationJob | None) -> str:
    """Why a VM takes no new job: the one-active-job-per-VM rule, naming the job."""
    holder = (
        f"#{active.pk}, {active.get_kind_display().lower()}, {active.get_status_display().lower()}"
        if active is not None
        else "#?"
    )
    return f"VM '{vm_name}' already has an active job ({holder}); wait for it or cancel it."


def job_create(*, job: OperationJob, user) -> OperationJob:
    """Record ``job`` and hand it to the queue after commit; a ``scheduled`` job waits
    for ``services.scheduling`` to queue it."""
    try:
        with transaction.atomic():
            attribute_change(job, user=user, reason=f"{job.kind} requested")
            job.save()
    except IntegrityError as exc:
        active = OperationJob.objects.filter(
            vm_name=job.vm_name, status__in=ACTIVE_STATUSES
        ).first()
        raise StateConflict(vm_busy_message(job.vm_name, active)) from exc
    job_event(job=job, kind="status", status=job.status, reason="requested")
    if job.status == JobStatus.SCHEDULED:
        schedule_recorded(job)
    else:
        queue_after_commit(job)
    return job


def job_cancel(*, user, job: OperationJob) -> OperationJob:
    """Ask a job to stop: a scheduled or queued job ends at once; a running one rolls
    back at its next step."""
    if not (
        has_role(user, OPERATORS)
        or (job.requested_by_id and job.requested_by_id == getattr(user, "pk", None))
    ):
        raise NotPermitted("Only operators or the job's requester may cancel it.")
    by = getattr(user, "username", "") or "the system"
    try:
        return job_transition(
            job=job,
            to=JobStatus.CANCELLED,
            allowed=[JobStatus.SCHEDULED],
            reason=f"scheduled job cancelled by {by}",
            user=user,
            error=f"Cancelled by {by} before it started.",
        )
    except StateConflict:
        pass  # not (or no longer) scheduled: cancel it as any other job
    with transaction.atomic():
        changed = OperationJob.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(
            cancel_requested=True
        )
        if not changed:
            raise StateConflict(f"Job #{job.pk} has already ended ({job.status}).")
        job_event(job=job, kind="cancel_requested", by=getattr(user, "username", ""))
    try:
        job = job_transition(
            job=job,
            to=JobStatus.CANCELLED,
            allowed=[JobStatus.QUEUED],
            reason="cancelled before it started",
            user=user,
        )
    except StateConflict:
        job.refresh_from_db()  # running: the runner sees the flag between steps
    return job


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
