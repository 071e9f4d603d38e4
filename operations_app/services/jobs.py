"""Jobs: requesting, state transitions, steps, events, live pushes and notifications.

A transition is a conditional update (``filter(pk, status__in=allowed).update(...)``)
that raises ``StateConflict`` when no row changed, so two workers (or a worker and the
reaper) can never both move a job. Events get a per-job sequence number from a counter
on the job row, incremented in the same transaction; pushes to websocket groups happen
after commit, so a client never sees an event the database does not hold.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from operations_app.models import (
    ACTIVE_STATUSES,
    WORKING_STATUSES,
    JobEvent,
    JobKind,
    JobStatus,
    JobStep,
    JobTrigger,
    ManagedVM,
    Notification,
    OperationJob,
    Platform,
    Severity,
    VMState,
)
from profiles_app.models import PolicyVersion, VersionStatus
from vmpersona.errors import NotPermitted, StateConflict, field_error
from vmpersona.history import attribute_change
from vmpersona.roles import AUTHORS, OPERATORS, has_role

logger = logging.getLogger(__name__)

VM_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


# --------------------------------------------------------------------------- pushes


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


# --------------------------------------------------------------------------- events


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


def job_events_after(*, job: OperationJob, after: int = 0, limit: int = 1000) -> list[JobEvent]:
    return list(JobEvent.objects.filter(job=job, seq__gt=after).order_by("seq")[:limit])


def job_log(*, job: OperationJob, message: str, level: str = "info", step: str = "") -> JobEvent:
    return job_event(job=job, kind="log", level=level, message=message, step=step)


# --------------------------------------------------------------------------- transitions


def job_transition(
    *, job: OperationJob, to: str, allowed: Iterable[str], reason: str = "", **fields: Any
) -> OperationJob:
    """Move ``job`` to ``to`` if its status is one of ``allowed``; else ``StateConflict``."""
    allowed = tuple(allowed)
    now = timezone.now()
    updates: dict[str, Any] = {"status": to, **fields}
    if to == JobStatus.RUNNING and "started_at" not in fields:
        updates["started_at"] = now
    if to in (
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.ROLLED_BACK,
        JobStatus.CANCELLED,
        JobStatus.ERRORED,
    ):
        updates["finished_at"] = now
    with transaction.atomic():
        changed = OperationJob.objects.filter(pk=job.pk, status__in=allowed).update(**updates)
        if not changed:
            current = (
                OperationJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
            )
            raise StateConflict(f"Job #{job.pk} is {current}; it cannot become {to}.")
        job.refresh_from_db()
        # One history row per transition, with the reason.
        attribute_change(job, reason=reason or f"status {to}")
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


# --------------------------------------------------------------------------- requests


def _check_vm_name(name: str) -> None:
    if not isinstance(name, str) or not VM_NAME_RE.match(name):
        raise field_error(
            "vm_name",
            "lowercase letters, digits and dashes, 1 to 63 characters, not starting or ending with a dash",
        )


def _send_to_queue(job: OperationJob, *, say_failure: bool = True) -> bool:
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


def _enqueue(job: OperationJob) -> None:
    transaction.on_commit(lambda: _send_to_queue(job))


def _broker_backlog() -> int | None:
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
    if not waiting.exists() or _broker_backlog() != 0:
        return []
    requeued = []
    for job in waiting:
        since = job.enqueued_at or job.created_at
        if _send_to_queue(job, say_failure=False):
            job_log(
                job=job,
                level="warning",
                message=f"No worker started the job within {int((timezone.now() - since).total_seconds())} s "
                "and the task queue is empty: handed to the queue again.",
            )
            requeued.append(job.pk)
    return requeued


def _may_request(user, version: PolicyVersion | None) -> None:
    """Operators run any operation; authors may clone Development/Testing profiles."""
    if has_role(user, OPERATORS):
        return
    env = version.environment if version is not None else ""
    if env == "Production":
        raise NotPermitted(
            f"{version.label} is flagged Production: only operators may clone it."
            if version
            else "Only operators may run this."
        )
    if version is not None and has_role(user, AUTHORS):
        return
    raise NotPermitted(
        f"{getattr(user, 'username', 'anonymous')} may not run operations: this needs the 'operators' role."
    )


def _create(job: OperationJob, *, user) -> OperationJob:
    try:
        with transaction.atomic():
            attribute_change(job, user=user, reason=f"{job.kind} requested")
            job.save()
    except IntegrityError as exc:
        active = OperationJob.objects.filter(
            vm_name=job.vm_name, status__in=ACTIVE_STATUSES
        ).first()
        raise StateConflict(
            f"VM '{job.vm_name}' already has an active job (#{active.pk if active else '?'}); wait for it or cancel it."
        ) from exc
    job_event(job=job, kind="status", status=job.status, reason="requested")
    _enqueue(job)
    return job


@transaction.atomic
def job_request_clone(
    *,
    user,
    version: PolicyVersion,
    platform: Platform,
    vm_name: str,
    trigger: str = JobTrigger.MANUAL,
    trigger_policy=None,
    trigger_detail: str = "",
    params: dict | None = None,
) -> OperationJob:
    """Queue a clone of an approved profile version onto a platform as ``vm_name``."""
    _check_vm_name(vm_name)
    version = PolicyVersion.objects.select_related("policy").get(pk=version.pk)
    if version.status != VersionStatus.APPROVED:
        raise StateConflict(
            f"{version.label} is {version.get_status_display().lower()}; only approved versions can be cloned."
        )
    _may_request(user, version)
    if not platform.enabled:
        raise StateConflict(f"Platform {platform.name} is disabled.")
    if ManagedVM.objects.filter(name=vm_name).exclude(state=VMState.GONE).exists():
        raise field_error("vm_name", f"a VM named '{vm_name}' already exists", code="duplicate")
    job = OperationJob(
        kind=JobKind.CLONE,
        trigger=trigger,
        trigger_policy=trigger_policy,
        trigger_detail=trigger_detail,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        profile_version=version,
        content_hash=version.content_hash,
        platform=platform,
        vm_name=vm_name,
        params=params or {},
    )
    return _create(job, user=user)


@transaction.atomic
def job_request_decommission(
    *, user, vm: ManagedVM, trigger: str = JobTrigger.MANUAL, trigger_detail: str = ""
) -> OperationJob:
    """Queue the removal of a VM with its volumes, secrets and filter."""
    if not has_role(user, OPERATORS):
        raise NotPermitted(
            f"{getattr(user, 'username', 'anonymous')} may not decommission VMs: this needs the 'operators' role."
        )
    if vm.state == VMState.GONE:
        raise StateConflict(f"VM '{vm.name}' is already gone.")
    job = OperationJob(
        kind=JobKind.DECOMMISSION,
        trigger=trigger,
        trigger_detail=trigger_detail,
        requested_by=user,
        profile_version=vm.profile_version,
        content_hash=vm.content_hash,
        platform=vm.platform,
        vm=vm,
        vm_name=vm.name,
    )
    return _create(job, user=user)


def job_cancel(*, user, job: OperationJob) -> OperationJob:
    """Ask a job to stop: a queued job ends at once; a running one rolls back at its next step."""
    if not (
        has_role(user, OPERATORS)
        or (job.requested_by_id and job.requested_by_id == getattr(user, "pk", None))
    ):
        raise NotPermitted("Only operators or the job's requester may cancel it.")
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
        )
    except StateConflict:
        job.refresh_from_db()  # running: the runner sees the flag between steps
    return job


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --------------------------------------------------------------------------- notifications


def administrators():
    """Superusers and operators: the people told about failures and rollbacks."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=OPERATORS))
        .distinct()
    )


def notify(
    *,
    recipients: Iterable,
    severity: str,
    message: str,
    link: str = "",
    job: OperationJob | None = None,
) -> list[Notification]:
    made = []
    emails = []
    for user in {u.pk: u for u in recipients}.values():
        note = Notification.objects.create(
            recipient=user, severity=severity, message=message, link=link, job=job
        )
        made.append(note)
        push(
            user_group(user.pk),
            {
                "kind": "notification",
                "id": note.pk,
                "severity": severity,
                "message": message,
                "link": link,
            },
        )
        if user.email:
            emails.append(user.email)
    if emails:
        subject = f"[VM Persona] {Severity(severity).label}: {message[:80]}"
        body = message + (f"\n\n{settings.VMPERSONA_BASE_URL.rstrip('/')}{link}" if link else "")

        def send() -> None:
            try:
                send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, emails, fail_silently=False)
            except Exception:
                logger.warning("notification email failed", exc_info=True)

        transaction.on_commit(send)
    return made


def notify_job_outcome(*, job: OperationJob, severity: str, message: str) -> list[Notification]:
    recipients = list(administrators())
    if job.requested_by is not None:
        recipients.append(job.requested_by)
    return notify(
        recipients=recipients,
        severity=severity,
        message=message,
        link=job.get_absolute_url(),
        job=job,
    )


def notification_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=user, read=False)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read=True)


# --------------------------------------------------------------------------- reaper


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
    rolled back (or failed, naming what could not be removed); administrators are told.
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
            continue
        leftovers = _reap_rollback(job)
        if leftovers:
            job_transition(
                job=job,
                to=JobStatus.FAILED,
                allowed=[JobStatus.ROLLING_BACK],
                reason="rollback incomplete",
                error=reason + " Rollback left: " + "; ".join(leftovers),
            )
        else:
            job_transition(
                job=job,
                to=JobStatus.ROLLED_BACK,
                allowed=[JobStatus.ROLLING_BACK],
                reason="reaped",
                error=reason,
            )
        notify_job_outcome(
            job=job,
            severity=Severity.ERROR,
            message=f"{job.get_kind_display()} of {job.vm_name} was interrupted ({reason}) and rolled back"
            + (f"; left: {'; '.join(leftovers)}" if leftovers else "."),
        )
        reaped.append(job.pk)
    _retry_leftovers()
    jobs_requeue()
    return reaped


def _reap_rollback(job: OperationJob) -> list[str]:
    """Undo a dead worker's job the way its own runner would (a migration moves the VM
    back or restarts the source, a rollback returns to the state it kept); plain
    resource removal when the runner cannot say more."""
    from operations_app.runners import runner_for
    from operations_app.services.resources import resources_remove

    if job.kind == JobKind.DECOMMISSION:
        return resources_remove(job=job)  # finish removing what it was removing
    try:
        return runner_for(job).rollback()
    except Exception as exc:  # noqa: BLE001 - the reaper must end the job regardless
        logger.warning("rollback of reaped job %s failed: %s", job.pk, exc, exc_info=True)
        return resources_remove(job=job) + [f"its runner's rollback raised {exc}"]


def _retry_leftovers() -> None:
    """Jobs that ended with things their rollback could not remove: try again."""
    from operations_app.models import JobResource
    from operations_app.services.resources import resources_remove

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


MIGRATION_MODES = ("auto", "live", "cold")


def migration_check(*, user, vm: ManagedVM, target: Platform, mode: str) -> ManagedVM:
    """Why ``user`` may not move ``vm`` to ``target`` in ``mode`` (raised), else the VM
    freshly read. Shared by the request and the dry run."""
    if not has_role(user, OPERATORS):
        raise NotPermitted(
            f"{getattr(user, 'username', 'anonymous')} may not migrate VMs: this needs the 'operators' role."
        )
    if mode not in MIGRATION_MODES:
        raise field_error(
            "mode", f"mode must be one of {', '.join(MIGRATION_MODES)}", code="invalid"
        )
    vm = ManagedVM.objects.select_related("platform", "profile_version").get(pk=vm.pk)
    if vm.state == VMState.GONE:
        raise StateConflict(f"VM '{vm.name}' is gone.")
    if not vm.managed or vm.profile_version_id is None:
        raise StateConflict(
            f"VM '{vm.name}' conforms to no profile version; only VMs cloned from a VPPD can be migrated."
        )
    if target.pk == vm.platform_id:
        raise field_error("target", f"VM '{vm.name}' already runs on {target.name}.", code="same")
    if not target.enabled:
        raise StateConflict(f"Platform {target.name} is disabled.")
    return vm


@transaction.atomic
def job_request_migrate(
    *,
    user,
    vm: ManagedVM,
    target: Platform,
    mode: str = "auto",
    trigger: str = JobTrigger.MANUAL,
    trigger_policy=None,
    trigger_detail: str = "",
    params: dict | None = None,
) -> OperationJob:
    """Queue the move of a managed VM to another platform (``mode``: auto, live or cold)."""
    vm = migration_check(user=user, vm=vm, target=target, mode=mode)
    version = vm.profile_version
    assert version is not None  # migration_check refuses a VM without one
    job = OperationJob(
        kind=JobKind.MIGRATE,
        trigger=trigger,
        trigger_policy=trigger_policy,
        trigger_detail=trigger_detail,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        profile_version=version,
        content_hash=vm.content_hash or version.content_hash,
        platform=target,
        source_platform=vm.platform,
        vm=vm,
        vm_name=vm.name,
        params={**(params or {}), "mode": mode},
    )
    return _create(job, user=user)
