"""domain_diff(): what the dry run page shows."""

from __future__ import annotations

import pytest

from operations_app.adaptation import domain_diff, plan_adaptation
from operations_app.hypervisor.domainxml import domain_xml
from operations_app.hypervisor.errors import InvalidSpec

from .conftest import legacy_domain


def test_diff_shows_the_machine_bus_and_nic_changes(host_a, host_b):
    plan = plan_adaptation(domain=legacy_domain(), source=host_a, target=host_b, vppd_fixes=[])
    lines = domain_diff(domain_xml(plan.original), plan.adapted_xml())

    assert lines[:2] == ["--- source", "+++ target"]
    removed = [line[1:].strip() for line in lines[2:] if line.startswith("-")]
    added = [line[1:].strip() for line in lines[2:] if line.startswith("+")]
    assert '<type arch="x86_64" machine="pc-i440fx-7.2">hvm</type>' in removed
    assert '<type arch="x86_64" machine="q35">hvm</type>' in added
    assert '<target dev="sdb" bus="sata" />' in removed
    assert '<target dev="vdb" bus="virtio" />' in added
    assert '<model type="e1000" />' in removed
    assert '<model type="virtio" />' in added
    # unchanged lines are context only
    assert not any("web1" in line and "name" in line for line in removed + added)
    assert plan.diff() == lines


def test_no_change_no_diff(host_a):
    xml = domain_xml(legacy_domain())
    assert domain_diff(xml, xml) == []
    # formatting alone is not a change
    assert domain_diff(xml, xml.replace("><", ">\n  <")) == []


def test_labels_and_bad_xml():
    xml = domain_xml(legacy_domain())
    other = domain_xml(legacy_domain(vcpus=4))
    lines = domain_diff(xml, other, before="host-a", after="host-b")
    assert lines[:2] == ["--- host-a", "+++ host-b"]
    assert '-  <vcpu placement="static">2</vcpu>' in lines
    with pytest.raises(InvalidSpec):
        domain_diff(xml, "<domain>")
