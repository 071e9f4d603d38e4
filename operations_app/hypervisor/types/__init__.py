"""Dataclasses that the hypervisor boundary takes and returns (no libvirt objects leak).

Everything that Django may store is JSON-serialisable with ``to_dict()``/``from_dict()``.
Sizes are bytes unless the field name says otherwise (``_mib``, ``_kib``).

One module per topic; every name is importable from here.
"""

from __future__ import annotations

from .capabilities import Accelerator, Capabilities, DomainTypeCapabilities, HostCpu, MachineType
from .domains import (
    BootSpec,
    DiskIoTune,
    DiskSpec,
    DomainInfo,
    DomainMetadata,
    DomainSpec,
    DomainState,
    InterfaceSpec,
    Tunables,
)
from .firewall import FirewallRule, NWFilterSpec
from .guest import ExecResult, GuestAddress, GuestFilesystem, GuestInterface, GuestOsInfo, GuestUser
from .networks import DhcpHost, NetworkInfo, NetworkSpec, PortGroup, VlanPlacement
from .snapshots import SnapshotDisk, SnapshotInfo
from .stats import BlockStats, DomainStats, MigrationProgress, MigrationResult, NetStats, stat_int
from .storage import PoolInfo, VolumeInfo

__all__ = [
    "Accelerator",
    "BlockStats",
    "BootSpec",
    "Capabilities",
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
    "GuestFilesystem",
    "GuestInterface",
    "GuestOsInfo",
    "GuestUser",
    "HostCpu",
    "InterfaceSpec",
    "MachineType",
    "MigrationProgress",
    "MigrationResult",
    "NWFilterSpec",
    "NetStats",
    "NetworkInfo",
    "NetworkSpec",
    "PoolInfo",
    "PortGroup",
    "SnapshotDisk",
    "SnapshotInfo",
    "Tunables",
    "VlanPlacement",
    "VolumeInfo",
    "stat_int",
]
