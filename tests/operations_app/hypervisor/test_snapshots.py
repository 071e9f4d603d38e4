"""Snapshots on the test driver (internal snapshots) and snapshot XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from operations_app.hypervisor import (
    DiskSpec,
    DomainMetadata,
    DomainState,
    InvalidSpec,
    NotFound,
    Unsupported,
    parse_snapshot_xml,
    snapshot_xml,
)

from .test_domains import make_spec


def test_snapshot_xml_internal_and_external():
    internal = ET.fromstring(snapshot_xml("before-upgrade", description="pre"))
    assert internal.findtext("name") == "before-upgrade" and internal.find("disks") is None
    external = ET.fromstring(
        snapshot_xml("s1", external_disks=[("vda", "/p/vda.s1"), ("vdb", None)], skip_disks=["sda"])
    )
    assert external.find("memory").get("snapshot") == "no"
    disks = [
        (d.get("name"), d.get("snapshot"), d.find("source")) for d in external.findall("disks/disk")
    ]
    assert [(n, s) for n, s, _ in disks] == [
        ("vda", "external"),
        ("vdb", "external"),
        ("sda", "no"),
    ]
    assert disks[0][2].get("file") == "/p/vda.s1" and disks[1][2] is None


def test_labels_round_trip_through_description():
    xml = snapshot_xml("s1", description="before", labels={"job": "7", "reason": "a\nb <&>"})
    info = parse_snapshot_xml(xml, domain="d")
    assert info.description == "before"
    assert info.labels == {"job": "7", "reason": "a\nb <&>"}
    plain = parse_snapshot_xml(snapshot_xml("s2", description='{"not": "ours"}'), domain="d")
    assert plain.description == '{"not": "ours"}' and plain.labels == {}


def test_snapshot_name_checked():
    with pytest.raises(InvalidSpec, match="snapshot name"):
        snapshot_xml("bad name")


def test_internal_snapshot_cycle(test_hv, reaper, name):
    dom = reaper.domain(name())
    test_hv.domains.define(
        make_spec(dom, metadata=DomainMetadata(profile="web", profile_version=4))
    )
    test_hv.domains.start(dom)

    first = test_hv.snapshots.create(dom, "s1", description="first", labels={"job": "1"})
    assert first.kind == "internal" and first.has_memory and first.state == "running"
    assert first.labels == {"job": "1"} and first.description == "first"
    assert first.domain_metadata == DomainMetadata(profile="web", profile_version=4)

    test_hv.domains.destroy(dom)
    second = test_hv.snapshots.create(dom, "s2", mode="internal")
    assert second.parent == "s1" and second.state == "shutoff"

    assert [s.name for s in test_hv.snapshots.list(dom)] == ["s1", "s2"]
    assert test_hv.snapshots.current(dom).name == "s2"

    test_hv.snapshots.revert(dom, "s1")
    assert test_hv.domains.state(dom) == DomainState.RUNNING
    assert test_hv.snapshots.current(dom).name == "s1"
    assert test_hv.snapshots.get(dom, "s1").current

    test_hv.snapshots.delete(dom, "s2")
    assert [s.name for s in test_hv.snapshots.list(dom)] == ["s1"]
    with pytest.raises(NotFound, match="s2"):
        test_hv.snapshots.get(dom, "s2")
    with pytest.raises(InvalidSpec):
        test_hv.snapshots.revert(dom, "s1", state="sideways")


def test_auto_mode_picks_external_for_raw_disks(test_hv, reaper, name):
    dom = reaper.domain(name())
    test_hv.domains.define(
        make_spec(dom, disks=[DiskSpec(target="vda", path="/default-pool/r.raw", format="raw")])
    )
    # stopped with a raw disk: nothing libvirt can do internally
    with pytest.raises(Unsupported, match="raw"):
        test_hv.snapshots.create(dom, "s1")
    with pytest.raises(Unsupported, match="raw"):
        test_hv.snapshots.create(dom, "s1", mode="internal")
    # running: an external disk-only snapshot, which this driver does not implement
    test_hv.domains.start(dom)
    with pytest.raises(Unsupported, match="unsupported flags"):
        test_hv.snapshots.create(dom, "s1")
    assert test_hv.snapshots.list(dom) == []
