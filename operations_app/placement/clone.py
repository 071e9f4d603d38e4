"""Placing a clone on one platform: filters that refuse it, then the choices.

Each filter looks at the request, the platform and the image and raises
``PlacementRefused`` (with the profile pointer) when the platform cannot take the VM;
they run in ``CLONE_FILTERS`` order, so the first reason is the one reported. The
choices (domain type, machine, disk bus, NICs, volumes) are then made for the platform
that passed, each with its reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from operations_app.constraints import effective_capabilities
from operations_app.hypervisor.errors import HypervisorError
from operations_app.hypervisor.networkxml import place_vlan
from operations_app.hypervisor.nwfilterxml import filter_name_for

from .types import CloneRequest, ImageFacts, Placement, PlacementRefused, PlatformFacts

GIB = 1024**3
VOLUME_LETTERS = "bcdefghijklmnopqrstuvwxyz"


def stable_mac(vm_name: str, index: int) -> str:
    """A locally administered unicast MAC derived from the VM name (same on every retry)."""
    digest = hashlib.sha256(f"{vm_name}/{index}".encode()).digest()
    return f"52:54:00:{digest[0]:02x}:{digest[1]:02x}:{digest[2]:02x}"


@dataclass(frozen=True)
class Candidate:
    """One platform as a filter sees it: its facts and its effective offer (empty for
    the image filters, which run before the platform is probed)."""

    request: CloneRequest
    platform: PlatformFacts
    image: ImageFacts | None
    offer: Mapping[str, Any] = field(default_factory=dict)


Filter = Callable[[Candidate], None]


# ----------------------------------------------------------------- filters


def image_registered(c: Candidate) -> None:
    if c.image is None:
        raise PlacementRefused(
            f"Base image '{c.request.image_id}' is not registered.", pointer="/base_image_id"
        )


def image_on_platform(c: Candidate) -> None:
    if c.image is None or c.image.location_path is None:
        raise PlacementRefused(
            f"Base image '{c.request.image_id}' is not available on {c.platform.name}.",
            pointer="/base_image_id",
        )


def vcpus_allowed(c: Candidate) -> None:
    limit = c.offer.get("max_vcpus")
    if limit and c.request.vcpus > limit:
        raise PlacementRefused(
            f"{c.request.vcpus} vCPUs exceed what {c.platform.name} allows ({limit}).",
            pointer="/resource_allocation/vcpus",
        )


def memory_enough_for_image(c: Candidate) -> None:
    assert c.image is not None  # image_registered ran first
    if c.request.memory_mib < c.image.min_memory_mib:
        raise PlacementRefused(
            f"{c.request.memory_mib} MiB is below the base image's minimum of {c.image.min_memory_mib} MiB.",
            pointer="/resource_allocation/memory_mib",
        )


def accelerator_offered(c: Candidate) -> None:
    if _domain_type(c.offer) is None:
        raise PlacementRefused(f"{c.platform.name} offers no usable accelerator.")


# The image filters need no probe of the platform: ``IMAGE_FILTERS`` can run before its
# capabilities are read.
IMAGE_FILTERS: tuple[Filter, ...] = (
    image_registered,
    image_on_platform,
)
CLONE_FILTERS: tuple[Filter, ...] = (
    *IMAGE_FILTERS,
    vcpus_allowed,
    memory_enough_for_image,
    accelerator_offered,
)


# ----------------------------------------------------------------- choices


def _domain_type(offer: Mapping[str, Any]) -> str | None:
    accelerators = offer.get("accelerators") or []
    return "kvm" if "kvm" in accelerators else ("qemu" if "qemu" in accelerators else None)


def _machine(offer: Mapping[str, Any]) -> str | None:
    machines = offer.get("machine_types") or []
    return next((m for m in ("pc", "q35") if m in machines), machines[0] if machines else None)


def _disk_bus(offer: Mapping[str, Any]) -> str:
    buses = offer.get("disk_buses") or ["virtio"]
    return "virtio" if "virtio" in buses else buses[0]


def _interfaces(c: Candidate) -> list[dict]:
    platform, vm = c.platform, c.request.vm_name
    nic_models = c.offer.get("nic_models") or ["virtio"]
    ovs = bool((platform.capabilities or {}).get("openvswitch"))
    out = []
    for i, nic in enumerate(c.request.interfaces):
        pointer = f"/network_configuration/interfaces/{i}"
        model = nic.get("model") or ("virtio" if "virtio" in nic_models else nic_models[0])
        if model not in nic_models:
            raise PlacementRefused(
                f"NIC model {model} is not allowed on {platform.name} (allowed: {', '.join(nic_models)}).",
                pointer=f"{pointer}/model",
            )
        network, portgroup, tag = nic["network"], None, None
        if nic.get("vlan"):
            try:
                vlan = place_vlan(
                    int(nic["vlan"]),
                    mapping=platform.vlan_networks or {},
                    ovs_available=ovs,
                    trunk_network=nic["network"] if ovs else None,
                )
            except HypervisorError as exc:
                raise PlacementRefused(
                    f"On {platform.name}: {exc}", pointer=f"{pointer}/vlan"
                ) from exc
            network, portgroup, tag = vlan.network, vlan.portgroup, vlan.vlan_tag
        if platform.networks and network not in platform.networks:
            raise PlacementRefused(
                f"Network {network} is not offered by {platform.name} (offered: {', '.join(platform.networks)}).",
                pointer=f"{pointer}/network",
            )
        out.append(
            {
                "network": network,
                "portgroup": portgroup,
                "vlan_tag": tag,
                "model": model,
                "mac": (nic.get("mac") or stable_mac(vm, i)).lower(),
                "pointer": pointer,
            }
        )
    return out


def _volumes(request: CloneRequest) -> list[dict]:
    vm = request.vm_name
    out = []
    for i, vol in enumerate(request.volumes):
        enc = vol.get("encryption") or {}
        out.append(
            {
                "name": vol["name"],
                "volume": f"{vm}-{vol['name']}.qcow2",
                "serial": hashlib.sha256(f"{vm}/{vol['name']}".encode()).hexdigest()[:16],
                "target": f"vd{VOLUME_LETTERS[i]}",
                "size_bytes": int(float(vol["size_gib"]) * GIB),
                "format": vol.get("format") or "qcow2",
                "encrypted": bool(enc.get("enabled")),
                "key_ref": enc.get("key_ref"),
                "generate": bool(enc.get("generate")),
                "pointer": f"/data_volume_definitions/{i}",
            }
        )
    return out


# ----------------------------------------------------------------- entry points


def check_image(request: CloneRequest, platform: PlatformFacts, image: ImageFacts | None) -> None:
    """Run the image filters only; raises ``PlacementRefused``."""
    candidate = Candidate(request=request, platform=platform, image=image)
    for check in IMAGE_FILTERS:
        check(candidate)


def place_clone(
    request: CloneRequest, platform: PlatformFacts, image: ImageFacts | None
) -> Placement:
    """Where and how the VM is made on ``platform``; raises ``PlacementRefused`` with the
    first reason the platform cannot take it."""
    offer = effective_capabilities(platform.capabilities, platform.constraints)
    c = Candidate(request=request, platform=platform, image=image, offer=offer)
    for check in CLONE_FILTERS:
        check(c)
    assert image is not None and image.location_path is not None  # the image filters passed
    domain_type = _domain_type(offer)
    assert domain_type is not None  # accelerator_offered passed
    machine = _machine(offer)
    disk_bus = _disk_bus(offer)
    interfaces = _interfaces(c)
    volumes = _volumes(request)
    vm = request.vm_name
    reasons = [
        f"{domain_type} domain: accelerators offered {', '.join(offer.get('accelerators') or [])}",
        f"machine {machine}: pc, then q35, preferred among {', '.join(offer.get('machine_types') or []) or 'none'}",
        f"{disk_bus} disks: virtio preferred among {', '.join(offer.get('disk_buses') or ['virtio'])}",
        f"base image {image.image_id} at {image.location_path}",
    ]
    return Placement(
        platform=platform.name,
        domain_type=domain_type,
        machine=machine,
        disk_bus=disk_bus,
        pool=platform.storage_pool,
        root_volume=f"{vm}-root.qcow2",
        base_image_path=image.location_path,
        interfaces=interfaces,
        volumes=volumes,
        filter_name=filter_name_for(vm) if (request.firewall_rules or interfaces) else None,
        reasons=reasons,
    )
