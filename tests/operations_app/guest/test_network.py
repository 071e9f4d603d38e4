"""Network: NICs found by MAC, boot configuration file, DNS, waiting, verification."""

from __future__ import annotations

import pytest

from operations_app.guest import GuestStepError
from operations_app.guest import guestfiles as gf
from operations_app.guest.network import network_conf, nic_specs, parse_default_routes
from operations_app.hypervisor import GuestAddress

MAC = "52:54:00:0a:00:14"
STATIC = {
    "name": "eth0",
    "network": "n",
    "ipv4": {
        "address": "10.231.0.20/24",
        "gateway": "10.231.0.1",
        "dns": ["10.231.0.1", "9.9.9.9"],
    },
}
DHCP = {"name": "lan1", "network": "n", "ipv4": {"dhcp": True}}


def configured(agent, mac=MAC, name="eth0", address="10.231.0.20/24"):
    """The guest shows the address once S10network ran."""
    agent.nic(name, mac)
    ip, prefix = address.split("/")

    def apply(_argv):
        agent.nics[0].addresses.append(GuestAddress("ipv4", ip, int(prefix)))

    agent.on([gf.NETWORK_SCRIPT, "start"], effect=apply)


def test_static_interface_is_written_for_boot_and_applied_now(guest, agent):
    configured(agent)
    guest.configure_network([STATIC], [MAC.upper()])
    assert (
        agent.text(gf.NETWORK_CONF).splitlines()[1]
        == f"{MAC} eth0 static 10.231.0.20/24 10.231.0.1 0"
    )
    assert agent.text(gf.NETWORK_SCRIPT) == gf.NETWORK
    assert agent.meta[gf.NETWORK_SCRIPT].mode == "0755"
    assert agent.text("/etc/resolv.conf").splitlines()[1:] == [
        "nameserver 10.231.0.1",
        "nameserver 9.9.9.9",
    ]
    assert agent.ran(gf.NETWORK_SCRIPT, "start")
    assert gf.READY_SCRIPT in agent.files  # boot-complete mark for wait_ready


def test_dhcp_needs_udhcpc_and_waits_for_a_lease(guest, agent, monkeypatch):
    agent.nic("eth0", MAC)
    with pytest.raises(GuestStepError) as err:
        guest.configure_network([DHCP], [MAC])
    assert err.value.pointer == "/network_configuration/interfaces/0/ipv4/dhcp"
    agent.has_command("udhcpc")
    guest.session.forget_commands()
    monkeypatch.setattr("operations_app.guest.network.ADDRESS_WAIT", 0.0)
    with pytest.raises(GuestStepError, match="no DHCP lease") as err:
        guest.configure_network([DHCP], [MAC])
    assert err.value.pointer == "/network_configuration/interfaces/0/ipv4"
    assert agent.text(gf.NETWORK_CONF).splitlines()[1] == f"{MAC} lan1 dhcp - - 0"
    assert "/etc/resolv.conf" not in agent.files  # DHCP brings its own name servers


def test_unknown_mac_and_missing_macs_are_errors(guest, agent):
    agent.nic("eth0", "52:54:00:99:99:99")
    with pytest.raises(GuestStepError, match="no network interface with MAC") as err:
        guest.configure_network([STATIC], [MAC])
    assert err.value.pointer == "/network_configuration/interfaces/0"
    with pytest.raises(GuestStepError, match="only 0 MAC") as err:
        guest.configure_network([STATIC], [])
    assert err.value.pointer == "/network_configuration/interfaces"


@pytest.mark.parametrize(
    ("iface", "pointer"),
    [
        ({**STATIC, "name": "eth0;reboot"}, "/network_configuration/interfaces/0/name"),
        (
            {**STATIC, "ipv4": {"address": "10.0.0.1/24 dev lo"}},
            "/network_configuration/interfaces/0/ipv4/address",
        ),
        (
            {**STATIC, "ipv4": {"address": "10.0.0.5/24", "gateway": "10.0.0.1;x"}},
            "/network_configuration/interfaces/0/ipv4/gateway",
        ),
        (
            {**STATIC, "ipv4": {"address": "10.0.0.5/24", "dns": ["$(id)"]}},
            "/network_configuration/interfaces/0/ipv4/dns/0",
        ),
    ],
)
def test_hostile_values_never_reach_the_configuration_file(guest, agent, iface, pointer):
    agent.nic("eth0", MAC)
    with pytest.raises(GuestStepError) as err:
        guest.configure_network([iface], [MAC])
    assert err.value.pointer == pointer
    assert gf.NETWORK_CONF not in agent.files


def test_hostile_mac_is_refused():
    with pytest.raises(GuestStepError) as err:
        nic_specs([STATIC], ["52:54:00:0a:00:14 eth1 dhcp"])
    assert err.value.pointer == "/network_configuration/interfaces/0/mac"


def test_conf_lines_for_several_interfaces():
    specs = nic_specs(
        [STATIC, DHCP, {"network": "x"}], [MAC, "52:54:00:00:00:02", "52:54:00:00:00:03"]
    )
    lines = network_conf(specs).splitlines()[1:]
    assert lines == [
        f"{MAC} eth0 static 10.231.0.20/24 10.231.0.1 0",
        "52:54:00:00:00:02 lan1 dhcp - - 1",
        "52:54:00:00:00:03 - none - - 2",
    ]


def test_default_route_parsing():
    text = "default via 10.231.0.1 dev eth0 metric 1 \n10.231.0.0/24 dev eth0 scope link  src 10.231.0.20\n"
    assert parse_default_routes(text) == [("10.231.0.1", "eth0")]


def test_verify_matching_and_mismatching(guest, agent):
    agent.nic("eth0", MAC, "10.231.0.20/24")
    agent.on(["ip", "-4", "route", "show"], stdout="default via 10.231.0.1 dev eth0 \n")
    agent.files["/etc/resolv.conf"] = b"nameserver 10.231.0.1\nnameserver 9.9.9.9\n"
    agent.files[gf.NETWORK_CONF] = network_conf(nic_specs([STATIC], [MAC])).encode()
    agent.files[gf.NETWORK_SCRIPT] = gf.NETWORK.encode()
    checks = guest.network.verify([STATIC], [MAC])
    assert [c.pointer for c in checks] == [
        "/network_configuration/interfaces/0/name",
        "/network_configuration/interfaces/0/ipv4/address",
        "/network_configuration/interfaces/0/ipv4/gateway",
        "/network_configuration/interfaces/0/ipv4/dns",
        "/network_configuration/interfaces",
    ]
    assert all(c.passed for c in checks), [str(c) for c in checks]
    assert all(c.section == "network" and c.source == "guest" for c in checks)

    other = {
        **STATIC,
        "ipv4": {"address": "10.231.0.21/24", "gateway": "10.231.0.254", "dns": ["1.1.1.1"]},
    }
    checks = guest.network.verify([other], [MAC])
    by = {c.pointer.rsplit("/", 1)[-1]: c for c in checks}
    assert by["name"].passed
    assert not by["address"].passed and by["address"].actual == "10.231.0.20/24"
    assert not by["gateway"].passed and "via 10.231.0.1 dev eth0" in by["gateway"].actual
    assert not by["dns"].passed
    assert not by["interfaces"].passed  # the boot configuration is not the profile's


def test_verify_renamed_or_missing_nic(guest, agent):
    agent.nic("ens3", MAC, "10.231.0.20/24")
    agent.on(["ip", "-4", "route", "show"], stdout="")
    checks = guest.network.verify([STATIC], [MAC])
    assert (
        checks[0].pointer.endswith("/name") and not checks[0].passed and checks[0].actual == "ens3"
    )
    checks = guest.network.verify([STATIC], ["52:54:00:00:00:99"])
    assert checks[0].actual == "no such NIC" and not checks[0].passed
