"""Reads of scheduled jobs: the list (CLI, pages) and the jobs planned in a time range,
with the window occurrence each waits for (for the windows calendar).

A scheduled job may start from ``not_before`` until ``not_after``; see
``services.scheduling``. Each read is a constant number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from operations_app.models import JobStatus, OperationJob
from operations_app.windows import Occurrence, occurrence_at

_RELATED = (
    "window",
    "platform",
    "source_platform",
    "profile_version__policy",
    "requested_by",
    "approved_by",
)


def scheduled_jobs(*, include_ended: bool = False) -> QuerySet[OperationJob]:
    """Scheduled jobs by their earliest start; with ``include_ended`` also the jobs that
    were scheduled and have started or ended since (newest interval last)."""
    qs = OperationJob.objects.select_related(*_RELATED)
    if include_ended:
        qs = qs.filter(not_before__isnull=False)
    else:
        qs = qs.filter(status=JobStatus.SCHEDULED)
    return qs.order_by("not_before", "pk")


@dataclass(frozen=True)
class ScheduledJobRow:
    """One scheduled job for a calendar: it may start from ``start`` until ``end``;
    ``window`` is the maintenance window it waits for (None for a job asked at a time)
    and ``occurrence`` that window's occurrence its interval lies in."""

    job: OperationJob
    start: datetime
    end: datetime
    window: str | None
    occurrence: Occurrence | None
    awaits_approval: bool


def scheduled_jobs_between(start: datetime, end: datetime) -> list[ScheduledJobRow]:
    """The scheduled jobs whose start interval overlaps ``[start, end)``, by start."""
    rows = []
    jobs = scheduled_jobs().filter(not_before__lt=end, not_after__gte=start)
    for job in jobs:
        assert job.not_before is not None and job.not_after is not None
        occurrence = occurrence_at(job.window.rule(), job.not_before) if job.window else None
        rows.append(
            ScheduledJobRow(
                job=job,
                start=job.not_before,
                end=job.not_after,
                window=job.window.name if job.window is not None else None,
                occurrence=occurrence,
                awaits_approval=job.awaits_approval,
            )
        )
    return rows
