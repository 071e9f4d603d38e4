"""Reads of the VM inventory and its metric samples."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from operations_app.models import ManagedVM, VMMetricSample, VMState
from operations_app.selectors.labels import labels_filter
from vmpersona.errors import field_error


def vm_list(
    *,
    platform: str = "",
    state: str = "",
    managed: bool | None = None,
    search: str = "",
    label: str = "",
    latest_sample: bool = False,
) -> QuerySet[ManagedVM]:
    """VMs by platform and name. ``label`` is a label selector (``team=payments,rack``;
    invalid input at ``label`` otherwise). With ``latest_sample``, each carries its newest
    sample's ``latest_cpu_percent`` and ``latest_sample_at`` (still one query in all)."""
    qs = ManagedVM.objects.select_related("platform", "profile_version__policy").order_by(
        "platform__name", "name"
    )
    if platform:
        qs = qs.filter(platform__name=platform)
    if state:
        qs = qs.filter(state=state)
    if managed is not None:
        qs = qs.filter(managed=managed)
    if search:
        qs = qs.filter(name__icontains=search)
    if label:
        qs = labels_filter(qs, label)
    if latest_sample:
        latest = VMMetricSample.objects.filter(vm=OuterRef("pk")).order_by("-at")
        qs = qs.annotate(
            latest_cpu_percent=Subquery(latest.values("cpu_percent")[:1]),
            latest_sample_at=Subquery(latest.values("at")[:1]),
        )
    return qs


def vm_get(*, pk: int) -> ManagedVM | None:
    """The VM with its platform and profile version, or None."""
    return (
        ManagedVM.objects.select_related("platform", "profile_version__policy")
        .filter(pk=pk)
        .first()
    )


def vm_metrics(*, vm: ManagedVM, limit: int = 120) -> list[VMMetricSample]:
    """The newest ``limit`` samples, oldest first (for charts)."""
    return list(reversed(list(vm.samples.order_by("-at")[:limit])))


def vm_named(ref: str | int, *, platform: str = "", path: str = "vm") -> ManagedVM:
    """A VM of the inventory by id or by name (and platform, when the name is not unique)."""
    qs = ManagedVM.objects.select_related("platform", "profile_version__policy")
    if isinstance(ref, int) or str(ref).isdigit():
        vm = qs.filter(pk=int(ref)).first()
        if vm is not None:
            return vm
        if isinstance(ref, int):
            raise field_error(path, f"no VM {ref} in the inventory")
    qs = qs.filter(name=str(ref)).exclude(state=VMState.GONE)
    if platform:
        qs = qs.filter(platform__name=platform)
    found = list(qs[:2])
    if not found:
        where = f" on {platform}" if platform else ""
        raise field_error(path, f"no VM named '{ref}'{where} in the inventory")
    if len(found) > 1:
        raise field_error(path, f"several VMs are named '{ref}'; name the platform too")
    return found[0]
