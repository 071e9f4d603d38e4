"""The reaper: ends jobs whose worker died, undoes what they did, retries leftovers."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from operations_app.models import (
    WORKING_STATUSES,
    JobKind,
    JobResource,
    JobStatus,
    OperationJob,
    Severity,
)
from operations_app.services.events import job_log
from operations_app.services.jobs import job_cancelled_by, job_transition
from operations_app.services.notifications import notify_job_outcome
from operations_app.services.queue import jobs_requeue
from operations_app.services.resources import resources_remove
from vmpersona.errors import StateConflict
from vmpersona.history import acting_for

logger = logging.getLogger(__name__)


def _worker_dead(worker: str) -> bool:
    """True when ``host:pid`` names a process on this host that no longer exists."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # A killed worker whose parent has not collected it yet is a zombie: dead too.
    try:
        with open(f"/proc/{int(pid)}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def jobs_reap(*, stale_after_s: int | None = None) -> list[int]:
    """End jobs whose worker died and remove what they left behind.

    A job is dead when its worker process is gone (same host) or it has not beaten its
    heartbeat for ``stale_after_s`` seconds. Its resources are removed and it ends as
    rolled back (cancelled when someone had asked to cancel it; failed, naming what could
    not be removed); administrators are told.
    """

    stale_after_s = stale_after_s or settings.VMPERSONA_JOB_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=stale_after_s)
    reaped = []
    for job in OperationJob.objects.filter(status__in=WORKING_STATUSES).select_related(
        "platform", "requested_by"
    ):
        last = job.heartbeat_at or job.started_at or job.created_at
        dead = (job.worker and _worker_dead(job.worker)) or last < cutoff
        if not dead:
            continue
        # What the reaper does for the job is its requester's change in the history.
        with acting_for(job.requested_by):
            if _reap_one(job):
                reaped.append(job.pk)
    _retry_leftovers()
    jobs_requeue()
    return reaped


def _reap_one(job: OperationJob) -> bool:
    """Roll back a dead worker's ``job`` and end it; False when it ended meanwhile."""
    reason = f"The worker running this job ({job.worker or 'unknown'}) stopped responding."
    try:
        if job.status != JobStatus.ROLLING_BACK:
            job_transition(
                job=job,
                to=JobStatus.ROLLING_BACK,
                allowed=[job.status],
                reason="worker died",
                error=reason,
            )
    except StateConflict:
        return False
    leftovers = _reap_rollback(job)
    if leftovers:
        job_transition(
            job=job,
            to=JobStatus.FAILED,
            allowed=[JobStatus.ROLLING_BACK],
            reason="rollback incomplete",
            error=reason + " Rollback left: " + "; ".join(leftovers),
        )
    elif job.cancel_requested:
        # Someone had asked to cancel it: it ends as they asked, rolled back all the same.
        job_transition(
            job=job,
            to=JobStatus.CANCELLED,
            allowed=[JobStatus.ROLLING_BACK],
            reason="rolled back",
            error=f"{_cancelled_text(job)} {reason}",
        )
    else:
        job_transition(
            job=job,
            to=JobStatus.ROLLED_BACK,
            allowed=[JobStatus.ROLLING_BACK],
            reason="reaped",
            error=reason,
        )
    if job.status == JobStatus.CANCELLED:
        notify_job_outcome(
            job=job,
            severity=Severity.WARNING,
            message=f"{job.get_kind_display()} of {job.vm_name} was cancelled and rolled back "
            f"({reason})",
        )
    else:
        notify_job_outcome(
            job=job,
            severity=Severity.ERROR,
            message=f"{job.get_kind_display()} of {job.vm_name} was interrupted ({reason}) and rolled back"
            + (f"; left: {'; '.join(leftovers)}" if leftovers else "."),
        )
    return True


def _cancelled_text(job: OperationJob) -> str:
    by = job_cancelled_by(job=job)
    return f"Cancelled by {by}." if by else "Cancelled on request."


JobRollback = Callable[[OperationJob], list[str]]

# How to undo a job of each kind the way its own runner would. The runners fill this
# (``operations_app.runners`` registers them when the app loads): services never import
# runners.
_rollbacks: dict[str, JobRollback] = {}


def register_rollback(kind: str, rollback: JobRollback) -> None:
    """Let the reaper undo a dead worker's jobs of ``kind`` through ``rollback``."""
    _rollbacks[kind] = rollback


def _reap_rollback(job: OperationJob) -> list[str]:
    """Undo a dead worker's job the way its own runner would (a migration moves the VM
    back or restarts the source, a rollback returns to the state it kept); plain
    resource removal when no rollback is registered for its kind."""
    rollback = _rollbacks.get(job.kind)
    if job.kind == JobKind.DECOMMISSION or rollback is None:
        return resources_remove(job=job)  # a decommission finishes removing what it was removing
    try:
        return rollback(job)
    except Exception as exc:  # noqa: BLE001 - the reaper must end the job regardless
        logger.warning("rollback of reaped job %s failed: %s", job.pk, exc, exc_info=True)
        return resources_remove(job=job) + [f"its runner's rollback raised {exc}"]


def _retry_leftovers() -> None:
    """Jobs that ended with things their rollback could not remove: try again."""
    stuck = (
        JobResource.objects.filter(
            removed_at__isnull=True,
            released_at__isnull=True,
            job__status__in=[
                JobStatus.FAILED,
                JobStatus.ROLLED_BACK,
                JobStatus.ERRORED,
                JobStatus.CANCELLED,
            ],
        )
        .values_list("job_id", flat=True)
        .distinct()
    )
    for job in OperationJob.objects.filter(pk__in=list(stuck)).exclude(kind="decommission"):
        if job.kind == JobKind.MIGRATE:
            # Its own rollback again: it also restarts the source it had to leave stopped.
            leftovers = _reap_rollback(job)
        else:
            leftovers = resources_remove(job=job)
        if not leftovers:
            job_log(job=job, message="What the rollback had left behind is now removed.")
