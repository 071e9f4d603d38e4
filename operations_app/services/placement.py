"""Placement facts from the rows, and the decision of ``operations_app.placement``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform

from operations_app.models import BaseImage, BaseImageLocation, Platform, PlatformStatus
from operations_app.placement import (
    CloneRequest,
    HostFacts,
    ImageFacts,
    Placement,
    PlacementRefused,
    PlatformFacts,
    check_image,
    place_clone,
)
from operations_app.placement.evacuation import DEFAULT_OVERCOMMIT
from operations_app.services.platforms import platform_refresh


def _image_facts(image: BaseImage | None, platform: Platform) -> ImageFacts | None:
    if image is None:
        return None
    location = BaseImageLocation.objects.filter(image=image, platform=platform).first()
    return ImageFacts(
        image_id=image.image_id,
        min_memory_mib=image.min_memory_mib,
        location_path=location.path if location is not None else None,
    )


def platform_facts(platform: Platform) -> PlatformFacts:
    """What ``platform`` offers, as last probed and as its administrators limit it."""
    return PlatformFacts(
        name=platform.name,
        capabilities=platform.capabilities,
        constraints=platform.constraints,
        networks=list(platform.networks or []),
        vlan_networks=platform.vlan_networks or {},
        storage_pool=platform.storage_pool,
    )


def _pool(capabilities: dict, name: str) -> dict:
    for pool in capabilities.get("pools") or []:
        if pool.get("name") == name:
            return pool
    return {}


# The parts of a platform's capabilities placement reads (``host_facts_of``).
PLACEMENT_CAPABILITIES = ("cpu_count", "memory_mib", "pools")


def platforms_for_placement(queryset: QuerySet[Platform]) -> list[Platform]:
    """``queryset``'s platforms with only the parts of their capabilities placement reads
    (``placement_capabilities``), extracted by the database: a probe's whole document is
    what makes a platform row dear to read, and a plan reads every platform. The full
    document loads, per platform, when something else asks for it (a dry run's target)."""
    rows = list(
        queryset.defer("capabilities").annotate(
            **{f"_caps_{k}": KeyTransform(k, "capabilities") for k in PLACEMENT_CAPABILITIES}
        )
    )
    for row in rows:
        caps = {
            k: getattr(row, f"_caps_{k}")
            for k in PLACEMENT_CAPABILITIES
            if getattr(row, f"_caps_{k}") is not None
        }
        row.placement_capabilities = caps or row.capabilities  # type: ignore[attr-defined]
    return rows


class PlacementRow:
    """A platform as placement reads it (``host_facts_of``), without the rest of its row."""

    __slots__ = (
        "pk",
        "name",
        "enabled",
        "status",
        "storage_pool",
        "constraints",
        "cost_vcpu_hour",
        "cost_ram_gib_hour",
        "labels",
        "placement_capabilities",
        "capabilities",
    )

    def __init__(self, values: tuple, placement_capabilities: dict) -> None:
        (
            self.pk,
            self.name,
            self.enabled,
            self.status,
            self.storage_pool,
            self.constraints,
            self.cost_vcpu_hour,
            self.cost_ram_gib_hour,
            self.labels,
        ) = values
        self.placement_capabilities = placement_capabilities
        self.capabilities: dict[str, Any] = {}


def placement_rows(queryset: QuerySet[Platform]) -> list[PlacementRow]:
    """``platforms_for_placement`` reading only the columns ``host_facts_of`` reads, as
    plain values rather than model instances: a plan reads every platform of the fleet.
    A platform whose capabilities have none of those parts has its whole document read
    (one query for all of them), as ``platforms_for_placement`` would."""
    columns = (
        "pk",
        "name",
        "enabled",
        "status",
        "storage_pool",
        "constraints",
        "cost_vcpu_hour",
        "cost_ram_gib_hour",
        "labels",
    )
    parts = [f"_caps_{k}" for k in PLACEMENT_CAPABILITIES]
    values = queryset.annotate(
        **{f"_caps_{k}": KeyTransform(k, "capabilities") for k in PLACEMENT_CAPABILITIES}
    ).values_list(*columns, *parts)
    rows, bare = [], []
    n = len(columns)
    for value in values:
        caps = {
            k: v for k, v in zip(PLACEMENT_CAPABILITIES, value[n:], strict=True) if v is not None
        }
        row = PlacementRow(value[:n], caps)
        rows.append(row)
        if not caps:
            bare.append(row)
    if bare:
        documents = dict(
            Platform.objects.filter(pk__in=[r.pk for r in bare]).values_list("pk", "capabilities")
        )
        for row in bare:
            row.placement_capabilities = row.capabilities = documents.get(row.pk) or {}
    return rows


def host_facts_of(
    platform: Platform | PlacementRow,
    *,
    used_vcpus: int,
    used_memory_mib: int,
    maintenance: str = "",
) -> HostFacts:
    """What ``platform`` has and allows, from its last probe and its declared constraints,
    with the vCPUs and memory already committed there (the caller counts them) and why
    it takes no new VMs (``maintenance``, "" when it does)."""
    caps = getattr(platform, "placement_capabilities", None) or platform.capabilities or {}
    limits = platform.constraints or {}
    pool = _pool(caps, platform.storage_pool)
    return HostFacts(
        name=platform.name,
        enabled=platform.enabled,
        reachable=bool(caps) and platform.status != PlatformStatus.UNREACHABLE,
        maintenance=maintenance,
        cpu_count=int(caps.get("cpu_count") or 0),
        memory_mib=int(caps.get("memory_mib") or 0),
        storage_capacity_bytes=int(pool.get("capacity_bytes") or 0),
        storage_free_bytes=int(pool.get("available_bytes") or 0),
        cpu_overcommit=float(limits.get("cpu_overcommit") or DEFAULT_OVERCOMMIT["cpu"]),
        memory_overcommit=float(limits.get("memory_overcommit") or DEFAULT_OVERCOMMIT["memory"]),
        storage_overcommit=float(limits.get("storage_overcommit") or DEFAULT_OVERCOMMIT["storage"]),
        used_vcpus=used_vcpus,
        used_memory_mib=used_memory_mib,
        used_storage_bytes=int(pool.get("allocation_bytes") or 0),
        max_vcpus=limits.get("max_vcpus"),
        max_memory_mib=limits.get("max_memory_mib"),
        cost_vcpu_hour=float(platform.cost_vcpu_hour),
        cost_ram_gib_hour=float(platform.cost_ram_gib_hour),
        labels=dict(platform.labels or {}),
    )


def clone_placement(*, platform: Platform, document: dict[str, Any], vm_name: str) -> Placement:
    """How a clone of ``document`` named ``vm_name`` is made on ``platform``.

    The image is checked first; a platform never probed is probed (and its capabilities
    recorded) before the decision. Raises ``PlacementRefused`` (with the profile pointer)
    when the platform cannot take the VM.
    """
    request = CloneRequest.from_document(document, vm_name=vm_name)
    image = BaseImage.objects.filter(image_id=request.image_id).first()
    facts = _image_facts(image, platform)
    check_image(request, platform_facts(platform), facts)
    if not platform.capabilities:
        platform = platform_refresh(platform=platform)
        if not platform.capabilities:
            raise PlacementRefused(
                f"Platform {platform.name} cannot be reached: {platform.last_error}"
            )
    return place_clone(request, platform_facts(platform), facts)
