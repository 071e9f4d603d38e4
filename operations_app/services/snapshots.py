"""Snapshots of managed VMs: requesting them, recording them, keeping them in check.

A snapshot is taken and reverted by jobs (``snapshot`` and ``rollback`` kinds), so it
has the same progress, history, notifications and one-job-per-VM rule as any other
operation. What the product took is recorded as ``VMSnapshot`` rows; retention keeps
the newest ``VMPERSONA_SNAPSHOT_RETENTION`` per VM and deletes the rest in libvirt.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from operations_app.models import (
    JobKind,
    JobTrigger,
    ManagedVM,
    OnMiss,
    OperationJob,
    SnapshotOrigin,
    VMSnapshot,
    VMState,
)
from operations_app.services.jobs import job_create
from operations_app.services.schedule_when import schedule_request
from vmpersona.errors import NotPermitted, StateConflict, field_error
from vmpersona.roles import OPERATORS, has_role

DESCRIPTION_MAX = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def snapshot_name_for(job: OperationJob, origin: str) -> str:
    prefix = "before-rollback" if origin == SnapshotOrigin.BEFORE_ROLLBACK else "snap"
    return f"{prefix}-{job.pk}-{timezone.now():%Y%m%d-%H%M%S}"


def _operable(user, vm: ManagedVM, what: str) -> ManagedVM:
    if not has_role(user, OPERATORS):
        raise NotPermitted(
            f"{getattr(user, 'username', 'anonymous')} may not {what}: this needs the 'operators' role."
        )
    vm = ManagedVM.objects.select_related("platform", "profile_version").get(pk=vm.pk)
    if vm.state == VMState.GONE:
        raise StateConflict(f"VM '{vm.name}' is gone.")
    if not vm.managed:
        raise StateConflict(f"VM '{vm.name}' was not made by VM Persona; it is left alone.")
    return vm


def _queue(
    kind: str,
    *,
    user,
    vm: ManagedVM,
    trigger: str,
    params: dict,
    when: dict | None = None,
) -> OperationJob:
    """Queue a job of ``kind`` on ``vm`` where it runs now (``when``: ``window``, ``at``
    and ``on_miss`` to schedule it instead)."""
    job = OperationJob(
        kind=kind,
        trigger=trigger,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        profile_version=vm.profile_version,
        content_hash=vm.content_hash,
        platform=vm.platform,
        vm=vm,
        vm_name=vm.name,
        params=params,
    )
    if when:
        schedule_request(job, **when)
    return job_create(job=job, user=user)


@transaction.atomic
def job_request_snapshot(
    *,
    user,
    vm: ManagedVM,
    description: str = "",
    trigger: str = JobTrigger.MANUAL,
    window: str | None = None,
    at: datetime | str | None = None,
    on_miss: str = OnMiss.NEXT,
) -> OperationJob:
    """Queue a snapshot of ``vm`` (with its memory when it runs and the disks allow);
    with ``window`` or ``at`` it is scheduled instead (``services.schedule_when``)."""
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX or _CONTROL.search(description):
        raise field_error("description", f"at most {DESCRIPTION_MAX} characters, on one line")
    vm = _operable(user, vm, "take snapshots")
    return _queue(
        JobKind.SNAPSHOT,
        user=user,
        vm=vm,
        trigger=trigger,
        params={"description": description},
        when={"window": window, "at": at, "on_miss": on_miss},
    )


@transaction.atomic
def job_request_rollback(
    *, user, vm: ManagedVM, snapshot: VMSnapshot, trigger: str = JobTrigger.MANUAL
) -> OperationJob:
    """Queue the return of ``vm`` to ``snapshot``. The current state is kept first as a
    ``before_rollback`` snapshot, so the rollback itself can be undone."""
    vm = _operable(user, vm, "roll VMs back")
    if snapshot.vm_id != vm.pk:
        raise field_error("snapshot", f"snapshot is not one of {vm.name}'s")
    if snapshot.removed_at is not None:
        raise StateConflict(f"Snapshot {snapshot.name} was removed ({snapshot.removed_reason}).")
    if snapshot.platform_id != vm.platform_id:
        raise StateConflict(
            f"Snapshot {snapshot.name} was taken on {snapshot.platform.name}; "
            f"{vm.name} now runs on {vm.platform.name}."
        )
    return _queue(
        JobKind.ROLLBACK,
        user=user,
        vm=vm,
        trigger=trigger,
        params={"snapshot": snapshot.name, "snapshot_id": snapshot.pk},
    )


def snapshot_record(
    *,
    vm: ManagedVM,
    job: OperationJob | None,
    name: str,
    kind: str,
    with_memory: bool,
    vm_state: str,
    origin: str,
    description: str = "",
) -> VMSnapshot:
    return VMSnapshot.objects.create(
        vm=vm,
        platform=vm.platform,
        name=name,
        kind=kind,
        with_memory=with_memory,
        vm_state=vm_state,
        origin=origin,
        description=description[:DESCRIPTION_MAX],
        job=job,
    )


def snapshot_mark_removed(*, snapshots, reason: str) -> int:
    return VMSnapshot.objects.filter(
        pk__in=[s.pk for s in snapshots], removed_at__isnull=True
    ).update(removed_at=timezone.now(), removed_reason=reason[:300])


def snapshots_gone_with_domain(*, vm_id: int, platform_id: int, reason: str) -> int:
    """The domain was removed from that platform: its snapshots went with it."""
    return VMSnapshot.objects.filter(
        vm_id=vm_id, platform_id=platform_id, removed_at__isnull=True
    ).update(removed_at=timezone.now(), removed_reason=reason[:300])


def snapshots_beyond_retention(*, vm: ManagedVM, keep: int | None = None) -> list[VMSnapshot]:
    """The VM's present snapshots on its platform, oldest first, past the newest ``keep``."""
    keep = settings.VMPERSONA_SNAPSHOT_RETENTION if keep is None else keep
    present = list(
        VMSnapshot.objects.filter(
            vm=vm, platform_id=vm.platform_id, removed_at__isnull=True
        ).order_by("-created_at", "-pk")
    )
    return list(reversed(present[keep:]))


def vm_snapshots(*, vm: ManagedVM, include_removed: bool = False):
    qs = VMSnapshot.objects.filter(vm=vm).select_related("platform", "job")
    if not include_removed:
        qs = qs.filter(removed_at__isnull=True)
    return qs
