"""How a scheduled job's schedule reads on its page: the window, the interval in the
window's zone and in UTC, what happens on a miss, and its approval."""

from __future__ import annotations

from typing import Any

from operations_app.models import JobStatus, OperationJob, ScheduleMode
from operations_app.services.schedule_when import interval_text


def schedule_view(job: OperationJob) -> dict[str, Any] | None:
    """None for a job that was never scheduled."""
    if job.not_before is None:
        return None
    if job.schedule == ScheduleMode.AT:
        how = "At a time"
    elif job.schedule == ScheduleMode.AUTO:
        how = "In the next maintenance window covering it"
    else:
        how = "In a maintenance window"
    if not job.approval_required:
        approval = ""
    elif job.approved_by_id is not None:
        approval = "approved"
    elif job.status == JobStatus.SCHEDULED:
        approval = "waiting"
    else:
        approval = "not approved"
    return {
        "how": how,
        "window": job.window,
        "window_deleted": job.schedule != ScheduleMode.AT and job.window is None,
        "interval": interval_text(job),
        "not_before": job.not_before,
        "not_after": job.not_after,
        "on_miss": job.get_on_miss_display(),
        "approval": approval,
        "waiting": job.status == JobStatus.SCHEDULED,
    }
