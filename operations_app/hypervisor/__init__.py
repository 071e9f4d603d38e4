"""The hypervisor boundary: the only package that imports ``libvirt``.

Everything else in the project speaks in the terms exported here (``Hypervisor``,
``DomainSpec``, ``Capabilities``, ...) and catches the errors of ``errors``. No Django:
the package is usable from scripts and benchmarks; settings come in as arguments.

    from operations_app.hypervisor import Hypervisor, DomainSpec

    with Hypervisor.connect("qemu:///system") as hv:
        caps = hv.capabilities(kvm_usable=False)
        hv.domains.define(DomainSpec(name="web1", domain_type=caps.domain_type))
"""

from __future__ import annotations

import libvirt

from ._xml import PERSONA_NS, PERSONA_PREFIX
from .agent import GuestAgent, Transport
from .capabilities import KVM_ENV, is_local_uri, judge_kvm, probe_kvm_boot
from .connection import Hypervisor, redact_uri
from .domainedit import (
    parse_domain_definition,
    pci_address_count,
    pretty_lines,
    swap_pools,
    swap_secrets,
)
from .domains import QemuVersion, parse_query_version
from .domainxml import (
    AGENT_CHANNEL,
    disk_xml,
    domain_xml,
    interface_xml,
    metadata_xml,
    parse_domain_xml,
    parse_metadata_xml,
    retarget_disks,
)
from .errors import (
    AgentCommandFailed,
    AgentUnavailable,
    AlreadyExists,
    ConnectionFailed,
    HypervisorError,
    InvalidSpec,
    InvalidState,
    NotFound,
    OperationAborted,
    OperationFailed,
    OperationTimeout,
    Unsupported,
)
from .networkxml import dhcp_host_xml, network_xml, parse_network_xml, place_vlan
from .nwfilterxml import filter_name_for, nwfilter_xml, parse_nwfilter_xml
from .snapshots import parse_snapshot_xml, snapshot_xml
from .storagexml import dir_pool_xml, secret_xml, volume_xml
from .types import (
    Accelerator,
    BlockStats,
    BootSpec,
    Capabilities,
    DhcpHost,
    DiskIoTune,
    DiskSpec,
    DomainInfo,
    DomainMetadata,
    DomainSpec,
    DomainState,
    DomainStats,
    DomainTypeCapabilities,
    ExecResult,
    FirewallRule,
    GuestAddress,
    GuestFilesystem,
    GuestInterface,
    GuestOsInfo,
    GuestUser,
    HostCpu,
    InterfaceSpec,
    MachineType,
    MigrationProgress,
    MigrationResult,
    NetStats,
    NetworkInfo,
    NetworkSpec,
    NWFilterSpec,
    PoolInfo,
    PortGroup,
    SnapshotDisk,
    SnapshotInfo,
    Tunables,
    VlanPlacement,
    VolumeInfo,
)


def _silence(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; ours become exceptions instead."""


libvirt.registerErrorHandler(_silence, None)

__all__ = [
    "AGENT_CHANNEL",
    "KVM_ENV",
    "PERSONA_NS",
    "PERSONA_PREFIX",
    "Accelerator",
    "AgentCommandFailed",
    "AgentUnavailable",
    "AlreadyExists",
    "BlockStats",
    "BootSpec",
    "Capabilities",
    "ConnectionFailed",
    "DhcpHost",
    "DiskIoTune",
    "DiskSpec",
    "DomainInfo",
    "DomainMetadata",
    "DomainSpec",
    "DomainState",
    "DomainStats",
    "DomainTypeCapabilities",
    "ExecResult",
    "FirewallRule",
    "GuestAddress",
    "GuestAgent",
    "GuestFilesystem",
    "GuestInterface",
    "GuestOsInfo",
    "GuestUser",
    "HostCpu",
    "Hypervisor",
    "HypervisorError",
    "InterfaceSpec",
    "InvalidSpec",
    "InvalidState",
    "MachineType",
    "MigrationProgress",
    "MigrationResult",
    "NWFilterSpec",
    "NetStats",
    "NetworkInfo",
    "NetworkSpec",
    "NotFound",
    "OperationFailed",
    "OperationAborted",
    "OperationTimeout",
    "PoolInfo",
    "QemuVersion",
    "PortGroup",
    "SnapshotDisk",
    "SnapshotInfo",
    "Transport",
    "Tunables",
    "Unsupported",
    "VlanPlacement",
    "VolumeInfo",
    "dhcp_host_xml",
    "dir_pool_xml",
    "disk_xml",
    "domain_xml",
    "filter_name_for",
    "interface_xml",
    "is_local_uri",
    "judge_kvm",
    "metadata_xml",
    "network_xml",
    "nwfilter_xml",
    "parse_domain_definition",
    "parse_domain_xml",
    "parse_metadata_xml",
    "parse_network_xml",
    "parse_query_version",
    "parse_nwfilter_xml",
    "parse_snapshot_xml",
    "pci_address_count",
    "place_vlan",
    "pretty_lines",
    "probe_kvm_boot",
    "redact_uri",
    "retarget_disks",
    "secret_xml",
    "snapshot_xml",
    "swap_pools",
    "swap_secrets",
    "volume_xml",
]
