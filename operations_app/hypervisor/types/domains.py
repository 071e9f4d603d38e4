"""Domains: the definition ``hv.domains`` takes (``DomainSpec`` and its devices, limits
and product metadata) and what it reports (``DomainInfo``, ``DomainState``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .._serde import JsonMixin


class DomainState(enum.StrEnum):
    NOSTATE = "nostate"
    RUNNING = "running"
    BLOCKED = "blocked"
    PAUSED = "paused"
    SHUTDOWN = "shutdown"  # being shut down
    SHUTOFF = "shutoff"
    CRASHED = "crashed"
    PMSUSPENDED = "pmsuspended"

    @property
    def active(self) -> bool:
        return self not in (DomainState.SHUTOFF, DomainState.CRASHED, DomainState.NOSTATE)


@dataclass
class DiskIoTune(JsonMixin):
    """Per-disk I/O limits (``<iotune>``); None means no limit."""

    total_iops_sec: int | None = None
    read_iops_sec: int | None = None
    write_iops_sec: int | None = None
    total_bytes_sec: int | None = None
    read_bytes_sec: int | None = None
    write_bytes_sec: int | None = None


@dataclass
class DiskSpec(JsonMixin):
    """A disk: either a file ``path`` or a ``pool``/``volume`` pair."""

    target: str = "vda"
    path: str | None = None
    pool: str | None = None
    volume: str | None = None
    format: str = "qcow2"
    bus: str = "virtio"
    device: str = "disk"
    readonly: bool = False
    serial: str | None = None
    encryption_secret_uuid: str | None = None
    iotune: DiskIoTune | None = None


@dataclass
class InterfaceSpec(JsonMixin):
    """A NIC on a libvirt network, optionally with a filter and a VLAN tag (OVS only)."""

    network: str
    portgroup: str | None = None
    mac: str | None = None
    model: str = "virtio"
    filter: str | None = None
    filter_parameters: dict[str, str] = field(default_factory=dict)
    vlan_tag: int | None = None


@dataclass
class BootSpec(JsonMixin):
    """Direct kernel boot when ``kernel`` is set, otherwise firmware boot from ``devices``."""

    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    devices: list[str] = field(default_factory=lambda: ["hd"])
    firmware: str = "bios"


@dataclass
class Tunables(JsonMixin):
    """``<cputune>``, ``<memtune>`` and ``<blkiotune>`` values; None leaves libvirt's default."""

    cpu_shares: int | None = None
    cpu_period: int | None = None
    cpu_quota: int | None = None
    memory_hard_limit_mib: int | None = None
    memory_soft_limit_mib: int | None = None
    blkio_weight: int | None = None


@dataclass
class DomainMetadata(JsonMixin):
    """What the product records on a domain, in its own XML namespace.

    A domain carrying this element is *managed* by the product.
    """

    profile: str | None = None
    profile_version: int | None = None
    content_hash: str | None = None
    execution_flags: list[str] = field(default_factory=list)
    job_id: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    # disk serial -> key_ref: which stored key unlocks each encrypted volume, so its
    # (ephemeral) secret can be supplied again after the host restarts. Names, not keys.
    volume_keys: dict[str, str] = field(default_factory=dict)


@dataclass
class DomainSpec(JsonMixin):
    name: str
    uuid: str | None = None
    domain_type: str = "qemu"
    arch: str = "x86_64"
    machine: str | None = None
    vcpus: int = 1
    memory_mib: int = 256
    cpu_mode: str | None = None
    cpu_model: str | None = None
    boot: BootSpec = field(default_factory=BootSpec)
    disks: list[DiskSpec] = field(default_factory=list)
    interfaces: list[InterfaceSpec] = field(default_factory=list)
    serial_log: str | None = None
    description: str | None = None
    metadata: DomainMetadata | None = None
    tunables: Tunables = field(default_factory=Tunables)
    # Empty PCIe root ports kept for disks and NICs hot-plugged later (q35 machines only:
    # PCI Express has no hot-plug on the root bus; i440fx's PCI bus has its own slots).
    # Written, not read back: libvirt's own root ports are indistinguishable.
    hotplug_slots: int = 0


@dataclass
class DomainInfo(JsonMixin):
    name: str
    uuid: str
    state: DomainState
    id: int | None
    persistent: bool
    autostart: bool
    vcpus: int
    memory_mib: int
    metadata: DomainMetadata | None = None

    @property
    def managed(self) -> bool:
        return self.metadata is not None
