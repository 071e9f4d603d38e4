"""Dataclasses that the hypervisor boundary takes and returns (no libvirt objects leak).

Everything that Django may store is JSON-serialisable with ``to_dict()``/``from_dict()``.
Sizes are bytes unless the field name says otherwise (``_mib``, ``_kib``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ._serde import JsonMixin

# --------------------------------------------------------------------------- capabilities


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
class PoolInfo(JsonMixin):
    name: str
    type: str
    path: str | None
    active: bool
    autostart: bool = False
    persistent: bool = True
    uuid: str | None = None
    capacity_bytes: int = 0
    allocation_bytes: int = 0
    available_bytes: int = 0


@dataclass
class PortGroup(JsonMixin):
    """A network portgroup; ``vlan_tags`` only mean something on Open vSwitch networks."""

    name: str
    vlan_tags: list[int] = field(default_factory=list)
    default: bool = False


@dataclass
class DhcpHost(JsonMixin):
    """A static DHCP lease on a libvirt network."""

    mac: str
    ip: str
    name: str | None = None


@dataclass
class NetworkInfo(JsonMixin):
    name: str
    uuid: str | None = None
    bridge: str | None = None
    active: bool = False
    persistent: bool = True
    autostart: bool = False
    forward_mode: str | None = None
    openvswitch: bool = False
    portgroups: list[PortGroup] = field(default_factory=list)
    ipv4_address: str | None = None
    ipv4_prefix: int | None = None
    dhcp_hosts: list[DhcpHost] = field(default_factory=list)


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


# --------------------------------------------------------------------------- domains


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


@dataclass
class BlockStats(JsonMixin):
    name: str
    path: str | None = None
    rd_bytes: int = 0
    wr_bytes: int = 0
    rd_reqs: int = 0
    wr_reqs: int = 0
    capacity_bytes: int | None = None
    allocation_bytes: int | None = None


@dataclass
class NetStats(JsonMixin):
    name: str
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_pkts: int = 0
    tx_pkts: int = 0
    rx_drop: int = 0
    tx_drop: int = 0


@dataclass
class DomainStats(JsonMixin):
    """One sample from ``getAllDomainStats``; counters are cumulative since domain start."""

    name: str
    uuid: str
    state: DomainState
    timestamp: float
    cpu_time_ns: int | None = None
    vcpus: int | None = None
    balloon_current_kib: int | None = None
    balloon_maximum_kib: int | None = None
    balloon_rss_kib: int | None = None
    balloon_unused_kib: int | None = None
    balloon_available_kib: int | None = None
    block: list[BlockStats] = field(default_factory=list)
    net: list[NetStats] = field(default_factory=list)


def stat_int(raw: dict, key: str) -> int | None:
    """A numeric libvirt statistic as an int, None when it was not reported."""
    value = raw.get(key)
    return int(value) if isinstance(value, int | float) else None


@dataclass
class MigrationProgress(JsonMixin):
    """A running migration's statistics (libvirt's ``jobStats``), None where not reported."""

    elapsed_ms: int | None = None
    data_total_bytes: int | None = None
    data_processed_bytes: int | None = None
    data_remaining_bytes: int | None = None
    memory_processed_bytes: int | None = None
    disk_processed_bytes: int | None = None
    disk_total_bytes: int | None = None

    def done_and_total(self) -> tuple[int | None, int | None]:
        """(bytes moved, bytes to move). While the disks are mirrored libvirt may report
        no data total yet; the disk figures stand in then."""
        if self.data_total_bytes:
            return self.data_processed_bytes, self.data_total_bytes
        done = (self.disk_processed_bytes or 0) + (self.memory_processed_bytes or 0)
        return done, self.disk_total_bytes or None

    @classmethod
    def from_stats(cls, raw: dict) -> MigrationProgress:
        def get(key: str) -> int | None:
            return stat_int(raw, key)

        return cls(
            elapsed_ms=get("time_elapsed"),
            data_total_bytes=get("data_total"),
            data_processed_bytes=get("data_processed"),
            data_remaining_bytes=get("data_remaining"),
            memory_processed_bytes=get("memory_processed"),
            disk_processed_bytes=get("disk_processed"),
            disk_total_bytes=get("disk_total"),
        )


@dataclass
class MigrationResult(JsonMixin):
    """Completed-job statistics of a migration (None where libvirt did not report them)."""

    domain: str
    dest_uri: str
    elapsed_ms: int
    downtime_ms: int | None = None
    total_ms: int | None = None
    data_total_bytes: int | None = None
    data_processed_bytes: int | None = None
    memory_processed_bytes: int | None = None
    disk_processed_bytes: int | None = None
    raw: dict[str, int | float | str] = field(default_factory=dict)


# --------------------------------------------------------------------------- storage


@dataclass
class VolumeInfo(JsonMixin):
    name: str
    pool: str | None
    path: str
    key: str | None = None
    format: str | None = None
    capacity_bytes: int = 0
    allocation_bytes: int = 0
    encrypted: bool = False
    encryption_format: str | None = None
    secret_uuid: str | None = None
    backing_path: str | None = None
    backing_format: str | None = None


# --------------------------------------------------------------------------- networks


@dataclass
class NetworkSpec(JsonMixin):
    """A libvirt network. With no ``forward_mode`` it is isolated (the default).

    ``forward_mode='bridge'`` with ``openvswitch=True`` describes an existing OVS bridge,
    the only kind of network on which ``portgroups`` with VLAN tags take effect.
    """

    name: str
    bridge: str | None = None
    uuid: str | None = None
    ipv4_address: str | None = None
    ipv4_prefix: int = 24
    dhcp_start: str | None = None
    dhcp_end: str | None = None
    dhcp_hosts: list[DhcpHost] = field(default_factory=list)
    forward_mode: str | None = None
    openvswitch: bool = False
    portgroups: list[PortGroup] = field(default_factory=list)
    mtu: int | None = None


@dataclass
class VlanPlacement(JsonMixin):
    """Where a NIC on a given VLAN goes: a network, maybe a portgroup, maybe a tag."""

    vlan: int
    network: str
    portgroup: str | None = None
    vlan_tag: int | None = None


# --------------------------------------------------------------------------- firewall


@dataclass
class FirewallRule(JsonMixin):
    """One rule. ``direction`` is seen from the guest: ``in`` is traffic to it.

    ``port``/``port_end`` are the destination port (range) of the packet; for ``in`` rules
    that is the guest's port, for ``out`` rules the remote one. Lower ``priority`` first.
    """

    direction: str
    protocol: str = "all"
    action: str = "accept"
    port: int | None = None
    port_end: int | None = None
    source_cidr: str | None = None
    dest_cidr: str | None = None
    priority: int = 500
    comment: str | None = None


@dataclass
class NWFilterSpec(JsonMixin):
    """A libvirt nwfilter built from firewall rules.

    ``default_policy='drop'`` drops IPv4 and IPv6 traffic no rule accepted. ARP is
    never touched by these IP-level rules; ``allow_dhcp`` keeps DHCP working;
    ``clean_traffic`` also references libvirt's anti-spoofing ``clean-traffic`` filter.
    """

    name: str
    rules: list[FirewallRule] = field(default_factory=list)
    default_policy: str = "drop"
    allow_dhcp: bool = True
    clean_traffic: bool = False
    uuid: str | None = None


# --------------------------------------------------------------------------- snapshots


@dataclass
class SnapshotDisk(JsonMixin):
    name: str
    snapshot: str
    file: str | None = None


@dataclass
class SnapshotInfo(JsonMixin):
    name: str
    domain: str
    creation_time: int
    state: str
    kind: str
    has_memory: bool
    parent: str | None = None
    current: bool = False
    description: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    domain_metadata: DomainMetadata | None = None
    disks: list[SnapshotDisk] = field(default_factory=list)


# --------------------------------------------------------------------------- guest agent


@dataclass
class ExecResult:
    """Outcome of ``guest-exec``. ``exit_code`` is None when the command timed out."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    signal: int | None = None
    pid: int | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


@dataclass
class GuestUser(JsonMixin):
    name: str
    domain: str | None = None
    login_time: float | None = None


@dataclass
class GuestAddress(JsonMixin):
    type: str
    address: str
    prefix: int | None = None


@dataclass
class GuestInterface(JsonMixin):
    name: str
    mac: str | None = None
    addresses: list[GuestAddress] = field(default_factory=list)


@dataclass
class GuestOsInfo(JsonMixin):
    id: str | None = None
    name: str | None = None
    pretty_name: str | None = None
    version: str | None = None
    version_id: str | None = None
    kernel_release: str | None = None
    kernel_version: str | None = None
    machine: str | None = None


@dataclass
class GuestFilesystem(JsonMixin):
    mountpoint: str
    name: str | None = None
    type: str | None = None
    total_bytes: int | None = None
    used_bytes: int | None = None
    disks: list[str] = field(default_factory=list)
