"""compare(): the platform differences that matter to one domain."""

from __future__ import annotations

import copy

import pytest

from operations_app.adaptation import Difference, PlatformView, compare
from operations_app.hypervisor.domainxml import domain_xml
from operations_app.hypervisor.types import (
    DiskSpec,
    InterfaceSpec,
    NetworkInfo,
    PortGroup,
    Tunables,
)

from .conftest import HOST_B_CONSTRAINTS, MAC, POOLS, legacy_domain, platform


def by_kind(diffs: list[Difference]) -> dict[tuple[str, str], Difference]:
    return {(d.kind, d.subject): d for d in diffs}


def test_testbed_constraints_copy_matches_the_testbed():
    try:
        from operations_app.testbed import HOST_B_CONSTRAINTS as real
    except Exception as exc:  # Django not configured (run with -p no:django)
        pytest.skip(f"operations_app.testbed needs Django: {exc}")
    assert real == HOST_B_CONSTRAINTS


def test_host_b_differences_for_a_legacy_vm(host_a, host_b):
    diffs = by_kind(compare(domain=legacy_domain(), source=host_a, target=host_b))

    assert set(diffs) == {
        ("machine_type", "domain"),
        ("disk_bus", "disk sdb"),
        ("nic_model", f"interface {MAC}"),
        ("storage_path", "disk vda"),
        ("storage_path", "disk sdb"),
    }
    machine = diffs["machine_type", "domain"]
    assert (machine.source, machine.target, machine.blocking) == (
        "pc-i440fx-7.2",
        "pc-q35-7.2",
        True,
    )
    assert machine.detail == (
        "The domain uses machine type pc-i440fx-7.2, but host-b allows only q35 machines."
    )
    bus = diffs["disk_bus", "disk sdb"]
    assert (bus.source, bus.target) == ("sata", "scsi, virtio")
    assert "host-b does not allow it" in bus.detail
    nic = diffs["nic_model", f"interface {MAC}"]
    assert (nic.source, nic.target) == ("e1000", "virtio")
    path = diffs["storage_path", "disk vda"]
    assert (path.source, path.target) == (f"{POOLS}/host-a", f"{POOLS}/host-b")


def test_same_platform_has_no_differences(host_a):
    assert compare(domain=legacy_domain(), source=host_a, target=host_a) == []


def test_platform_row_like_objects_are_read(host_a, host_b):
    class Row:  # what a Platform model instance offers
        def __init__(self, data: dict) -> None:
            self.__dict__.update(data)

    from_rows = compare(domain=legacy_domain(), source=Row(host_a), target=Row(host_b))
    from_views = compare(
        domain=legacy_domain(), source=PlatformView.of(host_a), target=PlatformView.of(host_b)
    )
    assert from_rows == from_views == compare(domain=legacy_domain(), source=host_a, target=host_b)


def test_platform_model_instances_are_read(host_a, host_b):
    try:
        from operations_app.models import Platform
    except Exception as exc:  # Django not configured (run with -p no:django)
        pytest.skip(f"operations_app.models needs Django: {exc}")
    rows = [Platform(**data) for data in (host_a, host_b)]  # unsaved: no database needed
    assert PlatformView.of(rows[1]) == PlatformView.of(host_b)
    assert compare(domain=legacy_domain(), source=rows[0], target=rows[1]) == compare(
        domain=legacy_domain(), source=host_a, target=host_b
    )


def test_domain_without_machine_type_gets_the_target_default(host_a, host_b):
    diffs = by_kind(compare(domain=legacy_domain(machine=None), source=host_a, target=host_b))
    machine = diffs["machine_type", "domain"]
    assert machine.source == "pc-i440fx-7.2"  # what libvirt would pick on host B
    assert "names no machine type" in machine.detail


def test_machine_newer_than_the_target_qemu(host_a):
    diffs = by_kind(
        compare(domain=legacy_domain(machine="pc-q35-8.2"), source=host_a, target=host_a)
    )
    machine = diffs["machine_type", "domain"]
    assert machine.blocking and machine.target == "pc-q35-7.2"
    assert "QEMU does not offer it" in machine.detail


def test_deprecated_machine_is_reported_but_not_blocking(host_a):
    diffs = by_kind(
        compare(domain=legacy_domain(machine="pc-i440fx-1.4"), source=host_a, target=host_a)
    )
    machine = diffs["machine_type", "domain"]
    assert not machine.blocking
    assert machine.target == "pc-i440fx-7.2"


def test_kvm_domain_on_a_host_without_usable_kvm(host_a):
    source = platform("host-a", kvm_usable=True)
    domain = legacy_domain(domain_type="kvm", cpu_mode="host-passthrough")
    diffs = by_kind(compare(domain=domain, source=source, target=host_a))
    acc = diffs["accelerator", "domain"]
    assert (acc.source, acc.target) == ("kvm", "qemu")
    assert "declared unusable by the platform" in acc.detail
    # under TCG there is no host-passthrough: judged for the type it will run with
    cpu = diffs["cpu_model", "cpu"]
    assert cpu.blocking and cpu.source == "host-passthrough"
    assert "not available to qemu domains" in cpu.detail


def test_accelerator_constraint(host_a):
    target = platform("host-c", kvm_usable=True, constraints={"accelerators": ["kvm"]})
    diffs = by_kind(compare(domain=legacy_domain(), source=host_a, target=target))
    acc = diffs["accelerator", "domain"]
    assert (acc.source, acc.target) == ("qemu", "kvm")
    assert "not allowed by the platform's constraints" in acc.detail


def test_cpu_incompatible_by_libvirt_verdict(host_a, host_b):
    unknown = by_kind(compare(domain=legacy_domain(), source=host_a, target=host_a))
    assert ("cpu_model", "cpu") not in unknown
    diffs = by_kind(
        compare(domain=legacy_domain(), source=host_a, target=host_a, cpu_compatible=False)
    )
    cpu = diffs["cpu_model", "cpu"]
    assert cpu.blocking and cpu.source == "host-model" and cpu.target == "EPYC"
    assert "not compatible" in cpu.detail


def test_custom_cpu_model_the_target_cannot_use(host_a):
    domain = legacy_domain(cpu_mode="custom", cpu_model="Skylake-Server")
    cpu = by_kind(compare(domain=domain, source=host_a, target=host_a))["cpu_model", "cpu"]
    assert cpu.source == "Skylake-Server"
    assert cpu.detail == "CPU model Skylake-Server is not usable on host-a."
    usable = legacy_domain(cpu_mode="custom", cpu_model="Westmere")
    assert compare(domain=usable, source=host_a, target=host_a) == []


def test_pinned_emulator_from_libvirt_xml(host_a):
    xml = domain_xml(legacy_domain()).replace(
        "<devices>", "<devices><emulator>/opt/qemu-8/bin/qemu-system-x86_64</emulator>"
    )
    emu = by_kind(compare(domain=xml, source=host_a, target=host_a))["emulator", "domain"]
    assert (emu.source, emu.target) == (
        "/opt/qemu-8/bin/qemu-system-x86_64",
        "/usr/bin/qemu-system-x86_64",
    )
    same = xml.replace("/opt/qemu-8/bin", "/usr/bin")
    assert compare(domain=same, source=host_a, target=host_a) == []


def test_firmware_not_offered(host_a):
    target = platform("host-c", constraints={"firmware": ["bios"]})
    domain = legacy_domain()
    domain.boot.firmware = "efi"
    fw = by_kind(compare(domain=domain, source=host_a, target=target))["firmware", "domain"]
    assert (fw.source, fw.target, fw.blocking) == ("efi", "bios", True)


def test_ide_disk_cannot_follow_to_q35(host_a):
    target = platform("host-c", constraints={"machine_types": ["q35"]})  # any bus allowed
    domain = legacy_domain()
    domain.disks[1] = DiskSpec(target="hdb", path=f"{POOLS}/host-a/d.qcow2", bus="ide")
    bus = by_kind(compare(domain=domain, source=host_a, target=target))["disk_bus", "disk hdb"]
    assert "q35 machines" in bus.detail and "no IDE controller" in bus.detail
    assert "ide" not in bus.target.split(", ")


def test_network_the_target_does_not_offer(host_a):
    target = platform("host-c", networks=[NetworkInfo(name="lan")])
    target["networks"] = []  # offered: what libvirt lists
    target["vlan_networks"] = {}
    domain = legacy_domain(
        interfaces=[InterfaceSpec(network="persona-vlan-100", mac=MAC, model="virtio")]
    )
    net = by_kind(compare(domain=domain, source=host_a, target=target))[
        "network", f"interface {MAC}"
    ]
    assert (net.source, net.target) == ("persona-vlan-100", "lan")
    assert "(it carries VLAN 100)" in net.detail  # from host A's VLAN mapping


def test_missing_portgroup(host_a):
    ovs = NetworkInfo(
        name="trunk", openvswitch=True, portgroups=[PortGroup(name="vlan-200", vlan_tags=[200])]
    )
    target = platform("host-c", networks=[ovs])
    target["networks"] = ["trunk"]
    domain = legacy_domain(
        interfaces=[InterfaceSpec(network="trunk", portgroup="vlan-100", mac=MAC, model="virtio")]
    )
    pg = by_kind(compare(domain=domain, source=host_a, target=target))[
        "portgroup", f"interface {MAC}"
    ]
    assert (pg.source, pg.target) == ("vlan-100", "vlan-200")


def test_volume_in_another_pool(host_a, host_b):
    domain = legacy_domain(
        disks=[DiskSpec(target="vda", pool="fast", volume="web1.qcow2", bus="virtio")]
    )
    pool = by_kind(compare(domain=domain, source=host_a, target=host_b))["storage_pool", "disk vda"]
    assert (pool.source, pool.target) == ("fast", "persona")


def test_target_disk_paths_decide_where_disks_go(host_a, host_b):
    domain = legacy_domain()
    shared = {d.path: d.path for d in domain.disks}  # shared storage: the disks stay put
    diffs = compare(domain=domain, source=host_a, target=host_b, target_disk_paths=shared)
    assert not [d for d in diffs if d.kind == "storage_path"]
    moved = {d.path: f"/srv/elsewhere/{d.target}.qcow2" for d in domain.disks}
    diffs = compare(domain=domain, source=host_a, target=host_b, target_disk_paths=moved)
    assert {d.target for d in diffs if d.kind == "storage_path"} == {"/srv/elsewhere"}


def test_resources_beyond_the_target(host_a):
    target = platform("host-c", constraints={"max_vcpus": 2, "max_memory_mib": 1024})
    domain = legacy_domain(vcpus=4, memory_mib=2048)
    diffs = by_kind(compare(domain=domain, source=host_a, target=target))
    vcpus, memory = diffs["resources", "vcpus"], diffs["resources", "memory_mib"]
    assert (vcpus.source, vcpus.target, vcpus.blocking) == ("4", "2", True)
    assert (memory.source, memory.target) == ("2048", "1024")
    assert memory.detail == (
        "The domain has 2048 MiB of memory; host-c gives a domain at most 1024 MiB."
    )


def test_memory_hard_limit_above_what_guests_may_lock(host_a):
    target = platform("host-c")
    target["capabilities"]["memory_hard_limit_max_mib"] = 64
    domain = legacy_domain(tunables=Tunables(memory_hard_limit_mib=1024))
    diff = by_kind(compare(domain=domain, source=host_a, target=target))[
        "resources", "memory_hard_limit_mib"
    ]
    assert (diff.source, diff.target) == ("1024", "64")


def test_unrefreshed_target_is_judged_by_its_constraints_only(host_a):
    bare = {"name": "new", "capabilities": {}, "constraints": HOST_B_CONSTRAINTS}
    diffs = by_kind(compare(domain=legacy_domain(), source=host_a, target=bare))
    assert set(diffs) == {
        ("machine_type", "domain"),
        ("disk_bus", "disk sdb"),
        ("nic_model", f"interface {MAC}"),
    }
    assert diffs["machine_type", "domain"].target == "q35"
    assert compare(domain=legacy_domain(), source=host_a, target={"name": "new"}) == []


def test_compare_does_not_touch_the_domain(host_a, host_b):
    domain = legacy_domain()
    before = copy.deepcopy(domain)
    compare(domain=domain, source=host_a, target=host_b, cpu_compatible=False)
    assert domain == before
