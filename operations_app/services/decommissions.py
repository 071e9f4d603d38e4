"""Requesting the decommission of a VM."""

from __future__ import annotations

from django.db import transaction

from operations_app.models import JobKind, JobTrigger, ManagedVM, OperationJob, VMState
from operations_app.services.jobs import job_create
from vmpersona.errors import NotPermitted, StateConflict
from vmpersona.roles import OPERATORS, has_role


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
    return job_create(job=job, user=user)
