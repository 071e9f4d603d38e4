"""Virtual networks: what ``hv.networks`` reports and defines, their portgroups, DHCP
hosts and VLAN placement."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._serde import JsonMixin


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
