"""Networks: XML, life cycle and DHCP entries on the test driver, VLAN placement."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from operations_app.hypervisor import (
    AlreadyExists,
    DhcpHost,
    InvalidSpec,
    NetworkInfo,
    NetworkSpec,
    NotFound,
    PortGroup,
    Unsupported,
    VlanPlacement,
    network_xml,
    parse_network_xml,
    place_vlan,
)


def isolated(name: str, bridge: str | None = None) -> NetworkSpec:
    return NetworkSpec(
        name=name,
        bridge=bridge,
        ipv4_address="10.77.0.1",
        ipv4_prefix=24,
        dhcp_start="10.77.0.100",
        dhcp_end="10.77.0.200",
        dhcp_hosts=[DhcpHost(mac="52:54:00:00:77:01", ip="10.77.0.11", name="web1")],
    )


def test_isolated_network_xml_round_trip():
    spec = isolated("pt-net", bridge="ptbr0")
    root = ET.fromstring(network_xml(spec))
    assert root.find("forward") is None  # isolated: no forwarding at all
    assert root.find("bridge").get("name") == "ptbr0"
    assert root.find("ip/dhcp/host").attrib == {
        "mac": "52:54:00:00:77:01",
        "name": "web1",
        "ip": "10.77.0.11",
    }
    assert parse_network_xml(network_xml(spec)) == spec


def test_ovs_network_with_vlan_portgroups():
    spec = NetworkSpec(
        name="pt-trunk",
        bridge="ovsbr0",
        forward_mode="bridge",
        openvswitch=True,
        portgroups=[PortGroup("vlan-10", [10], default=True), PortGroup("trunk", [10, 20])],
    )
    root = ET.fromstring(network_xml(spec))
    assert root.find("virtualport").get("type") == "openvswitch"
    assert [t.get("id") for t in root.findall("portgroup/vlan/tag")] == ["10", "10", "20"]
    assert parse_network_xml(network_xml(spec)) == spec


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "bad/name"}, "network name"),
        ({"bridge": "a-very-long-bridge-name"}, "bridge"),
        ({"ipv4_address": "10.77.0.0"}, "not a host address"),
        ({"ipv4_address": "nonsense"}, "IPv4"),
        ({"ipv4_prefix": 31}, "prefix"),
        ({"dhcp_start": "10.78.0.5"}, "not a free host address"),
        ({"dhcp_start": "10.77.0.200", "dhcp_end": "10.77.0.100"}, "ends before"),
        ({"dhcp_start": "10.77.0.1"}, "not a free host address"),
        (
            {"dhcp_hosts": [DhcpHost(mac="52:54:00:00:77:01", ip="10.77.0.11", name="bad name")]},
            "host name",
        ),
        ({"dhcp_hosts": [DhcpHost(mac="nope", ip="10.77.0.11")]}, "MAC"),
        (
            {
                "dhcp_hosts": [
                    DhcpHost(mac="52:54:00:00:77:01", ip="10.77.0.11"),
                    DhcpHost(mac="52:54:00:00:77:01", ip="10.77.0.12"),
                ]
            },
            "twice",
        ),
        ({"forward_mode": "nat"}, "forward mode"),
        ({"openvswitch": True}, "forward mode 'bridge'"),
        ({"portgroups": [PortGroup("v10", [10])]}, "Open vSwitch"),
    ],
)
def test_network_xml_refuses(change, message):
    spec = isolated("pt-net")
    for key, value in change.items():
        setattr(spec, key, value)
    with pytest.raises(InvalidSpec, match=message):
        network_xml(spec)


def test_define_start_stop_undefine(test_hv, reaper, name):
    net = reaper.network(name())
    info = test_hv.networks.define(isolated(net))
    assert info.active and info.persistent and info.forward_mode is None
    assert info.ipv4_address == "10.77.0.1" and info.ipv4_prefix == 24
    assert [h.mac for h in info.dhcp_hosts] == ["52:54:00:00:77:01"]
    with pytest.raises(AlreadyExists):
        test_hv.networks.define(isolated(net))
    test_hv.networks.stop(net)
    assert not test_hv.networks.info(net).active
    test_hv.networks.stop(net)  # idempotent
    test_hv.networks.start(net)
    assert test_hv.networks.info(net).active
    assert test_hv.networks.delete(net)
    assert not test_hv.networks.exists(net)
    with pytest.raises(NotFound):
        test_hv.networks.info(net)


def test_dhcp_host_added_and_removed_live(test_hv, reaper, name):
    net = reaper.network(name())
    test_hv.networks.define(isolated(net))
    test_hv.networks.dhcp_host_add(
        net, DhcpHost(mac="52:54:00:00:77:02", ip="10.77.0.12", name="db1")
    )
    hosts = {h.mac: h for h in test_hv.networks.info(net).dhcp_hosts}
    assert hosts["52:54:00:00:77:02"] == DhcpHost(
        mac="52:54:00:00:77:02", ip="10.77.0.12", name="db1"
    )
    test_hv.networks.dhcp_host_remove(net, mac="52:54:00:00:77:02")
    assert [h.mac for h in test_hv.networks.info(net).dhcp_hosts] == ["52:54:00:00:77:01"]
    with pytest.raises(NotFound, match="52:54:00:00:77:09"):
        test_hv.networks.dhcp_host_remove(net, mac="52:54:00:00:77:09")


def test_vlan_mapped_to_its_own_network():
    placement = place_vlan(100, mapping={"100": "persona-vlan-100"}, ovs_available=False)
    assert placement == VlanPlacement(vlan=100, network="persona-vlan-100")


def test_vlan_unmapped_without_ovs_is_unsupported():
    with pytest.raises(Unsupported) as info:
        place_vlan(200, mapping={100: "persona-vlan-100"}, ovs_available=False)
    message = str(info.value)
    assert "VLAN 200" in message and "100" in message and "Open vSwitch" in message


def test_vlan_on_ovs_trunk_uses_portgroup_or_tag():
    trunk = NetworkInfo(name="trunk", openvswitch=True, portgroups=[PortGroup("v30", [30])])
    assert place_vlan(30, mapping={}, ovs_available=True, trunk_network=trunk) == VlanPlacement(
        vlan=30, network="trunk", portgroup="v30"
    )
    assert place_vlan(31, mapping={}, ovs_available=True, trunk_network=trunk) == VlanPlacement(
        vlan=31, network="trunk", vlan_tag=31
    )
    with pytest.raises(Unsupported, match="trunk"):
        place_vlan(31, mapping={}, ovs_available=True)


@pytest.mark.parametrize("vlan", [0, 4095, -1])
def test_vlan_id_range(vlan):
    with pytest.raises(InvalidSpec):
        place_vlan(vlan, mapping={}, ovs_available=False)


def test_vlan_mapping_keys_must_be_ids():
    with pytest.raises(InvalidSpec, match="mapping key"):
        place_vlan(10, mapping={"ten": "n"}, ovs_available=False)
