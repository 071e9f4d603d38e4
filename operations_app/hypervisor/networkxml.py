"""Network XML (``NetworkSpec`` <-> ``<network>``), DHCP host entries and VLAN placement."""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from . import validation as v
from ._xml import attr, parse, sub, to_int, to_string
from .errors import InvalidSpec, Unsupported
from .types import DhcpHost, NetworkInfo, NetworkSpec, PortGroup, VlanPlacement

FORWARD_MODES = (None, "bridge")


def _check_vlan(value: object, *, what: str) -> int:
    return v.check_int(value, what=what, minimum=1, maximum=4094)


def dhcp_host_element(host: DhcpHost) -> ET.Element:
    elem = ET.Element("host")
    elem.set("mac", v.check_mac(host.mac, what="DHCP host MAC"))
    if host.name is not None:
        elem.set("name", v.check_hostname(host.name, what="DHCP host name"))
    elem.set("ip", v.check_ipv4(host.ip, what="DHCP host address"))
    return elem


def dhcp_host_xml(host: DhcpHost) -> str:
    """The ``<host>`` element that ``virNetworkUpdate`` takes."""
    return to_string(dhcp_host_element(host))


def network_element(spec: NetworkSpec) -> ET.Element:
    root = ET.Element("network")
    sub(root, "name", v.check_name(spec.name, what="network name"))
    if spec.uuid is not None:
        sub(root, "uuid", v.check_uuid(spec.uuid, what="network uuid"))
    if spec.forward_mode not in FORWARD_MODES:
        raise InvalidSpec("network forward mode must be unset (isolated) or 'bridge'")
    if spec.forward_mode == "bridge":
        if spec.bridge is None:
            raise InvalidSpec("a bridge-mode network needs the name of an existing bridge")
        if spec.ipv4_address is not None:
            raise InvalidSpec("a bridge-mode network cannot have an address or DHCP")
        sub(root, "forward", mode="bridge")
    elif spec.openvswitch:
        raise InvalidSpec("an Open vSwitch network must use forward mode 'bridge'")
    if spec.bridge is not None:
        bridge = v.check_bridge(spec.bridge)
        if spec.forward_mode == "bridge":
            sub(root, "bridge", name=bridge)
        else:
            sub(root, "bridge", name=bridge, stp="on", delay=0)
    if spec.mtu is not None:
        sub(root, "mtu", size=v.check_int(spec.mtu, what="MTU", minimum=576, maximum=65535))
    if spec.openvswitch:
        sub(root, "virtualport", type="openvswitch")
    seen_groups: set[str] = set()
    for group in spec.portgroups:
        name = v.check_name(group.name, what="portgroup name")
        if name in seen_groups:
            raise InvalidSpec(f"portgroup {name!r} appears twice")
        seen_groups.add(name)
        elem = sub(root, "portgroup", name=name, default="yes" if group.default else None)
        if group.vlan_tags:
            if not spec.openvswitch:
                raise InvalidSpec("VLAN tags on a portgroup need an Open vSwitch network")
            vlan = sub(elem, "vlan", trunk="yes" if len(group.vlan_tags) > 1 else None)
            for tag in group.vlan_tags:
                sub(vlan, "tag", id=_check_vlan(tag, what=f"portgroup {name} VLAN"))
    if spec.ipv4_address is not None:
        _ip_element(root, spec)
    elif spec.dhcp_start or spec.dhcp_end or spec.dhcp_hosts:
        raise InvalidSpec("DHCP needs the network's IPv4 address")
    return root


def _ip_element(root: ET.Element, spec: NetworkSpec) -> None:
    address = ipaddress.IPv4Address(v.check_ipv4(spec.ipv4_address, what="network address"))
    prefix = v.check_int(spec.ipv4_prefix, what="network prefix", minimum=8, maximum=30)
    subnet = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    if address in (subnet.network_address, subnet.broadcast_address):
        raise InvalidSpec(f"{address} is not a host address of {subnet}")
    ip = sub(root, "ip", address=str(address), prefix=prefix)
    if not (spec.dhcp_start or spec.dhcp_end or spec.dhcp_hosts):
        return

    def inside(value: str | None, what: str) -> ipaddress.IPv4Address:
        addr = ipaddress.IPv4Address(v.check_ipv4(value, what=what))
        if addr not in subnet or addr in (
            address,
            subnet.network_address,
            subnet.broadcast_address,
        ):
            raise InvalidSpec(f"{what} {addr} is not a free host address of {subnet}")
        return addr

    dhcp = sub(ip, "dhcp")
    if spec.dhcp_start or spec.dhcp_end:
        start = inside(spec.dhcp_start, "DHCP range start")
        end = inside(spec.dhcp_end, "DHCP range end")
        if end < start:
            raise InvalidSpec("DHCP range ends before it starts")
        sub(dhcp, "range", start=str(start), end=str(end))
    macs: set[str] = set()
    ips: set[str] = set()
    for host in spec.dhcp_hosts:
        elem = dhcp_host_element(host)
        inside(elem.get("ip"), "DHCP host address")
        if elem.get("mac") in macs or elem.get("ip") in ips:
            raise InvalidSpec(f"DHCP host {elem.get('mac')} / {elem.get('ip')} appears twice")
        macs.add(elem.get("mac", ""))
        ips.add(elem.get("ip", ""))
        dhcp.append(elem)


def network_xml(spec: NetworkSpec) -> str:
    """Validate ``spec`` and return its libvirt network XML. Raises ``InvalidSpec``."""
    return to_string(network_element(spec))


def parse_network_xml(xml: str) -> NetworkSpec:
    root = parse(xml, what="network XML")
    forward = root.find("forward")
    bridge = root.find("bridge")
    ip = next((i for i in root.findall("ip") if i.get("family", "ipv4") == "ipv4"), None)
    spec = NetworkSpec(
        name=root.findtext("name") or "",
        uuid=root.findtext("uuid"),
        bridge=bridge.get("name") if bridge is not None else None,
        forward_mode=forward.get("mode", "nat") if forward is not None else None,
        openvswitch=root.find("virtualport[@type='openvswitch']") is not None,
        mtu=to_int(attr(root, "mtu", "size")),
    )
    for group in root.findall("portgroup"):
        spec.portgroups.append(
            PortGroup(
                name=group.get("name", ""),
                vlan_tags=[to_int(t.get("id")) or 0 for t in group.findall("vlan/tag")],
                default=group.get("default") == "yes",
            )
        )
    if ip is not None:
        spec.ipv4_address = ip.get("address")
        prefix = to_int(ip.get("prefix"))
        if prefix is None and ip.get("netmask"):
            prefix = ipaddress.IPv4Network(f"0.0.0.0/{ip.get('netmask')}").prefixlen
        spec.ipv4_prefix = prefix or 24
        rng = ip.find("dhcp/range")
        if rng is not None:
            spec.dhcp_start, spec.dhcp_end = rng.get("start"), rng.get("end")
        spec.dhcp_hosts = [
            DhcpHost(mac=h.get("mac", ""), ip=h.get("ip", ""), name=h.get("name"))
            for h in ip.findall("dhcp/host")
        ]
    return spec


def network_info_from_xml(
    xml: str, *, active: bool, persistent: bool, autostart: bool
) -> NetworkInfo:
    spec = parse_network_xml(xml)
    return NetworkInfo(
        name=spec.name,
        uuid=spec.uuid,
        bridge=spec.bridge,
        active=active,
        persistent=persistent,
        autostart=autostart,
        forward_mode=spec.forward_mode,
        openvswitch=spec.openvswitch,
        portgroups=spec.portgroups,
        ipv4_address=spec.ipv4_address,
        ipv4_prefix=spec.ipv4_prefix if spec.ipv4_address else None,
        dhcp_hosts=spec.dhcp_hosts,
    )


def place_vlan(
    vlan: int,
    *,
    mapping: Mapping[int | str, str],
    ovs_available: bool,
    trunk_network: NetworkInfo | str | None = None,
) -> VlanPlacement:
    """Decide where a NIC on ``vlan`` goes.

    1. When the platform maps the VLAN to a libvirt network (one bridge per VLAN), the NIC
       joins that network untagged.
    2. Otherwise, when the host has Open vSwitch and a trunk network is named, the NIC joins
       the trunk: through a portgroup that carries exactly that tag if the network declares
       one, or with a ``<vlan><tag>`` on the interface.
    3. Otherwise the VLAN cannot be realised here: ``Unsupported``.

    ``mapping`` keys may be ints or digit strings (as they come out of JSON).
    """
    vlan = _check_vlan(vlan, what="VLAN id")
    normalised: dict[int, str] = {}
    for key, network in mapping.items():
        try:
            normalised[int(key)] = network
        except (TypeError, ValueError):
            raise InvalidSpec(f"VLAN mapping key {key!r} is not a VLAN id") from None
    if vlan in normalised:
        return VlanPlacement(vlan=vlan, network=v.check_name(normalised[vlan], what="network name"))
    mapped = ", ".join(str(k) for k in sorted(normalised)) or "none"
    if not ovs_available:
        raise Unsupported(
            f"VLAN {vlan} cannot be placed: the platform maps no network to it (mapped VLANs: "
            f"{mapped}) and this host has no Open vSwitch to tag it. Add VLAN {vlan} to the "
            "platform's VLAN mapping."
        )
    if trunk_network is None:
        raise Unsupported(
            f"VLAN {vlan} cannot be placed: it is not in the platform's VLAN mapping (mapped: "
            f"{mapped}) and no Open vSwitch trunk network is configured."
        )
    if isinstance(trunk_network, NetworkInfo):
        for group in trunk_network.portgroups:
            if group.vlan_tags == [vlan]:
                return VlanPlacement(vlan=vlan, network=trunk_network.name, portgroup=group.name)
        return VlanPlacement(vlan=vlan, network=trunk_network.name, vlan_tag=vlan)
    return VlanPlacement(
        vlan=vlan, network=v.check_name(trunk_network, what="network"), vlan_tag=vlan
    )
