"""How a VM's snapshots read on its page.

A pure function from the VM, its ``VMSnapshot`` rows (newest first, removed ones
included, as ``vm_snapshots`` returns them) and what the user may do, to the Snapshots
panel: the present snapshots, each with whether it can be rolled back to here, and the
removed ones with when and why. No queries beyond the rows given, and no writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from operations_app.models import ManagedVM, VMSnapshot, VMState


def vm_snapshottable(vm: ManagedVM) -> bool:
    """Whether snapshots could be asked for: the VM was made by VM Persona and is still
    on its platform. (The services check this, and the user's role, again.)"""
    return bool(vm.managed and vm.state != VMState.GONE)


def snapshot_row(snapshot: VMSnapshot, *, vm: ManagedVM, can_snapshot: bool) -> dict[str, Any]:
    here = snapshot.platform_id == vm.platform_id
    return {
        "snapshot": snapshot,
        "origin": snapshot.get_origin_display(),  # type: ignore[attr-defined]
        "contents": "with memory" if snapshot.with_memory else "disks only",
        "here": here,
        "can_rollback": can_snapshot and snapshot.present and here,
    }


def snapshot_panel(
    vm: ManagedVM,
    snapshots: Iterable[VMSnapshot],
    *,
    can_snapshot: bool,
    retention: int,
) -> dict[str, Any]:
    """The Snapshots panel: ``present`` and ``removed`` rows, newest first;
    ``can_snapshot`` shows the take form and the roll-back buttons."""
    present: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    for snapshot in snapshots:
        row = snapshot_row(snapshot, vm=vm, can_snapshot=can_snapshot)
        (present if snapshot.present else removed).append(row)
    return {
        "present": present,
        "removed": removed,
        "retention": retention,
        "can_snapshot": can_snapshot,
        "elsewhere": sum(1 for row in present if not row["here"]),
    }
