"""nwfilter XML from firewall rules (the test driver has no nwfilter support)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from operations_app.hypervisor import (
    FirewallRule,
    InvalidSpec,
    NWFilterSpec,
    Unsupported,
    filter_name_for,
    nwfilter_xml,
    parse_nwfilter_xml,
)


def web_filter() -> NWFilterSpec:
    return NWFilterSpec(
        name="persona-web1",
        rules=[
            FirewallRule(
                direction="in", protocol="tcp", port=22, source_cidr="10.0.0.0/8", comment="ssh"
            ),
            FirewallRule(direction="in", protocol="tcp", port=8000, port_end=8080),
            FirewallRule(direction="out", protocol="udp", port=53, dest_cidr="10.231.0.1"),
            FirewallRule(direction="inout", protocol="icmp", priority=100),
            FirewallRule(
                direction="in",
                protocol="all",
                action="drop",
                source_cidr="192.0.2.0/24",
                priority=10,
            ),
            FirewallRule(direction="in", protocol="tcp", port=443, source_cidr="2001:db8::/32"),
        ],
    )


def test_round_trip():
    spec = web_filter()
    assert parse_nwfilter_xml(nwfilter_xml(spec)) == spec


def test_rules_in_libvirt_terms():
    root = ET.fromstring(nwfilter_xml(web_filter()))
    assert root.get("name") == "persona-web1" and root.get("chain") == "root"
    rules = root.findall("rule")
    # DHCP first, then the user's rules in order, then the default drop for v4 and v6
    dhcp = [r for r in rules if r[0].get("comment") == "persona:dhcp"]
    assert [(r.get("direction"), r[0].get("dstportstart")) for r in dhcp] == [
        ("out", "67"),
        ("in", "68"),
    ]
    ssh = rules[2]
    assert ssh.attrib == {"action": "accept", "direction": "in", "priority": "500"}
    assert ssh[0].tag == "tcp"
    assert ssh[0].attrib == {
        "dstportstart": "22",
        "srcipaddr": "10.0.0.0",
        "srcipmask": "8",
        "comment": "ssh",
    }
    assert rules[3][0].get("dstportend") == "8080"
    assert rules[4][0].attrib == {"dstportstart": "53", "dstipaddr": "10.231.0.1"}
    assert rules[7][0].tag == "tcp-ipv6"
    defaults = [r for r in rules if r[0].get("comment") == "persona:default"]
    assert [(r.get("action"), r.get("priority"), r[0].tag) for r in defaults] == [
        ("drop", "1000", "all"),
        ("drop", "1000", "all-ipv6"),
    ]


def test_accept_policy_and_clean_traffic():
    spec = NWFilterSpec(
        name="persona-open", default_policy="accept", allow_dhcp=False, clean_traffic=True
    )
    root = ET.fromstring(nwfilter_xml(spec))
    assert root.find("filterref").get("filter") == "clean-traffic"
    assert root.findall("rule") == []
    assert parse_nwfilter_xml(nwfilter_xml(spec)) == spec


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (FirewallRule(direction="sideways"), "direction"),
        (FirewallRule(direction="in", protocol="sctp"), "protocol"),
        (FirewallRule(direction="in", action="maybe"), "action"),
        (FirewallRule(direction="in", protocol="icmp", port=1), "only apply to tcp and udp"),
        (FirewallRule(direction="in", protocol="all", port=1), "only apply to tcp and udp"),
        (FirewallRule(direction="in", protocol="tcp", port=70000), "port"),
        (FirewallRule(direction="in", protocol="tcp", port=80, port_end=79), "ends before"),
        (FirewallRule(direction="in", protocol="tcp", port_end=80), "needs a start port"),
        (FirewallRule(direction="in", source_cidr="10.0.0.0/33"), "CIDR"),
        (
            FirewallRule(direction="in", source_cidr="10.0.0.0/8", dest_cidr="::1"),
            "mix IPv4 and IPv6",
        ),
        (FirewallRule(direction="in", priority=1000), "priority"),
        (FirewallRule(direction="in", priority=-900), "priority"),
        (FirewallRule(direction="in", comment="persona:default"), "reserved"),
        (FirewallRule(direction="in", comment="two\nlines"), "control characters"),
        (FirewallRule(direction="in", comment="x" * 257), "longer than 256"),
        # libvirt keeps 256 bytes: 129 two-byte characters are 258 of them
        (FirewallRule(direction="in", comment="é" * 129), "longer than 256 bytes"),
    ],
)
def test_invalid_rules_refused(rule, message):
    with pytest.raises(InvalidSpec, match=message):
        nwfilter_xml(NWFilterSpec(name="persona-x", rules=[rule]))


def test_policy_and_name_checked():
    with pytest.raises(InvalidSpec, match="policy"):
        nwfilter_xml(NWFilterSpec(name="persona-x", default_policy="reject"))
    with pytest.raises(InvalidSpec, match="filter name"):
        nwfilter_xml(NWFilterSpec(name="persona x"))


@pytest.mark.parametrize(
    ("vm", "expected"),
    [("web1", "persona-web1"), ("db-2.prod", "persona-db-2.prod")],
)
def test_filter_name_for_clean_names(vm, expected):
    assert filter_name_for(vm) == expected


@pytest.mark.parametrize(
    "vm",
    ["web 1", "a/b", "<evil>", "'quoted'", "ünïcødé", "x" * 200, "---", "a]]>b&c"],
)
def test_filter_name_for_sanitises(vm):
    name = filter_name_for(vm)
    assert len(name) <= 64
    assert name.startswith("persona-")
    assert all(c.isascii() and (c.isalnum() or c in "_.-") for c in name)
    assert filter_name_for(vm) == name  # stable
    assert nwfilter_xml(NWFilterSpec(name=name))  # accepted by the builder


def test_different_dirty_names_do_not_collide():
    assert filter_name_for("web 1") != filter_name_for("web/1")


def test_nwfilter_unsupported_on_test_driver(test_hv):
    with pytest.raises(Unsupported):
        test_hv.nwfilters.define(web_filter())
