"""Reads for platform and inventory pages, API and CLI."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from operations_app.constraints import effective_capabilities
from operations_app.models import BaseImage, ManagedVM, Platform, VMMetricSample, VMState


def platform_list(*, search: str = "", enabled: bool | None = None) -> QuerySet[Platform]:
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
    return qs


def platform_effective_capabilities(platform: Platform) -> dict:
    return effective_capabilities(platform.capabilities, platform.constraints)


def vm_list(
    *, platform: str = "", state: str = "", managed: bool | None = None, search: str = ""
) -> QuerySet[ManagedVM]:
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
    return qs


def vm_metrics(*, vm: ManagedVM, limit: int = 120) -> list[VMMetricSample]:
    """The newest ``limit`` samples, oldest first (for charts)."""
    return list(reversed(list(vm.samples.order_by("-at")[:limit])))


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


def base_image_list() -> QuerySet[BaseImage]:
    return BaseImage.objects.prefetch_related("locations__platform").order_by("image_id")
