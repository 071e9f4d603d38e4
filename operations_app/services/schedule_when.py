"""When a scheduled job may start: a request's ``window``, ``at`` and ``on_miss``
checked (each problem on its field) and turned into the job's start interval.

- ``window=NAME``: the occurrence of that maintenance window that is open now (before
  its cutoff) or opens next; the job may start from the occurrence's start until its
  cutoff (``last_start``).
- ``window="auto"``: the first instant from now on at which a maintenance window that
  covers the VM lets work start (blackouts and cutoffs counted), until that
  occurrence's cutoff.
- ``at=<aware datetime>``: from that time until ``VMPERSONA_SCHEDULE_AT_GRACE_MINUTES``
  later; a time inside a covering blackout is refused.

A job is matched against windows as its VM (a clone: the VM it will make, on its
platform, of its profile, with its profile's execution flags). A scheduled job waits for
an approver other than its requester when its window requires approval for its kind
(``MaintenanceWindow.approval_required``, ``approval_kinds``) or its VM has a flag of
``VMPERSONA_SCHEDULE_APPROVAL_FLAGS`` (``approval_reasons``). The request services
call ``schedule_request`` before ``job_create``; ``services.scheduling`` moves and
re-checks scheduled jobs with the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from operations_app.models import (
    JobKind,
    JobStatus,
    MaintenanceWindow,
    ManagedVM,
    OnMiss,
    OperationJob,
    ScheduleMode,
    Severity,
    WindowKind,
)
from operations_app.selectors.windows import scope_target, window_state
from operations_app.services.events import job_log
from operations_app.services.notifications import approvers, notify
from operations_app.windows import (
    BLACKOUT,
    Occurrence,
    covers,
    format_occurrence,
    next_occurrence,
    occurrence_at,
)
from vmpersona.errors import field_error

WINDOW_AUTO = "auto"
AT_FORMAT_HINT = "a date and time with its UTC offset, e.g. 2026-05-01T02:00:00+02:00"


@dataclass(frozen=True)
class Slot:
    """When a scheduled job may start: from ``not_before`` until ``not_after``."""

    schedule: str
    not_before: datetime
    not_after: datetime
    window: MaintenanceWindow | None = None


# --------------------------------------------------------------------------- input


def parse_at(value: object) -> datetime | None:
    """``at`` as given: None, a datetime, or ISO 8601 text (``Z`` or an offset); text
    that is no time at all is refused on ``at`` (a time without an offset comes back
    naive, for ``schedule_slot`` to refuse)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed
    raise field_error("at", f"not a time: {AT_FORMAT_HINT}")


def check_on_miss(value: object) -> str:
    if value not in OnMiss.values:
        raise field_error("on_miss", f"one of: {', '.join(OnMiss.values)}")
    return str(value)


# --------------------------------------------------------------------------- scope


def scope_vm(job: OperationJob) -> ManagedVM:
    """What windows are matched against for ``job``: its VM; for a clone (or a job
    whose VM left the inventory) the VM it is about, on the job's platform, of its
    profile version, with that version's execution flags."""
    if job.kind != JobKind.CLONE and job.vm is not None:
        return job.vm
    version = job.profile_version
    return ManagedVM(
        name=job.vm_name,
        platform=job.platform,
        profile_version=version,
        execution_flags=list(version.execution_flags) if version is not None else [],
        labels={},
    )


def approval_flags(vm: ManagedVM) -> list[str]:
    """The VM's execution flags that make a scheduled job on it wait for an approver
    (``VMPERSONA_SCHEDULE_APPROVAL_FLAGS``)."""
    wanted = set(settings.VMPERSONA_SCHEDULE_APPROVAL_FLAGS)
    return [f for f in vm.execution_flags or () if isinstance(f, str) and f in wanted]


def approval_reasons(job: OperationJob, vm: ManagedVM | None = None) -> list[str]:
    """Why the scheduled ``job`` (its slot applied) waits for an approver other than its
    requester, in words: its window requires approval for its kind, and/or its VM (``vm``,
    default ``scope_vm(job)``) has a flag of ``VMPERSONA_SCHEDULE_APPROVAL_FLAGS``. Empty:
    it needs no approval."""
    reasons = []
    window = job.window
    if window is not None and window.requires_approval(job.kind):
        reasons.append(f"window '{window.name}' requires approval")
    flags = approval_flags(vm if vm is not None else scope_vm(job))
    if flags:
        reasons.append(f"{job.vm_name} is flagged {', '.join(flags)}")
    return reasons


# --------------------------------------------------------------------------- slots


def window_named(name: str) -> MaintenanceWindow:
    window = (
        MaintenanceWindow.objects.prefetch_related("platforms", "profiles")
        .filter(name=name)
        .first()
    )
    if window is None:
        raise field_error("window", f"no maintenance window named '{name}'", code="unknown")
    return window


def startable_occurrence(window: MaintenanceWindow, now: datetime) -> Occurrence | None:
    """The occurrence of ``window`` a job may still start in: the one open at ``now``
    before its cutoff, else the next one (None when the rule has no more)."""
    rule = window.rule()
    current = occurrence_at(rule, now)
    if current is not None and now < current.last_start:
        return current
    return next_occurrence(rule, now)


def _window_slot(vm: ManagedVM, name: str, now: datetime) -> Slot:
    window = window_named(name)
    if window.kind != WindowKind.MAINTENANCE:
        raise field_error("window", f"'{name}' is a blackout: nothing may start in it")
    if not window.enabled:
        raise field_error("window", f"maintenance window '{name}' is disabled")
    if not covers(window.scope(), scope_target(vm=vm)):
        raise field_error(
            "window", f"maintenance window '{name}' does not cover {vm.name}", code="scope"
        )
    occurrence = startable_occurrence(window, now)
    if occurrence is None:
        raise field_error(
            "window", f"maintenance window '{name}' has no occurrence to come", code="past"
        )
    return Slot(ScheduleMode.WINDOW, occurrence.start, occurrence.last_start, window)


def _auto_slot(vm: ManagedVM, now: datetime) -> Slot:
    state = window_state(vm=vm, at=now)
    start = state["next_start"]
    if start is not None and start != now:
        state = window_state(vm=vm, at=start)
    occurrence = state["occurrence"]
    if start is None or not state["may_start"] or occurrence is None:
        raise field_error(
            "window",
            f"no maintenance window covering {vm.name} opens in the next ten years",
            code="none",
        )
    window = window_named(state["window"])
    return Slot(ScheduleMode.AUTO, start, occurrence.last_start, window)


def _at_slot(vm: ManagedVM, at: datetime, now: datetime) -> Slot:
    if not isinstance(at, datetime) or timezone.is_naive(at):
        raise field_error("at", f"needs its UTC offset: {AT_FORMAT_HINT}", code="naive")
    if at <= now:
        raise field_error("at", f"{at.isoformat()} is in the past", code="past")
    state = window_state(vm=vm, at=at)
    if state["kind"] == BLACKOUT and not state["may_start"]:
        raise field_error("at", f"{at.isoformat()} falls in {state['reason']}", code="blackout")
    grace = timedelta(minutes=settings.VMPERSONA_SCHEDULE_AT_GRACE_MINUTES)
    return Slot(ScheduleMode.AT, at, at + grace)


def schedule_slot(
    *, vm: ManagedVM, window: str | None, at: datetime | None, now: datetime
) -> Slot | None:
    """When a job on ``vm`` asked for ``window`` or ``at`` may start; None for neither
    (start now). Each problem is a ``ValidationError`` on ``window`` or ``at``."""
    if window is not None and not isinstance(window, str):
        raise field_error("window", "a window name or 'auto'")
    window = (window or "").strip()
    if not window and at is None:
        return None
    if window and at is not None:
        raise field_error("at", "give a window or a time, not both", code="both")
    if at is not None:
        return _at_slot(vm, at, now)
    if window == WINDOW_AUTO:
        return _auto_slot(vm, now)
    return _window_slot(vm, window, now)


def next_slot(job: OperationJob, now: datetime) -> Slot | None:
    """The interval a job that missed its own moves to (``on_miss="next"``): the next
    occurrence of its window, or of any covering window for ``auto``; None for a job
    asked ``at`` a time, or when there is none (the ``ValidationError`` says why)."""
    if job.schedule == ScheduleMode.AUTO:
        return schedule_slot(vm=scope_vm(job), window=WINDOW_AUTO, at=None, now=now)
    if job.schedule == ScheduleMode.WINDOW:
        if job.window is None:
            raise field_error("window", "its maintenance window was deleted", code="unknown")
        return schedule_slot(vm=scope_vm(job), window=job.window.name, at=None, now=now)
    return None


def schedule_request(
    job: OperationJob,
    *,
    window: str | None,
    at: datetime | str | None,
    on_miss: str,
    now: datetime | None = None,
) -> OperationJob:
    """Make the unsaved ``job`` a scheduled one when ``window`` or ``at`` is given (else
    leave it to be queued at once), its start interval checked; ``approval_required``
    when its window or its VM's flags ask for an approver (``approval_reasons``)."""
    on_miss = check_on_miss(on_miss)
    vm = scope_vm(job)
    slot = schedule_slot(vm=vm, window=window, at=parse_at(at), now=now or timezone.now())
    if slot is None:
        return job
    job.status = JobStatus.SCHEDULED
    apply_slot(job, slot)
    job.on_miss = on_miss
    job.approval_required = bool(approval_reasons(job, vm))
    return job


def apply_slot(job: OperationJob, slot: Slot) -> None:
    job.schedule = slot.schedule
    job.not_before = slot.not_before
    job.not_after = slot.not_after
    job.window = slot.window


# --------------------------------------------------------------------------- words


def interval_text(job: OperationJob) -> str:
    """``Sat 13 Dec 2026 02:00–04:30 CET`` (in the window's zone; UTC for a time)."""
    if job.not_before is None or job.not_after is None:
        return ""
    zone = job.window.timezone if job.window is not None else "UTC"
    span = Occurrence(start=job.not_before, end=job.not_after, last_start=job.not_after)
    return format_occurrence(span, zone)


def schedule_text(job: OperationJob) -> str:
    """``in maintenance window 'patch-night', may start Sat 13 Dec 2026 02:00–04:30 CET``."""
    interval = interval_text(job)
    if job.schedule == ScheduleMode.AT:
        return f"at a set time, may start {interval}"
    name = job.window.name if job.window is not None else "(deleted)"
    how = "in the next window covering it, " if job.schedule == ScheduleMode.AUTO else "in "
    return f"{how}maintenance window '{name}', may start {interval}"


def schedule_recorded(job: OperationJob) -> None:
    """After a scheduled job is recorded: say when it may start in its log, and tell
    the approvers (its requester aside) when it waits for one of them."""
    job_log(job=job, message=f"Scheduled {schedule_text(job)}.")
    if not job.approval_required:
        return
    reasons = approval_reasons(job)
    log_approval_wait(job, reasons)
    by = job.requested_by.username if job.requested_by is not None else "the system"
    tell_approvers(job, reasons, how=f"scheduled by {by}")


def log_approval_wait(job: OperationJob, reasons: list[str]) -> None:
    job_log(
        job=job,
        level="warning",
        message=f"Waits for an approval ({approval_text(reasons)}): the job starts only "
        "once an approver other than its requester approves it.",
    )


def approval_text(reasons: list[str]) -> str:
    """``window 'payments-night' requires approval and prod-1 is flagged Production``."""
    return " and ".join(reasons) or "an approval is required"


def tell_approvers(job: OperationJob, reasons: list[str], *, how: str) -> None:
    """Tell the approvers (the requester aside) that ``job`` waits for one of them, and
    why; ``how`` says what happened to it ("scheduled by carol", "moved by dave")."""
    notify(
        recipients=[u for u in approvers() if u.pk != job.requested_by_id],
        severity=Severity.INFO,
        message=f"{job.get_kind_display()} of {job.vm_name} (job #{job.pk}), {how} "
        f"{schedule_text(job)}, waits for your approval: {approval_text(reasons)}.",
        link=job.get_absolute_url(),
        job=job,
    )
