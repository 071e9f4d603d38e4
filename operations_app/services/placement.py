"""Placement facts from the rows, and the decision of ``operations_app.placement``."""

from __future__ import annotations

from typing import Any

from operations_app.models import BaseImage, BaseImageLocation, Platform
from operations_app.placement import (
    CloneRequest,
    ImageFacts,
    Placement,
    PlacementRefused,
    PlatformFacts,
    check_image,
    place_clone,
)
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
