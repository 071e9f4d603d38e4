"""Scheduled jobs: moving, approving and rejecting them, and starting them on time.

A job requested for a maintenance window or a time (``services.schedule_when``) is
recorded as ``scheduled`` with a start interval ``[not_before, not_after]``. It holds no
VM until it starts (``scheduled`` is not an active status), and it is never queued

- before ``not_before``, nor after ``not_after``;
- while the windows say nothing may start on its VM (``selectors.windows.window_state``:
  a blackout, a cutoff, outside its window; a job asked ``at`` a time waits out a
  blackout only);
- while it waits for an approver (``approval_required``: its window requires approval
  for its kind, or its VM has a flag of ``VMPERSONA_SCHEDULE_APPROVAL_FLAGS``), nor
  while another job is active on its VM.

``scheduled_jobs_tick`` (every minute, ``tasks.start_scheduled_jobs``) looks at each
scheduled job whose interval has begun. Past ``not_after`` it moves to the next
occurrence (``on_miss="next"``; a job asked ``at`` a time cannot) or ends ``expired``.
Otherwise it checks again what the request checked (the VM is still there and managed,
the profile version still usable, a migration's dry run still goes ahead): a refusal
ends the job ``skipped`` with the reason; then it is queued and handed to the workers.
The requester is told each of these in the bell menu (and by email when they have
one); approvers are told when a job waits for them.

Requesters and operators may move (``job_schedule_update``) or cancel
(``services.jobs.job_cancel``) a scheduled job until it starts; approvers other than its
requester approve or reject it (superusers included, as with profile versions).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from operations_app import hypervisor as hv
from operations_app.models import (
    ACTIVE_STATUSES,
    JobEvent,
    JobKind,
    JobStatus,
    JobTrigger,
    ManagedVM,
    OperationJob,
    ScheduleMode,
    Severity,
    VMState,
)
from operations_app.selectors.maintenance import maintenance_refusal
from operations_app.selectors.windows import window_state
from operations_app.services import clones as clone_services
from operations_app.services import migrations as migration_services
from operations_app.services.events import job_log
from operations_app.services.jobs import job_transition
from operations_app.services.notifications import notify
from operations_app.services.queue import queue_send
from operations_app.services.schedule_when import (
    apply_slot,
    approval_reasons,
    approval_text,
    check_on_miss,
    interval_text,
    log_approval_wait,
    next_slot,
    parse_at,
    schedule_slot,
    schedule_text,
    scope_vm,
    tell_approvers,
)
from operations_app.windows import BLACKOUT, occurrence_at
from profiles_app.models import VersionStatus
from vmpersona.errors import NotPermitted, StateConflict, error_text, field_error
from vmpersona.history import attribute_change
from vmpersona.roles import APPROVERS, OPERATORS, has_role, require_role

logger = logging.getLogger(__name__)

COMMENT_MAX = 500

# What the tick did with each job it looked at.
QUEUED, WAITING, MOVED, EXPIRED, SKIPPED = "queued", "waiting", "moved", "expired", "skipped"


def _name(user) -> str:
    return getattr(user, "username", "") or "the system"


def _lock_scheduled(job: OperationJob) -> OperationJob:
    """The job's row, locked, if it is still scheduled; else ``StateConflict``."""
    locked = (
        OperationJob.objects.select_for_update(of=("self",))
        .select_related("window", "platform", "vm", "profile_version", "requested_by")
        .filter(pk=job.pk)
        .first()
    )
    if locked is None or locked.status != JobStatus.SCHEDULED:
        status = locked.status if locked is not None else "gone"
        raise StateConflict(
            f"Job #{job.pk} is {status}: only a scheduled job can be moved, approved or "
            "rejected before it starts."
        )
    return locked


def _tell_requester(job: OperationJob, severity: str, message: str) -> None:
    if job.requested_by is not None:
        notify(
            recipients=[job.requested_by],
            severity=severity,
            message=message,
            link=job.get_absolute_url(),
            job=job,
        )


def _what(job: OperationJob) -> str:
    return f"{job.get_kind_display()} of {job.vm_name} (job #{job.pk})"


# --------------------------------------------------------------------------- edit


def may_edit_schedule(user, job: OperationJob) -> bool:
    """Operators and the job's requester may move or cancel a scheduled job."""
    return has_role(user, OPERATORS) or (
        job.requested_by_id is not None and job.requested_by_id == getattr(user, "pk", None)
    )


@transaction.atomic
def job_schedule_update(
    *,
    user,
    job: OperationJob,
    window: str | None = None,
    at: datetime | str | None = None,
    on_miss: str | None = None,
    now: datetime | None = None,
) -> OperationJob:
    """Move a scheduled job to ``window`` (a name or "auto") or to ``at``, and/or change
    its ``on_miss``. Checked as a request is. Whether it needs an approval is worked out
    again for the new slot (into a window that requires one: it does; out of it: only
    when its VM's flags say so), and a moved job that needs one needs it again (the
    approver approved the old time); the approvers are told."""
    if not may_edit_schedule(user, job):
        raise NotPermitted("Only operators or the job's requester may change its schedule.")
    job = _lock_scheduled(job)
    now = now or timezone.now()
    when = parse_at(at)
    window = (window or "").strip() or None
    if window is None and when is None and on_miss is None:
        raise field_error("window", "say what changes: window, at or on_miss", code="required")
    fields = []
    said = []
    reasons: list[str] = []
    if on_miss is not None:
        job.on_miss = check_on_miss(on_miss)
        fields.append("on_miss")
        said.append(f"on a miss: {job.on_miss}")
    if window is not None or when is not None:
        slot = schedule_slot(vm=scope_vm(job), window=window, at=when, now=now)
        assert slot is not None  # one of the two was given
        apply_slot(job, slot)
        fields += ["schedule", "not_before", "not_after", "window"]
        said.insert(0, schedule_text(job))
        reasons = approval_reasons(job)
        said += _approval_changed(job, reasons)
        fields += ["approval_required", "approved_by", "approved_at"]
    attribute_change(job, user=user, reason=f"schedule changed by {_name(user)}")
    job.save(update_fields=fields)
    job_log(job=job, message=f"Schedule changed by {_name(user)}: {'; '.join(said)}.")
    if reasons and job.awaits_approval:
        tell_approvers(job, reasons, how=f"moved by {_name(user)}")
    return job


def _approval_changed(job: OperationJob, reasons: list[str]) -> list[str]:
    """Set whether the moved ``job`` needs an approval (``reasons``: why, from
    ``approval_reasons``); an approval of its old slot no longer counts. What changed,
    in words."""
    before = job.approval_required
    approved = job.approved_by_id is not None
    job.approval_required = bool(reasons)
    job.approved_by = None
    job.approved_at = None
    if job.approval_required and approved:
        return [f"it needs an approval again ({approval_text(reasons)})"]
    if job.approval_required and not before:
        return [f"it now needs an approval ({approval_text(reasons)})"]
    if before and not job.approval_required:
        return ["it no longer needs an approval"]
    return []


# --------------------------------------------------------------------------- approval


def may_approve(user, job: OperationJob) -> bool:
    """Whether ``user`` could decide on ``job`` now: reject it, and approve it unless it
    is approved already (for showing buttons)."""
    return (
        job.status == JobStatus.SCHEDULED
        and job.approval_required
        and has_role(user, APPROVERS)
        and job.requested_by_id != getattr(user, "pk", None)
    )


def _check_approver(user, job: OperationJob, action: str) -> None:
    """Separation of duties: nobody approves a job they requested, superusers included."""
    require_role(user, APPROVERS, f"{action} scheduled jobs")
    if job.requested_by_id is not None and job.requested_by_id == user.pk:
        raise NotPermitted(
            f"{user.username} requested job #{job.pk} and so may not {action} it; "
            "another approver must."
        )


def _comment(comment: str) -> str:
    if not isinstance(comment, str) or len(comment) > COMMENT_MAX:
        raise field_error("comment", f"at most {COMMENT_MAX} characters")
    return comment.strip()


@transaction.atomic
def job_schedule_approve(*, user, job: OperationJob, comment: str = "") -> OperationJob:
    """Approve a scheduled job that waits for an approver; it starts in its interval."""
    _check_approver(user, job, "approve")
    comment = _comment(comment)
    job = _lock_scheduled(job)
    if not job.approval_required:
        raise StateConflict(f"Job #{job.pk} needs no approval.")
    if job.approved_by_id is not None:
        raise StateConflict(f"Job #{job.pk} was approved already by {job.approved_by}.")
    job.approved_by = user
    job.approved_at = timezone.now()
    attribute_change(job, user=user, reason=f"approved: {comment}" if comment else "approved")
    job.save(update_fields=["approved_by", "approved_at"])
    job_log(
        job=job,
        message=f"Approved by {user.username}" + (f": {comment}" if comment else "."),
    )
    _tell_requester(
        job,
        Severity.SUCCESS,
        f"{_what(job)} was approved by {user.username}; it starts {schedule_text(job)}.",
    )
    return job


@transaction.atomic
def job_schedule_reject(*, user, job: OperationJob, comment: str) -> OperationJob:
    """Reject a scheduled job that waits for an approver: it ends ``rejected``. A
    comment that tells the requester why is required."""
    _check_approver(user, job, "reject")
    comment = _comment(comment)
    if not comment:
        raise field_error(
            "comment", "a rejection needs a comment that tells the requester why", "required"
        )
    job = _lock_scheduled(job)
    if not job.approval_required:
        raise StateConflict(f"Job #{job.pk} needs no approval.")
    job = job_transition(
        job=job,
        to=JobStatus.REJECTED,
        allowed=[JobStatus.SCHEDULED],
        reason=f"rejected by {user.username}",
        user=user,
        error=f"Rejected by {user.username}: {comment}",
    )
    _tell_requester(
        job, Severity.WARNING, f"{_what(job)} was rejected by {user.username}: {comment}"
    )
    return job


# --------------------------------------------------------------------------- the tick


def scheduled_jobs_tick(now: datetime | None = None) -> dict[str, list[int]]:
    """Start, move or end each scheduled job whose interval has begun by ``now``
    (default: now); the ids by what happened to them."""
    now = now or timezone.now()
    done: dict[str, list[int]] = {QUEUED: [], WAITING: [], MOVED: [], EXPIRED: [], SKIPPED: []}
    due = (
        OperationJob.objects.filter(status=JobStatus.SCHEDULED, not_before__lte=now)
        .select_related(
            "window",
            "platform",
            "source_platform",
            "vm__platform",
            "profile_version__policy",
            "requested_by",
            "approved_by",
        )
        .order_by("not_before", "pk")
    )
    for job in due:
        try:
            outcome = _tick_one(job, now)
        except StateConflict:
            continue  # cancelled, rejected or moved meanwhile
        except Exception:  # noqa: BLE001 - one job's trouble must not hold up the others
            logger.exception("scheduled job %s could not be looked at", job.pk)
            continue
        done[outcome].append(job.pk)
    return done


def _tick_one(job: OperationJob, now: datetime) -> str:
    if job.not_after is None or now > job.not_after:
        return _missed(job, now)
    if job.approval_required and job.approved_by_id is None:
        return _wait(job, "it waits for an approver other than its requester")
    if job.kind == JobKind.CLONE:
        # placed automatically: the platform is chosen again now, before the windows
        # and the checks look at it
        nowhere = clone_services.clone_replace(job)
        if nowhere:
            return _end(job, JobStatus.SKIPPED, f"Skipped: {nowhere}.", severity=Severity.WARNING)
    blocked = _window_blocks(job, now)
    if blocked:
        return _wait(job, blocked)
    verdict, reason = _recheck(job)
    if verdict == SKIPPED:
        return _end(job, JobStatus.SKIPPED, f"Skipped: {reason}.", severity=Severity.WARNING)
    if verdict == WAITING:
        return _wait(job, reason)
    return _queue(job, now)


def _window_blocks(job: OperationJob, now: datetime) -> str:
    """Why the windows say the job may not start at ``now``, or "" when it may."""
    vm = scope_vm(job)
    state = window_state(vm=vm, at=now)
    if job.schedule == ScheduleMode.AT:
        if state["kind"] == BLACKOUT and not state["may_start"]:
            return state["reason"]
        return ""
    if not state["may_start"]:
        return state["reason"]
    if job.schedule == ScheduleMode.WINDOW and job.window is not None:
        occurrence = occurrence_at(job.window.rule(), now)
        if occurrence is None or now >= occurrence.last_start or not job.window.enabled:
            return f"maintenance window '{job.window.name}' takes no new work now"
    return ""


def _recheck(job: OperationJob) -> tuple[str, str]:
    """What the request checked, again: (``"ok"``, ""), (``WAITING``, why) or
    (``SKIPPED``, why)."""
    version = job.profile_version
    if version is not None:
        version.refresh_from_db(fields=["status"])
    if job.kind == JobKind.CLONE:
        if version is None or version.status != VersionStatus.APPROVED:
            state = version.get_status_display().lower() if version is not None else "gone"
            label = version.label if version is not None else "its profile version"
            return SKIPPED, f"{label} is {state}; only approved versions can be cloned"
        job.platform.refresh_from_db(fields=["enabled"])
        if not job.platform.enabled:
            return SKIPPED, f"platform {job.platform.name} is disabled"
        refusal = maintenance_refusal(job.platform)
        if refusal:
            return SKIPPED, refusal.rstrip(".")
        if ManagedVM.objects.filter(name=job.vm_name).exclude(state=VMState.GONE).exists():
            return SKIPPED, f"a VM named '{job.vm_name}' exists already"
    else:
        vm = (
            ManagedVM.objects.select_related("platform").filter(pk=job.vm_id).first()
            if job.vm_id is not None
            else None
        )
        if vm is None:
            return SKIPPED, f"VM '{job.vm_name}' is no longer in the inventory"
        job.vm = vm
        if vm.state == VMState.GONE:
            return SKIPPED, f"VM '{vm.name}' is gone"
        if job.kind != JobKind.DECOMMISSION:
            if not vm.managed:
                return SKIPPED, f"VM '{vm.name}' is not managed by VM Persona"
            if version is not None and version.status == VersionStatus.RETIRED:
                return SKIPPED, f"{version.label} was retired"
        _follow_vm(job, vm)
    busy = (
        OperationJob.objects.filter(vm_name=job.vm_name, status__in=ACTIVE_STATUSES)
        .exclude(pk=job.pk)
        .values_list("pk", flat=True)
        .first()
    )
    if busy is not None:
        return WAITING, f"job #{busy} is active on {job.vm_name}"
    if job.kind == JobKind.MIGRATE:
        return _migration_recheck(job)
    return "ok", ""


def _follow_vm(job: OperationJob, vm: ManagedVM) -> None:
    """The VM moved to another platform since the request: a migration now starts
    from there, a snapshot or decommission runs there."""
    field = "source_platform" if job.kind == JobKind.MIGRATE else "platform"
    if getattr(job, f"{field}_id") == vm.platform_id:
        return
    setattr(job, field, vm.platform)
    OperationJob.objects.filter(pk=job.pk).update(**{field: vm.platform})
    job_log(job=job, message=f"{vm.name} runs on {vm.platform.name} now; the job follows it.")


def _migration_recheck(job: OperationJob) -> tuple[str, str]:
    assert job.vm is not None
    try:
        plan = migration_services.migration_preview(
            # A policy's or a maintenance's move was decided by the system for its
            # requester, who need not be an operator.
            user=job.requested_by if job.trigger == JobTrigger.MANUAL else None,
            vm=job.vm,
            target=job.platform,
            mode=str((job.params or {}).get("mode", "auto")),
        )
    except StateConflict as exc:
        if isinstance(exc.__cause__, hv.HypervisorError):
            return WAITING, str(exc)  # a host out of reach: try again at the next tick
        return SKIPPED, f"the migration dry run refuses it: {exc}"
    except (NotPermitted, ValidationError) as exc:
        return SKIPPED, f"the migration dry run refuses it: {error_text(exc)}"
    if not plan.get("ready"):
        return SKIPPED, f"the migration dry run refuses it: {plan.get('verdict', 'not ready')}"
    return "ok", ""


def _wait(job: OperationJob, reason: str) -> str:
    """Leave the job scheduled; say why in its log when the reason changed."""
    message = f"Waiting: {reason}."
    last = (
        JobEvent.objects.filter(job=job, kind="log")
        .order_by("-seq")
        .values_list("payload", flat=True)
        .first()
    )
    if not isinstance(last, dict) or last.get("message") != message:
        job_log(job=job, message=message)
    return WAITING


def _queue(job: OperationJob, now: datetime) -> str:
    try:
        job = job_transition(
            job=job,
            to=JobStatus.QUEUED,
            allowed=[JobStatus.SCHEDULED],
            reason="its start interval has come",
            user=None,
        )
    except IntegrityError:
        return _wait(job, "another job became active on the VM")
    queue_send(job)
    _tell_requester(
        job,
        Severity.INFO,
        f"{_what(job)} is queued: its scheduled time has come ({schedule_text(job)}).",
    )
    return QUEUED


def _end(job: OperationJob, status: str, message: str, *, severity: str) -> str:
    job = job_transition(
        job=job,
        to=status,
        allowed=[JobStatus.SCHEDULED],
        reason=message[:100],
        user=None,
        error=message,
    )
    _tell_requester(job, severity, f"{_what(job)}: {message}")
    return SKIPPED if status == JobStatus.SKIPPED else EXPIRED


def _missed(job: OperationJob, now: datetime) -> str:
    """``now`` is past the job's interval: move it on (``on_miss="next"``) or end it."""
    if job.approval_required and job.approved_by_id is None:
        why = "nobody approved it in time"
    else:
        why = "it could not start in time"
    passed = f"its start interval {interval_text(job)} passed ({why})"
    if job.on_miss == "next" and job.schedule != ScheduleMode.AT:
        try:
            slot = next_slot(job, now)
        except ValidationError as exc:
            slot, passed = None, f"{passed}; no next one: {error_text(exc, pointers_only=True)}"
        if slot is not None:
            return _move_on(job, slot, passed)
    return _end(job, JobStatus.EXPIRED, f"Expired: {passed}.", severity=Severity.WARNING)


@transaction.atomic
def _move_on(job: OperationJob, slot: Any, passed: str) -> str:
    seen = job.not_after
    job = _lock_scheduled(job)
    if job.not_after != seen:
        return MOVED  # moved meanwhile (by its requester, or another tick)
    apply_slot(job, slot)
    # An approval given stays (the job keeps its window, or ``auto`` its rule); a window
    # that ``auto`` moves it into may ask for one it did not need.
    reasons = approval_reasons(job)
    newly = bool(reasons) and not job.approval_required
    job.approval_required = bool(reasons)
    attribute_change(job, user=None, reason="moved to the next window")
    job.save(update_fields=["schedule", "not_before", "not_after", "window", "approval_required"])
    job_log(job=job, level="warning", message=f"Missed: {passed}. Moved: {schedule_text(job)}.")
    if newly:
        log_approval_wait(job, reasons)
        tell_approvers(job, reasons, how="moved to the next window")
    _tell_requester(
        job,
        Severity.WARNING,
        f"{_what(job)} missed its window ({passed}); it now starts {schedule_text(job)}.",
    )
    return MOVED
