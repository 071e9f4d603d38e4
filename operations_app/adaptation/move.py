"""Migration planning: everything a move will do, decided without changing anything.

Shared by the migration job (``runners.migrate``) and the dry run
(``services.migrations.migration_preview``), so both show the same decision. No Django,
no models: the hosts come in as ``Hypervisor`` connections (read only) and the
platforms as whatever ``plan_adaptation`` accepts (rows, mappings or ``PlatformView``s).

- ``disk_map``: each disk of the source domain and the volume it becomes on the target;
- ``choose_path``: live or cold, and why (``MoveRefused`` when the request cannot be met);
- ``plan_move``: the adaptation, the path, the adapted definition and its diff.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from operations_app.hypervisor.domainxml import domain_xml
from operations_app.hypervisor.errors import HypervisorError

from .plan import plan_adaptation

if TYPE_CHECKING:
    from operations_app.hypervisor.connection import Hypervisor

# Differences a live move resolves itself: the disks land in the target's pool.
LIVE_CARRIED = ("storage_pool", "storage_path")


class MoveRefused(ValueError):
    """The requested migration mode cannot be met; the message is for the user and
    ``check`` names what refused it (``mode``)."""

    def __init__(self, message: str, *, check: str = "mode") -> None:
        super().__init__(message)
        self.check = check


def choose_path(
    *, requested: str, hardware_changes: list[str], source_running: bool
) -> tuple[str, str]:
    """(path, why): ``live`` or ``cold``; raises ``MoveRefused`` when the request cannot be met."""
    if requested not in ("auto", "live", "cold"):
        raise MoveRefused(f"Unknown migration mode {requested!r}.", check="mode")
    if hardware_changes:
        why = (
            "the target needs changes a live migration cannot make ("
            + "; ".join(hardware_changes)
            + ")"
        )
        if requested == "live":
            raise MoveRefused(f"A live migration was requested, but {why}.", check="mode")
        return "cold", why
    if not source_running:
        if requested == "live":
            raise MoveRefused(
                "A live migration was requested, but the VM is not running.", check="mode"
            )
        return "cold", "the VM is not running"
    if requested == "cold":
        return "cold", "a cold migration was requested"
    return "live", "no hardware or definition changes beyond disk locations, and the VM is running"


def disk_map(src: Hypervisor, vm_name: str, pool_path: str) -> dict[str, dict]:
    """Source disk (its path, or ``pool/volume``) -> where and what it becomes on the
    target (a volume of the same name in the target's pool at ``pool_path``)."""
    out = {}
    for disk in src.domains.spec(vm_name, inactive=True).disks:
        if disk.device != "disk" or disk.readonly:
            continue
        if disk.path:
            info = src.storage.volume_info_by_path(disk.path)
            key = disk.path
        elif disk.pool and disk.volume:
            info = src.storage.volume_info(disk.pool, disk.volume)
            key = f"{disk.pool}/{disk.volume}"
        else:
            continue
        out[key] = {
            "volume": info.name,
            "source_pool": info.pool or disk.pool,
            "source_path": info.path,
            "by_pool": not disk.path,
            "path": posixpath.join(pool_path, info.name),
            "capacity_bytes": info.capacity_bytes,
            "allocation_bytes": info.allocation_bytes,
            "format": info.format or "qcow2",
            "encrypted": bool(info.encrypted),
            "secret_uuid": info.secret_uuid,
            "target": disk.target,
        }
    return out


def plan_move(
    *,
    src: Hypervisor,
    tgt: Hypervisor,
    vm_name: str,
    source,
    target,
    fixes: list[dict],
    requested: str,
    running: bool,
    pool_path: str,
) -> dict:
    """Everything the migration will do, decided without changing anything: the
    adaptation (differences, fixes, unresolved problems), the path (live or cold) and
    why, or why the request cannot be met (``refused``), the adapted definition and its
    diff against the source's. Read-only on both hosts; the dry run shows exactly this."""
    disks = disk_map(src, vm_name, pool_path)
    source_xml = src.domains.xml(vm_name, migratable=True)
    try:
        cpu_ok = tgt.cpu_compare(source_xml)
    except HypervisorError:
        cpu_ok = None
    plan = plan_adaptation(
        domain=source_xml,
        source=source,
        target=target,
        vppd_fixes=fixes,
        cpu_compatible=cpu_ok,
        target_disk_paths={old: d["path"] for old, d in disks.items() if not d["by_pool"]},
    )
    adaptation = {
        "ok": plan.ok,
        "problems": plan.problems,
        "hardware_changes": plan.hardware_changes,
        "cpu_compatible": cpu_ok,
        "differences": [d.to_dict() for d in plan.differences],
        "unresolved": [d.to_dict() for d in plan.unresolved],
        "fixes": [f.to_dict() for f in plan.fixes],
        "guest_commands_before": [f.to_dict() for f in plan.guest_commands_before],
        "guest_commands_after": [f.to_dict() for f in plan.guest_commands_after],
        "notes": plan.notes,
    }
    out = {
        "adaptation": adaptation,
        "disks": disks,
        "requested_mode": requested,
        "path": None,
        "path_reason": "",
        "refused": "",
        "adapted_xml": "",
        "xml_diff": [],
        "copy_bytes": sum(int(d.get("allocation_bytes") or 0) for d in disks.values()),
    }
    if not plan.ok:
        return out
    # A live move keeps the source's definition and only points its disks at the
    # target's volumes: any other change to the definition needs the cold path.
    changes = list(plan.hardware_changes)
    try:
        snapshots = len(src.snapshots.list(vm_name))
    except HypervisorError:
        snapshots = 0
    if snapshots:
        # libvirt refuses to migrate a running domain that has snapshots.
        changes.append(f"the VM has {snapshots} snapshot(s), which libvirt does not move live")
    for fix in plan.fixes:
        if fix.when == "definition" and any(d.kind not in LIVE_CARRIED for d in fix.differences):
            changes.append(f"{fix.fix_id}: " + ("; ".join(fix.changes) or fix.description))
    try:
        path, why = choose_path(
            requested=requested, hardware_changes=changes, source_running=running
        )
    except MoveRefused as exc:
        out["refused"] = str(exc)
        return out
    adapted = plan.adapted
    if adapted.machine and "q35" in adapted.machine and path == "cold":
        # PCI Express hot-plug needs empty root ports, as a clone on q35 gets.
        adapted.hotplug_slots = len(adapted.disks) + len(adapted.interfaces) + 2
    out.update(
        path=path,
        path_reason=why,
        adapted_xml=domain_xml(adapted),
        xml_diff=plan.diff(),
    )
    return out


__all__ = ["LIVE_CARRIED", "MoveRefused", "choose_path", "disk_map", "plan_move"]
