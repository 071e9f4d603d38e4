"""Requesting clones of approved profile versions."""

from __future__ import annotations

import re
from datetime import datetime

from django.db import transaction

from operations_app.models import (
    JobKind,
    JobTrigger,
    ManagedVM,
    OnMiss,
    OperationJob,
    Platform,
    VMState,
)
from operations_app.selectors.maintenance import maintenance_refusal
from operations_app.services.jobs import job_create
from operations_app.services.schedule_when import schedule_request
from profiles_app.models import PolicyKind, PolicyVersion, VersionStatus
from vmpersona.errors import NotPermitted, StateConflict, field_error
from vmpersona.roles import OPERATORS, PRODUCTION, has_role, may_clone

VM_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")


def _check_vm_name(name: str) -> None:
    if not isinstance(name, str) or not VM_NAME_RE.match(name):
        raise field_error(
            "vm_name",
            "lowercase letters, digits and dashes, 1 to 63 characters, not starting or ending with a dash",
        )


def _may_request(user, version: PolicyVersion | None) -> None:
    """Operators run any operation; authors may clone Development/Testing profiles
    (``vmpersona.roles.may_clone``, which the pages ask before offering a clone)."""
    if has_role(user, OPERATORS):
        return
    if version is not None and may_clone(user, environment=version.environment):
        return
    if version is not None and version.environment == PRODUCTION:
        raise NotPermitted(f"{version.label} is flagged Production: only operators may clone it.")
    raise NotPermitted(
        f"{getattr(user, 'username', 'anonymous')} may not run operations: this needs the 'operators' role."
    )


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
    window: str | None = None,
    at: datetime | str | None = None,
    on_miss: str = OnMiss.NEXT,
) -> OperationJob:
    """Queue a clone of an approved profile version onto a platform as ``vm_name``; with
    ``window`` (a maintenance window's name, or "auto") or ``at`` (an aware time) it is
    scheduled instead (``services.schedule_when``)."""
    _check_vm_name(vm_name)
    version = PolicyVersion.objects.select_related("policy").get(pk=version.pk)
    if version.policy.kind != PolicyKind.VPPD:
        raise field_error(
            "version",
            f"{version.label} is a {version.policy.get_kind_display().lower()}, not a VM profile",
            code="kind",
        )
    if version.status != VersionStatus.APPROVED:
        raise StateConflict(
            f"{version.label} is {version.get_status_display().lower()}; only approved versions can be cloned."
        )
    _may_request(user, version)
    if not platform.enabled:
        raise StateConflict(f"Platform {platform.name} is disabled.")
    refusal = maintenance_refusal(platform)
    if refusal:
        raise field_error("platform", refusal, code="maintenance")
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
    schedule_request(job, window=window, at=at, on_miss=on_miss)
    return job_create(job=job, user=user)
