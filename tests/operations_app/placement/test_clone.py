"""The clone placement decision, from plain facts (no database, no host)."""

from __future__ import annotations

import pytest

from operations_app.placement import (
    CloneRequest,
    ImageFacts,
    PlacementRefused,
    PlatformFacts,
    place_clone,
    stable_mac,
)

CAPS = {  # as ``Capabilities.to_dict()`` stores them on the platform
    "accelerators": [{"domain_type": "qemu", "usable": True}],
    "machines": [{"name": "q35"}, {"name": "pc"}],
    "disk_buses": ["sata", "virtio"],
    "nic_models": ["e1000", "virtio"],
    "cpu_count": 8,
}
IMAGE = ImageFacts(image_id="tiny", min_memory_mib=256, location_path="/images/tiny.qcow2")


def document(**res):
    return {
        "base_image_id": "tiny",
        "resource_allocation": {"vcpus": 2, "memory_mib": 512, **res},
        "network_configuration": {"interfaces": [{"network": "default"}], "firewall_rules": []},
        "data_volume_definitions": [
            {"name": "data", "size_gib": 1, "encryption": {"enabled": True, "key_ref": "k"}}
        ],
    }


def platform(**over):
    values = {"name": "lab", "capabilities": CAPS, "networks": ["default"], "storage_pool": "p"}
    return PlatformFacts(**{**values, **over})


def test_a_platform_that_fits_gets_a_decision_with_reasons():
    decision = place_clone(
        CloneRequest.from_document(document(), vm_name="web-1"), platform(), IMAGE
    )
    assert (decision.domain_type, decision.machine, decision.disk_bus) == ("qemu", "pc", "virtio")
    assert decision.pool == "p" and decision.root_volume == "web-1-root.qcow2"
    assert decision.base_image_path == "/images/tiny.qcow2"
    assert decision.interfaces[0]["mac"] == stable_mac("web-1", 0)
    assert decision.interfaces[0]["model"] == "virtio"
    assert decision.volumes[0]["target"] == "vdb" and decision.volumes[0]["encrypted"]
    assert decision.volumes[0]["size_bytes"] == 1024**3
    assert decision.filter_name  # a NIC gets a filter
    assert decision.reasons


@pytest.mark.parametrize(
    ("doc", "facts", "image", "message", "pointer"),
    [
        (document(), platform(), None, "is not registered", "/base_image_id"),
        (
            document(),
            platform(),
            ImageFacts(image_id="tiny", min_memory_mib=256),
            "is not available on lab",
            "/base_image_id",
        ),
        (
            document(vcpus=16),
            platform(),
            IMAGE,
            "exceed what lab allows",
            "/resource_allocation/vcpus",
        ),
        (
            document(memory_mib=128),
            platform(),
            IMAGE,
            "below the base image's minimum",
            "/resource_allocation/memory_mib",
        ),
        (
            document(),
            platform(capabilities={**CAPS, "accelerators": []}),
            IMAGE,
            "offers no usable accelerator",
            "",
        ),
        (
            document(),
            platform(networks=["other"]),
            IMAGE,
            "Network default is not offered by lab",
            "/network_configuration/interfaces/0/network",
        ),
    ],
)
def test_the_first_filter_that_refuses_says_why_and_where(doc, facts, image, message, pointer):
    with pytest.raises(PlacementRefused, match=message) as refused:
        place_clone(CloneRequest.from_document(doc, vm_name="web-1"), facts, image)
    assert refused.value.pointer == pointer
