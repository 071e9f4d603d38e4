"""Requesting the decommission of a VM."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from operations_app.models import JobKind, JobTrigger, ManagedVM, OnMiss, OperationJob, VMState
from operations_app.services.jobs import job_create
from operations_app.services.schedule_when import schedule_request
from vmpersona.errors import NotPermitted, StateConflict
from vmpersona.roles import OPERATORS, has_role


@transaction.atomic
def job_request_decommission(
    *,
    user,
    vm: ManagedVM,
    trigger: str = JobTrigger.MANUAL,
    trigger_detail: str = "",
    window: str | None = None,
    at: datetime | str | None = None,
    on_miss: str = OnMiss.NEXT,
) -> OperationJob:
    """Queue the removal of a VM with its volumes, secrets and filter; with ``window`` or
    ``at`` it is scheduled instead (``services.schedule_when``)."""
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
    schedule_request(job, window=window, at=at, on_miss=on_miss)
    return job_create(job=job, user=user)
