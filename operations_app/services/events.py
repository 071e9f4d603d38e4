"""Job events and live pushes.

Events get a per-job sequence number from a counter on the job row, incremented in the
same transaction; pushes to websocket groups happen after commit, so a client never sees
an event the database does not hold. ``push`` is the one way anything reaches a socket.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import F

from operations_app.models import JobEvent, OperationJob

logger = logging.getLogger(__name__)


def job_group(job_id: int) -> str:
    return f"job-{job_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def push(group: str, message: dict[str, Any]) -> None:
    """Send to a websocket group after the current transaction commits (the one way to push)."""

    def send() -> None:
        try:
            from asgiref.sync import async_to_sync
            from channels.layers import get_channel_layer

            layer = get_channel_layer()
            if layer is not None:
                async_to_sync(layer.group_send)(group, {"type": "push.message", "message": message})
        except Exception:  # a push is best effort; the database holds the truth
            logger.warning("push to %s failed", group, exc_info=True)

    transaction.on_commit(send)


def event_to_dict(event: JobEvent) -> dict[str, Any]:
    return {
        "job": event.job_id,
        "seq": event.seq,
        "kind": event.kind,
        "payload": event.payload,
        "at": event.created_at.isoformat() if event.created_at else None,
    }


@transaction.atomic
def job_event(*, job: OperationJob, kind: str, **payload: Any) -> JobEvent:
    """Append an event to the job and push it to the job's group after commit."""
    OperationJob.objects.filter(pk=job.pk).update(event_seq=F("event_seq") + 1)
    seq = OperationJob.objects.values_list("event_seq", flat=True).get(pk=job.pk)
    event = JobEvent.objects.create(job_id=job.pk, seq=seq, kind=kind, payload=payload)
    push(job_group(job.pk), event_to_dict(event))
    return event


def job_log(*, job: OperationJob, message: str, level: str = "info", step: str = "") -> JobEvent:
    return job_event(job=job, kind="log", level=level, message=message, step=step)
