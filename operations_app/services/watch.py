"""The health watch after a clone, migration or snapshot rollback: confirm it early or
extend it.

The runner of a job in ``watching`` probes the VM until ``watch_until`` (re-read every
round), so moving that time is all it takes: confirming sets it to now (the watch ends
after the round in progress, as if it had passed), extending pushes it out. Cancelling a
watching job reverts it, like any cancel.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from operations_app.models import JobStatus, OperationJob
from operations_app.services.events import job_event
from vmpersona.errors import NotPermitted, StateConflict, field_error
from vmpersona.history import attribute_change
from vmpersona.roles import OPERATORS, has_role

# A worker stays with its job through the watch, and the task queue ends a task after
# Q_CLUSTER["timeout"] seconds: a watch must end this long before that.
WATCH_MARGIN = timedelta(minutes=5)
EXTEND_MINUTES_MAX = 24 * 60


def watch_latest_end(job: OperationJob):
    """The latest a job's watch may end: before the task queue would stop its worker."""
    started = job.started_at or timezone.now()
    return started + timedelta(seconds=int(settings.Q_CLUSTER["timeout"])) - WATCH_MARGIN


def _may_decide(user, job: OperationJob) -> None:
    if not (
        has_role(user, OPERATORS)
        or (job.requested_by_id and job.requested_by_id == getattr(user, "pk", None))
    ):
        raise NotPermitted("Only operators or the job's requester may confirm or extend its watch.")


def _move_watch(*, user, job: OperationJob, until, reason: str, **payload) -> OperationJob:
    with transaction.atomic():
        changed = OperationJob.objects.filter(pk=job.pk, status=JobStatus.WATCHING).update(
            watch_until=until
        )
        if not changed:
            current = (
                OperationJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
            )
            raise StateConflict(f"Job #{job.pk} is {current}, not watching the VM's health.")
        job.refresh_from_db()
        attribute_change(job, user=user, reason=reason)
        job.save(update_fields=["watch_until"])
        job_event(
            job=job,
            kind="watch",
            action=payload.pop("action"),
            by=getattr(user, "username", ""),
            until=until.isoformat(),
            **payload,
        )
    return job


def job_watch_confirm(*, user, job: OperationJob) -> OperationJob:
    """End the watch now, as passed: the job finishes after the probe round in progress
    (a migration then removes the source)."""
    _may_decide(user, job)
    return _move_watch(
        user=user, job=job, until=timezone.now(), reason="health watch confirmed", action="confirm"
    )


def job_watch_extend(*, user, job: OperationJob, minutes: int) -> OperationJob:
    """Watch ``minutes`` longer (from the current end, or from now if that is past)."""
    _may_decide(user, job)
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise field_error("minutes", "must be a whole number of minutes")
    if not 1 <= minutes <= EXTEND_MINUTES_MAX:
        raise field_error("minutes", f"must be between 1 and {EXTEND_MINUTES_MAX}")
    now = timezone.now()
    start = max(job.watch_until or now, now)
    until = start + timedelta(minutes=minutes)
    latest = watch_latest_end(job)
    if until > latest:
        left = int(max(0, (latest - start).total_seconds()) // 60)
        raise field_error(
            "minutes",
            f"the watch can end at {timezone.localtime(latest):%H:%M:%S} at the latest (a worker "
            f"stays with a job for at most {int(settings.Q_CLUSTER['timeout']) // 60} minutes); "
            f"extend by {left} minute(s) or less",
        )
    return _move_watch(
        user=user,
        job=job,
        until=until,
        reason=f"health watch extended by {minutes} min",
        action="extend",
        minutes=minutes,
    )
