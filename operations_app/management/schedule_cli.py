"""The scheduling subcommands of ``manage.py persona``: list scheduled jobs, move one,
approve or reject one, and the schedule lines of ``persona job ID``."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from operations_app.models import JobStatus, OperationJob
from operations_app.selectors.scheduling import scheduled_jobs
from operations_app.services import scheduling as scheduling_services
from operations_app.services.schedule_when import interval_text, schedule_text

HEADER = ("ID", "KIND", "VM", "STATUS", "WINDOW", "NOT BEFORE", "NOT AFTER", "ON MISS", "APPROVAL")


def _utc(value) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def approval_text(job: OperationJob) -> str:
    """``-`` (none needed), ``waiting``, ``approved by NAME``."""
    if not job.approval_required:
        return "-"
    if job.approved_by_id is not None:
        return f"approved by {job.approved_by.username if job.approved_by else '?'}"
    return "waiting" if job.status == JobStatus.SCHEDULED else "never approved"


def window_text(job: OperationJob) -> str:
    if job.schedule == "at":
        return "(at a time)"
    name = job.window.name if job.window is not None else "(deleted)"
    return f"{name} (auto)" if job.schedule == "auto" else name


def print_scheduled(out, *, include_ended: bool = False) -> None:
    """Scheduled jobs by earliest start (``include_ended``: also those that started or
    ended since), as a table."""
    jobs = list(scheduled_jobs(include_ended=include_ended))
    if not jobs:
        out.write("no scheduled jobs" if not include_ended else "no job was ever scheduled")
        return
    rows = [HEADER] + [
        (
            str(job.pk),
            job.kind,
            job.vm_name,
            job.status,
            window_text(job),
            _utc(job.not_before),
            _utc(job.not_after),
            job.on_miss,
            approval_text(job),
        )
        for job in jobs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.write("  ".join([*cells, row[-1]]).rstrip())


def schedule_rows(job: OperationJob) -> list[tuple[str, str]]:
    """The lines ``persona job ID`` adds for a job that was scheduled."""
    if job.not_before is None:
        return []
    rows = [
        ("window", window_text(job)),
        ("may start", f"{_utc(job.not_before)} - {_utc(job.not_after)}"),
    ]
    if job.window is not None:
        rows.append(("local", interval_text(job)))
    rows.append(("on miss", job.on_miss))
    if job.approval_required:
        rows.append(("approval", approval_text(job)))
    return rows


def schedule_move(*, user, job: OperationJob, opts: dict[str, Any]) -> OperationJob:
    return scheduling_services.job_schedule_update(
        user=user,
        job=job,
        window=opts.get("window") or None,
        at=opts.get("at") or None,
        on_miss=opts.get("on_miss") or None,
    )


def scheduled_line(job: OperationJob) -> str:
    """``job 12 scheduled: snapshot web-1 in maintenance window 'nightly', may start
    ...`` (and whether it waits for an approver)."""
    what = f"{job.get_kind_display().lower()} {job.vm_name}"
    line = f"job {job.pk} scheduled: {what} {schedule_text(job)}"
    if job.approval_required and job.approved_by_id is None:
        line += "; it waits for an approver other than its requester"
    return line
