"""Reads of platforms for the pages, the API and the command line."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from operations_app.constraints import effective_capabilities
from operations_app.models import ManagedVM, Platform, VMState
from operations_app.selectors.labels import labels_filter
from vmpersona.errors import field_error


def platform_list(
    *, search: str = "", enabled: bool | None = None, label: str = ""
) -> QuerySet[Platform]:
    """Platforms by name, each with ``vm_count`` (VMs not gone) and ``running_count``.
    ``label`` is a label selector (``rack=r12,gpu``; invalid input at ``label`` otherwise)."""
    qs = Platform.objects.annotate(
        vm_count=Count("vms", filter=~Q(vms__state=VMState.GONE), distinct=True),
        running_count=Count("vms", filter=Q(vms__state=VMState.RUNNING), distinct=True),
    ).order_by("name")
    if search:
        qs = qs.filter(
            Q(name__icontains=search)
            | Q(uri__icontains=search)
            | Q(site__icontains=search)
            | Q(region__icontains=search)
        )
    if enabled is not None:
        qs = qs.filter(enabled=enabled)
    if label:
        qs = labels_filter(qs, label)
    return qs


def platform_names() -> list[str]:
    """Every platform's name, in order (for filter choices)."""
    return list(Platform.objects.order_by("name").values_list("name", flat=True))


def platform_migration_targets(*, vm: ManagedVM) -> QuerySet[Platform]:
    """The enabled platforms other than the VM's own, by name."""
    return Platform.objects.filter(enabled=True).exclude(pk=vm.platform_id).order_by("name")


def platform_effective_capabilities(platform: Platform) -> dict:
    return effective_capabilities(platform.capabilities, platform.constraints)


def platform_utilisations(platforms: list[Platform]) -> dict[int, dict]:
    """Allocated vCPUs/memory of each platform's live VMs against its capacity.

    One grouped query for all the platforms, keyed by platform id.
    """
    allocated: dict[int, dict[str, Any]] = {
        row["platform"]: dict(row)
        for row in ManagedVM.objects.filter(platform__in=[p.pk for p in platforms])
        .exclude(state__in=[VMState.GONE, VMState.SHUTOFF])
        .values("platform")
        .annotate(vcpus=Sum("vcpus"), memory=Sum("memory_mib"))
    }
    result = {}
    for platform in platforms:
        row = allocated.get(platform.pk) or {}
        caps = platform.capabilities or {}
        result[platform.pk] = {
            "vcpus_allocated": row.get("vcpus") or 0,
            "vcpus_total": caps.get("cpu_count") or 0,
            "memory_allocated_mib": row.get("memory") or 0,
            "memory_total_mib": caps.get("memory_mib") or 0,
            "memory_free_mib": caps.get("free_memory_mib") or 0,
        }
    return result


def platform_utilisation(*, platform: Platform) -> dict:
    """Allocated vCPUs/memory of the platform's live VMs against its capacity."""
    return platform_utilisations([platform])[platform.pk]


def platform_named(name: str, *, path: str = "platform") -> Platform:
    """The platform of that name; invalid input (at ``path``) when there is none."""
    platform = Platform.objects.filter(name=name).first()
    if platform is None:
        raise field_error(path, f"no platform named '{name}'")
    return platform


def platform_ref(ref: str | int, *, path: str = "platform") -> Platform:
    """A platform by id or by name (digits are tried as an id first, then as a name)."""
    if isinstance(ref, int) or str(ref).isdigit():
        platform = Platform.objects.filter(pk=int(ref)).first()
        if platform is not None:
            return platform
        if isinstance(ref, int):
            raise field_error(path, f"no platform {ref}")
    return platform_named(str(ref), path=path)
