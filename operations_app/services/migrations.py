"""The migration dry run: what moving a VM would do, read from both hosts, changing nothing.

The dry run and the migration job share ``operations_app.adaptation.move.plan_move``, so
the page, the API and ``persona migrate --plan`` show the decision the job will take
(differences, fixes, path and why, the adapted definition's diff) for the platforms as
they are now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from operations_app import hypervisor as hv
from operations_app.adaptation.move import plan_move
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
from operations_app.services.platforms import platform_connect
from operations_app.services.schedule_when import schedule_request
from vmpersona.errors import NotPermitted, StateConflict, field_error
from vmpersona.roles import OPERATORS, has_role

MIGRATION_MODES = ("auto", "live", "cold")


def migration_check(*, user, vm: ManagedVM, target: Platform, mode: str) -> ManagedVM:
    """Why ``user`` may not move ``vm`` to ``target`` in ``mode`` (raised), else the VM
    freshly read. Shared by the request and the dry run. ``user`` None is the system
    itself (host maintenance moving VMs for an operator who has since left)."""
    if user is not None and not has_role(user, OPERATORS):
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
    refusal = maintenance_refusal(target)
    if refusal:
        raise field_error("target", refusal, code="maintenance")
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
    window: str | None = None,
    at: datetime | str | None = None,
    on_miss: str = OnMiss.NEXT,
    on_behalf_of=None,
) -> OperationJob:
    """Queue the move of a managed VM to another platform (``mode``: auto, live or cold);
    with ``window`` (a maintenance window's name, or "auto") or ``at`` (an aware time)
    it is scheduled instead (``services.schedule_when``). ``user`` None is the system,
    acting for ``on_behalf_of`` when given (an approved policy plan's approver)."""
    vm = migration_check(user=user, vm=vm, target=target, mode=mode)
    version = vm.profile_version
    assert version is not None  # migration_check refuses a VM without one
    job = OperationJob(
        kind=JobKind.MIGRATE,
        trigger=trigger,
        trigger_policy=trigger_policy,
        trigger_detail=trigger_detail,
        requested_by=user if getattr(user, "is_authenticated", False) else on_behalf_of,
        profile_version=version,
        content_hash=vm.content_hash or version.content_hash,
        platform=target,
        source_platform=vm.platform,
        vm=vm,
        vm_name=vm.name,
        params={**(params or {}), "mode": mode},
    )
    schedule_request(job, window=window, at=at, on_miss=on_miss)
    return job_create(job=job, user=user)


def migration_preview(
    *, user, vm: ManagedVM, target: Platform, mode: str = "auto"
) -> dict[str, Any]:
    """The plan of moving ``vm`` to ``target`` in ``mode`` (``auto``, ``live``, ``cold``).

    Raises what a migration request would (``NotPermitted``, ``ValidationError`` with a
    path, ``StateConflict``), and ``StateConflict`` when a host cannot be reached or the
    VM is not on its platform. ``ready`` is True when the job would go ahead.
    """
    vm = migration_check(user=user, vm=vm, target=target, mode=mode)
    source = vm.platform
    version = vm.profile_version
    assert version is not None  # migration_check refuses a VM without one
    try:
        with (
            platform_connect(source, timeout=30) as src,
            platform_connect(target, timeout=30) as tgt,
        ):
            if not src.domains.exists(vm.name):
                raise StateConflict(f"{vm.name} does not exist on {source.name}.")
            running = src.domains.state(vm.name).active
            pool_path = tgt.storage.pool_info(target.storage_pool).path or ""
            move = plan_move(
                src=src,
                tgt=tgt,
                vm_name=vm.name,
                source=source,
                target=target,
                fixes=(version.document or {}).get("fixes", []),
                requested=mode,
                running=running,
                pool_path=pool_path,
            )
    except hv.HypervisorError as exc:
        raise StateConflict(f"The dry run could not read the platforms: {exc}") from exc
    adaptation = move["adaptation"]
    ready = bool(adaptation["ok"] and not move["refused"] and move["path"])
    if not adaptation["ok"]:
        verdict = "Blocked: " + "; ".join(adaptation["problems"])
    elif move["refused"]:
        verdict = "Refused: " + move["refused"]
    else:
        verdict = f"Would move {vm.name} {move['path']}: {move['path_reason']}."
    return {
        "vm": vm.name,
        "source": source.name,
        "target": target.name,
        "profile_version": version.label,
        "running": running,
        "requested_mode": mode,
        "ready": ready,
        "verdict": verdict,
        "path": move["path"],
        "path_reason": move["path_reason"],
        "refused": move["refused"],
        "ok": adaptation["ok"],
        "problems": adaptation["problems"],
        "cpu_compatible": adaptation["cpu_compatible"],
        "differences": adaptation["differences"],
        "unresolved": adaptation["unresolved"],
        "fixes": adaptation["fixes"],
        "guest_commands_before": adaptation["guest_commands_before"],
        "guest_commands_after": adaptation["guest_commands_after"],
        "hardware_changes": adaptation["hardware_changes"],
        "notes": adaptation["notes"],
        "disks": [
            {
                "volume": d["volume"],
                "target": d["target"],
                "capacity_bytes": d["capacity_bytes"],
                "allocation_bytes": d.get("allocation_bytes"),
                "encrypted": d["encrypted"],
                "from_pool": d["source_pool"],
                "to_pool": target.storage_pool,
            }
            for d in move["disks"].values()
        ],
        "copy_bytes": move["copy_bytes"],
        "xml_diff": move["xml_diff"],
    }
