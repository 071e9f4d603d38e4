"""Reads of VM snapshots by the names and ids requests use."""

from __future__ import annotations

from operations_app.models import ManagedVM, VMSnapshot
from vmpersona.errors import field_error


def snapshot_get(*, pk: int) -> VMSnapshot | None:
    """The snapshot with its platform, or None."""
    return VMSnapshot.objects.select_related("platform").filter(pk=pk).first()


def snapshot_ref(vm: ManagedVM, ref: str | int, *, path: str = "snapshot") -> VMSnapshot:
    """A snapshot by id, or by name among ``vm``'s: the present one on the VM's platform
    first, then a present one elsewhere, then the newest removed one (so that a request
    for it is answered with why it cannot be used). Whether it may be used is the
    service's decision: an id may name another VM's snapshot."""
    qs = VMSnapshot.objects.select_related("platform", "vm")
    if isinstance(ref, int) or str(ref).isdigit():
        snapshot = qs.filter(pk=int(ref)).first()
        if snapshot is not None:
            return snapshot
        if isinstance(ref, int):
            raise field_error(path, f"no snapshot {ref}")
    named = qs.filter(vm=vm, name=str(ref))
    snapshot = (
        named.filter(removed_at__isnull=True, platform_id=vm.platform_id).first()
        or named.filter(removed_at__isnull=True).first()
        or named.order_by("-removed_at", "-pk").first()
    )
    if snapshot is None:
        raise field_error(path, f"{vm.name} has no snapshot named '{ref}'")
    return snapshot
