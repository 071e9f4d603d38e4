"""The plain data placement works on: what is asked, what a platform offers, what it
decides. No Django: the service (``services.placement``) fills these from the rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class PlacementRefused(Exception):
    """The platform cannot take the VM as asked; the message is for the user and
    ``pointer`` is the JSON pointer of the profile element that does not fit ("" when it
    is the platform as a whole)."""

    def __init__(self, message: str, *, pointer: str = "") -> None:
        super().__init__(message)
        self.pointer = pointer


@dataclass(frozen=True)
class ImageFacts:
    """The profile's base image as registered, and where it sits on the platform."""

    image_id: str
    min_memory_mib: int
    location_path: str | None = None  # None: not available on the platform


@dataclass(frozen=True)
class PlatformFacts:
    """What a platform offers, as probed (``capabilities``) and as limited by its
    administrators (``constraints``)."""

    name: str
    capabilities: dict[str, Any]
    constraints: dict[str, Any] = field(default_factory=dict)
    networks: list[str] = field(default_factory=list)
    vlan_networks: Mapping[int | str, str] = field(default_factory=dict)
    storage_pool: str = ""


@dataclass(frozen=True)
class CloneRequest:
    """What a clone asks for: the VM's name and the profile's requirements (values as
    the profile document holds them)."""

    vm_name: str
    image_id: str | None
    vcpus: Any
    memory_mib: Any
    interfaces: list[Mapping[str, Any]] = field(default_factory=list)
    volumes: list[Mapping[str, Any]] = field(default_factory=list)
    firewall_rules: list[Mapping[str, Any]] = field(default_factory=list)

    @classmethod
    def from_document(cls, document: Mapping[str, Any], *, vm_name: str) -> CloneRequest:
        res = document["resource_allocation"]
        net = document.get("network_configuration", {})
        return cls(
            vm_name=vm_name,
            image_id=document.get("base_image_id"),
            vcpus=res["vcpus"],
            memory_mib=res["memory_mib"],
            interfaces=list(net.get("interfaces", [])),
            volumes=list(document.get("data_volume_definitions", [])),
            firewall_rules=list(net.get("firewall_rules", [])),
        )


@dataclass
class Placement:
    """The decision: how the VM is made on the platform, and why."""

    platform: str
    domain_type: str
    machine: str | None
    disk_bus: str
    pool: str
    root_volume: str
    base_image_path: str
    interfaces: list[dict] = field(default_factory=list)
    volumes: list[dict] = field(default_factory=list)
    filter_name: str | None = None
    reasons: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What a job provisions (a ``Placement`` plus the pool's path), recorded on the job
    as ``result["plan"]`` and read back by later steps and later jobs."""

    domain_type: str
    machine: str | None
    disk_bus: str
    pool: str
    pool_path: str
    root_volume: str
    interfaces: list[dict] = field(default_factory=list)  # network, portgroup, vlan_tag, mac, model
    volumes: list[dict] = field(
        default_factory=list
    )  # name, volume, serial, target, encrypted, key_ref
    filter_name: str | None = None

    @classmethod
    def of(cls, placement: Placement, *, pool_path: str) -> Plan:
        return cls(
            domain_type=placement.domain_type,
            machine=placement.machine,
            disk_bus=placement.disk_bus,
            pool=placement.pool,
            pool_path=pool_path,
            root_volume=placement.root_volume,
            interfaces=placement.interfaces,
            volumes=placement.volumes,
            filter_name=placement.filter_name,
        )

    def to_dict(self) -> dict:
        return self.__dict__.copy()
