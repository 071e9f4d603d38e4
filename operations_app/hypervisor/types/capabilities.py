"""What a libvirt host offers: its CPU, accelerators, machine types, devices, firmware,
pools and networks (``hv.capabilities()``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._serde import JsonMixin
from .networks import NetworkInfo
from .storage import PoolInfo


@dataclass
class MachineType(JsonMixin):
    """A QEMU machine type; ``canonical`` is set when ``name`` is an alias (``pc``, ``q35``)."""

    name: str
    canonical: str | None = None
    max_cpus: int | None = None
    deprecated: bool = False


@dataclass
class HostCpu(JsonMixin):
    arch: str
    model: str | None = None
    vendor: str | None = None
    features: list[str] = field(default_factory=list)
    sockets: int | None = None
    cores: int | None = None
    threads: int | None = None


@dataclass
class Accelerator(JsonMixin):
    """A libvirt domain type (``kvm``, ``qemu``, ...) and whether guests can really use it."""

    domain_type: str
    usable: bool
    reason: str


@dataclass
class DomainTypeCapabilities(JsonMixin):
    """What ``getDomainCapabilities`` reports for one domain type on the host arch."""

    domain_type: str
    emulator: str | None = None
    machine: str | None = None
    max_vcpus: int | None = None
    cpu_modes: list[str] = field(default_factory=list)
    host_model: str | None = None
    cpu_models: list[str] = field(default_factory=list)
    disk_buses: list[str] = field(default_factory=list)
    nic_models: list[str] = field(default_factory=list)
    nic_models_reported: bool = False
    firmware: list[str] = field(default_factory=list)
    loaders: list[str] = field(default_factory=list)


@dataclass
class Capabilities(JsonMixin):
    """One libvirt host as the product sees it. ``domain_type`` is the type to use for guests.

    The top-level CPU models, buses, NIC models and firmware are those of ``domain_type``;
    ``domain_types`` holds the details of every offered type.
    """

    uri: str
    hostname: str
    driver: str
    arch: str
    libvirt_version: str
    hypervisor_version: str | None
    host_uuid: str | None
    host_cpu: HostCpu
    cpu_count: int
    memory_mib: int
    free_memory_mib: int
    accelerators: list[Accelerator]
    domain_type: str
    domain_types: dict[str, DomainTypeCapabilities]
    machines: list[MachineType]
    emulator: str | None
    cpu_models: list[str]
    cpu_modes: list[str]
    disk_buses: list[str]
    nic_models: list[str]
    firmware: list[str]
    loaders: list[str]
    pools: list[PoolInfo] = field(default_factory=list)
    networks: list[NetworkInfo] = field(default_factory=list)
    openvswitch: bool = False
    migration_transports: list[str] = field(default_factory=list)
    # largest memtune hard limit a guest can start with here; None: no ceiling known
    memory_hard_limit_max_mib: int | None = None

    def accelerator(self, domain_type: str) -> Accelerator | None:
        return next((a for a in self.accelerators if a.domain_type == domain_type), None)

    def canonical_machine(self, name: str) -> str | None:
        """The canonical machine type for ``name`` (an alias or a versioned name), or None."""
        for machine in self.machines:
            if machine.name == name:
                return machine.canonical or machine.name
        return None

    def machine_aliases(self) -> dict[str, str]:
        return {m.name: m.canonical for m in self.machines if m.canonical}
