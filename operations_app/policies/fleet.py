"""The fleet as one evaluation sees it: one consistent snapshot, plain data.

``services.policies`` takes it from the rows (platforms with capacity, costs and
versions; VMs with their recent utilisation, scope attributes and the policy moves they
had) in a fixed number of queries; everything here is pure, so the same snapshot gives
the same plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from operations_app.placement.evacuation import HostFacts, VMFacts

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class FleetVM:
    """A VM: what it needs (``facts``), where it runs, what it uses, who it is."""

    facts: VMFacts
    platform: str
    cpu_cores: float = 0.0  # host CPUs it used on average lately (cpu % × vCPUs)
    memory_used_mib: float = 0.0
    profile: str = ""  # the profile's name
    profile_version: str = ""  # name@N
    execution_flags: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    managed: bool = True
    policy_moves: tuple[datetime, ...] = ()  # when policies moved it, newest first
    # advisories its own applications and runtimes are exposed to: (id, cvss), worst first
    advisories: tuple[tuple[str, float | None], ...] = ()
    # the profile's approved version when newer than the VM's (name@N), and its exposure
    replacement: str = ""
    replacement_advisories: tuple[tuple[str, float | None], ...] = ()
    # when its QEMU process is older than the one installed on its platform: both
    # versions, and the advisories the older one is exposed to that the platform is not
    # (a restart or a move, which starts a new QEMU process, fixes them)
    running_qemu: str = ""
    installed_qemu: str = ""
    qemu_advisories: tuple[tuple[str, float | None], ...] = ()

    @property
    def name(self) -> str:
        return self.facts.name

    def monthly_cost(self, host: FleetHost) -> float:
        """What the VM costs a month on ``host``: vCPUs, memory and disk at its rates."""
        gib = self.facts.disk_bytes / 1024**3
        hourly = (
            self.facts.vcpus * host.cost_vcpu_hour
            + self.facts.memory_mib / 1024 * host.cost_ram_gib_hour
        )
        return round(hourly * HOURS_PER_MONTH + gib * host.cost_storage_gib_month, 4)


@dataclass(frozen=True)
class FleetHost:
    """A platform: its placement facts, its costs, what it runs, its versions."""

    facts: HostFacts
    cost_vcpu_hour: float = 0.0
    cost_ram_gib_hour: float = 0.0
    cost_storage_gib_month: float = 0.0
    currency: str = "EUR"
    versions: Mapping[str, str] = field(default_factory=dict)  # libvirt, qemu, kernel
    labels: Mapping[str, str] = field(default_factory=dict)
    # advisories its packages (host facts, libvirt, QEMU) are exposed to: (id, cvss)
    advisories: tuple[tuple[str, float | None], ...] = ()

    @property
    def name(self) -> str:
        return self.facts.name


@dataclass(frozen=True)
class FleetSnapshot:
    taken_at: datetime
    hosts: Mapping[str, FleetHost]
    vms: Mapping[str, FleetVM]

    @classmethod
    def of(
        cls, *, taken_at: datetime, hosts: Iterable[FleetHost], vms: Iterable[FleetVM]
    ) -> FleetSnapshot:
        return cls(
            taken_at=taken_at,
            hosts={h.name: h for h in sorted(hosts, key=lambda h: h.name)},
            vms={v.name: v for v in sorted(vms, key=lambda v: v.name)},
        )

    def vms_on(self, host: str) -> list[FleetVM]:
        return [v for v in self.vms.values() if v.platform == host]


def cpu_load(snapshot: FleetSnapshot, host: str, placed: Mapping[str, str]) -> float:
    """The host's CPU use in percent of its CPUs, with the VMs where ``placed`` puts them."""
    on_host = (v for v in snapshot.vms.values() if placed.get(v.name) == host)
    return load_of(snapshot.hosts[host], on_host, "cpu")


def memory_load(snapshot: FleetSnapshot, host: str, placed: Mapping[str, str]) -> float:
    """The host's memory use in percent of its memory (the VMs' used memory, or their
    allocation when the guest does not say)."""
    on_host = (v for v in snapshot.vms.values() if placed.get(v.name) == host)
    return load_of(snapshot.hosts[host], on_host, "memory")


def load_of(host: FleetHost, vms: Iterable[FleetVM], metric: str) -> float:
    """``host``'s load in percent with ``vms`` (in name order) on it: what ``cpu_load``
    and ``memory_load`` compute, for a caller that keeps each host's VMs at hand."""
    if metric == "cpu":
        cpus = host.facts.cpu_count
        if cpus <= 0:
            return 0.0
        return 100.0 * sum(v.cpu_cores for v in vms) / cpus
    total = host.facts.memory_mib
    if total <= 0:
        return 0.0
    return 100.0 * sum((v.memory_used_mib or v.facts.memory_mib) for v in vms) / total


LOADS = {"cpu": cpu_load, "memory": memory_load}


def profile_disk_bytes(document: Mapping[str, Any] | None) -> int:
    """A VM's disks as its profile ``document`` defines them: the root disk and the data
    volumes (what placement, the policies and the cost page count)."""
    doc = document or {}
    root = float((doc.get("resource_allocation") or {}).get("storage_gib") or 0)
    volumes = sum(float(v.get("size_gib") or 0) for v in doc.get("data_volume_definitions") or [])
    return int((root + volumes) * 1024**3)
