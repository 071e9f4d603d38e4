"""Placement: on which platform, and how, a VM is made. Pure planning, no Django.

The input is plain data (``CloneRequest``: what the profile asks; ``PlatformFacts``:
what a platform offers; ``ImageFacts``: the base image and where it sits), the output a
``Placement`` decision with its reasons, or ``PlacementRefused`` naming the profile
element that does not fit. ``services.placement`` gathers the facts from the rows.

    from operations_app.placement import CloneRequest, place_clone

    decision = place_clone(CloneRequest.from_document(doc, vm_name="web-1"), facts, image)

Shaped as filter-then-choose (``clone.CLONE_FILTERS``, then the choices) so that
scheduling across several platforms (maintenance evacuation, policies) can add filters
and a scoring pass over the candidates that pass.
"""

from .clone import CLONE_FILTERS, IMAGE_FILTERS, Candidate, check_image, place_clone, stable_mac
from .evacuation import (
    HOST_FILTERS,
    SCORES,
    DryRunVerdict,
    EvacuationPlan,
    HostFacts,
    HostVerdict,
    VMFacts,
    VMPlacement,
    plan_evacuation,
)
from .types import CloneRequest, ImageFacts, Placement, PlacementRefused, Plan, PlatformFacts

__all__ = [
    "HOST_FILTERS",
    "SCORES",
    "DryRunVerdict",
    "EvacuationPlan",
    "HostFacts",
    "HostVerdict",
    "VMFacts",
    "VMPlacement",
    "plan_evacuation",
    "CLONE_FILTERS",
    "IMAGE_FILTERS",
    "Candidate",
    "CloneRequest",
    "ImageFacts",
    "Placement",
    "PlacementRefused",
    "Plan",
    "PlatformFacts",
    "check_image",
    "place_clone",
    "stable_mac",
]
