"""Verification compares each firewall rule's contents with the filter libvirt holds,
not only how many rules there are."""

from __future__ import annotations

from operations_app.hypervisor.types import (
    DomainInfo,
    DomainSpec,
    DomainState,
    FirewallRule,
    Tunables,
)
from operations_app.verification import libvirt_checks
from operations_app.verification.libvirt import LibvirtFacts

SSH = FirewallRule(direction="in", protocol="tcp", port=22, source_cidr="10.0.0.0/8")
WEB = FirewallRule(direction="in", protocol="tcp", port=443, comment="https")


def _facts(wanted, found, *, error=None) -> LibvirtFacts:
    spec = DomainSpec(name="web1", vcpus=1, memory_mib=256)
    info = DomainInfo(
        name="web1",
        uuid="00000000-0000-0000-0000-000000000001",
        state=DomainState.RUNNING,
        id=1,
        persistent=True,
        autostart=False,
        vcpus=1,
        memory_mib=256,
    )
    return LibvirtFacts(
        vcpus=1,
        memory_mib=256,
        profile="web",
        profile_version=1,
        content_hash="h",
        label="web@1",
        image_id="tiny",
        base_image_path=None,
        tunables=Tunables(),
        disk_iotune=None,
        volumes=[],
        interfaces=[],
        filter_name="persona-web1",
        firewall_rules=wanted,
        spec=spec,
        info=info,
        root_backing=None,
        live=Tunables(),
        filter_rules=found,
        filter_error=error,
    )


def _firewall(facts):
    return [c for c in libvirt_checks(facts) if "firewall" in c.name]


def test_the_same_rules_as_read_back_pass_rule_by_rule():
    # libvirt hands a host address back with its mask, and a range end equal to its start
    read_back = [
        FirewallRule(direction="in", protocol="tcp", port=443, port_end=443, comment="https"),
        FirewallRule(direction="in", protocol="tcp", port=22, source_cidr="10.0.0.0/8"),
    ]
    checks = _firewall(_facts([SSH, WEB], read_back))
    assert [(c.pointer, c.passed) for c in checks] == [
        ("/network_configuration/firewall_rules/0", True),
        ("/network_configuration/firewall_rules/1", True),
        ("/network_configuration/firewall_rules", True),
    ]
    assert checks[0].expected == "accept in tcp port 22 from 10.0.0.0/8 priority 500"


def test_a_changed_rule_fails_at_its_pointer_even_when_the_count_matches():
    tampered = [SSH, FirewallRule(direction="in", protocol="tcp", port=8443, comment="https")]
    checks = _firewall(_facts([SSH, WEB], tampered))
    failed = [c for c in checks if not c.passed]
    assert [c.pointer for c in failed] == [
        "/network_configuration/firewall_rules/1",
        "/network_configuration/firewall_rules",
    ]
    assert failed[0].actual == "absent"
    assert "port 8443" in failed[1].actual


def test_a_rule_asked_for_twice_must_be_there_twice():
    checks = _firewall(_facts([SSH, SSH], [SSH]))
    assert [c.passed for c in checks] == [True, False, True]


def test_an_unreadable_filter_is_one_failed_check():
    checks = _firewall(_facts([SSH], None, error="no filter named persona-web1"))
    assert len(checks) == 1 and not checks[0].passed
    assert "no filter named" in checks[0].actual
