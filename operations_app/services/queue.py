"""Handing jobs to the task queue, and handing them again when their task was lost."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from operations_app.models import JobStatus, OperationJob
from operations_app.services.events import job_log
from vmpersona.units import duration_text

logger = logging.getLogger(__name__)


def queue_send(job: OperationJob, *, say_failure: bool = True) -> bool:
    """Hand the job to a worker; False (and, with ``say_failure``, a line in the job's
    log) when the task queue cannot be reached: the job stays queued and the reaper
    hands it over again."""
    from django_q.tasks import async_task

    try:
        task_id = async_task(
            "operations_app.tasks.run_job",
            job.pk,
            task_name=f"{job.kind}-{job.vm_name}-{job.pk}",
            group=job.kind,
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure leaves the job queued
        logger.warning("job %s could not be handed to the task queue: %s", job.pk, exc)
        if not say_failure:
            return False
        job_log(
            job=job,
            level="warning",
            message=f"The task queue could not be reached ({exc.__class__.__name__}); "
            "the job stays queued and is handed to a worker again automatically.",
        )
        return False
    OperationJob.objects.filter(pk=job.pk).update(
        queue_task_id=str(task_id or ""), enqueued_at=timezone.now()
    )
    return True


def queue_after_commit(job: OperationJob) -> None:
    transaction.on_commit(lambda: queue_send(job))


def queue_backlog() -> int | None:
    """Tasks waiting in the queue, or None when the queue cannot be asked."""
    from django_q.brokers import get_broker

    try:
        return get_broker().queue_size()
    except Exception as exc:  # noqa: BLE001
        logger.warning("the task queue could not be asked for its size: %s", exc)
        return None


def jobs_requeue(*, after_s: int | None = None) -> list[int]:
    """Hand queued jobs no worker has started within ``after_s`` seconds to the queue
    again: their task was lost (the queue's store was restarted or emptied, or the job
    was requested where the workers' queue could not be reached).

    Only while the queue holds no other task: a busy queue may still hold the job's. A
    job handed over twice runs once; the second task finds it no longer queued.
    """
    after_s = after_s or settings.VMPERSONA_JOB_REQUEUE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=after_s)
    waiting = OperationJob.objects.filter(status=JobStatus.QUEUED).filter(
        Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True, created_at__lt=cutoff)
    )
    if not waiting.exists() or queue_backlog() != 0:
        return []
    requeued = []
    for job in waiting:
        since = job.enqueued_at or job.created_at
        if queue_send(job, say_failure=False):
            job_log(
                job=job,
                level="warning",
                message="No worker started the job within "
                f"{duration_text((timezone.now() - since).total_seconds(), whole=True)} "
                "and the task queue is empty: handed to the queue again.",
            )
            requeued.append(job.pk)
    return requeued
