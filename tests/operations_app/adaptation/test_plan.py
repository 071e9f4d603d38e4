"""plan_adaptation(): built-in fixes, a profile's fixes, and what stays unresolved."""

from __future__ import annotations

import copy
import json

from operations_app.adaptation import compare, plan_adaptation
from operations_app.hypervisor.domainxml import domain_xml, parse_domain_xml
from operations_app.hypervisor.types import DiskSpec, InterfaceSpec, NetworkInfo, PortGroup

from .conftest import MAC, POOLS, example_fixes, legacy_domain, platform


def fix(fix_id: str, kind: str, action: dict, *, match: dict | None = None, **extra) -> dict:
    applies = {"kind": kind, **({"match": match} if match else {})}
    return {"id": fix_id, "applies_to": applies, "action": action, **extra}


def set_(**values) -> dict:
    return {"type": "domain", "set": values}


def command(*argv: str, **extra) -> dict:
    return {"type": "guest_command", "command": list(argv), **extra}


def ids(plan) -> list[str]:
    return [f.fix_id for f in plan.fixes]


# --------------------------------------------------------------------------- built-ins


def test_legacy_vm_to_host_b_is_resolved_by_builtins(host_a, host_b):
    domain = legacy_domain()
    plan = plan_adaptation(domain=domain, source=host_a, target=host_b, vppd_fixes=[])

    assert plan.ok, plan.problems
    assert plan.unresolved == [] and plan.problems == []
    adapted = plan.adapted
    assert adapted.machine == "q35"
    assert [(d.target, d.bus) for d in adapted.disks] == [("vda", "virtio"), ("vdb", "virtio")]
    assert adapted.disks[1].serial == "data1"  # the rest of the disk is kept
    assert adapted.interfaces[0].model == "virtio" and adapted.interfaces[0].mac == MAC
    assert plan.disk_paths == {
        f"{POOLS}/host-a/web1-root.qcow2": f"{POOLS}/host-b/web1-root.qcow2",
        f"{POOLS}/host-a/web1-data.qcow2": f"{POOLS}/host-b/web1-data.qcow2",
    }
    assert set(ids(plan)) == {
        "builtin:machine-type",
        "builtin:disk-bus",
        "builtin:storage-path",
        "builtin:nic-model",
    }
    bus_fix = next(f for f in plan.fixes if f.fix_id == "builtin:disk-bus")
    assert bus_fix.when == "definition"
    assert bus_fix.action == {"type": "domain", "set": {"disk_bus": "virtio"}}
    assert bus_fix.difference is not None and bus_fix.difference.subject == "disk sdb"
    assert bus_fix.changes == ["disk sdb: bus sata -> virtio, now vdb"]
    assert plan.hardware_changes == [
        "machine type: pc-i440fx-7.2 -> q35",
        "disk sdb (sata) -> vdb (virtio)",
        f"interface {MAC}: e1000 -> virtio",
    ]
    assert any("PCI" in note for note in plan.notes)
    # the target accepts the result: nothing left to compare
    assert compare(domain=adapted, source=host_a, target=host_b) == []


def test_adapted_definition_round_trips_through_domain_xml(host_a, host_b):
    plan = plan_adaptation(domain=legacy_domain(), source=host_a, target=host_b, vppd_fixes=[])
    xml = plan.adapted_xml()
    assert parse_domain_xml(xml) == plan.adapted
    assert domain_xml(parse_domain_xml(xml)) == xml


def test_ide_and_cdrom_on_the_way_to_q35(host_a):
    target = platform("host-c", constraints={"machine_types": ["q35"]})
    domain = legacy_domain(
        disks=[
            DiskSpec(target="hda", path=f"{POOLS}/host-c/root.qcow2", bus="ide"),
            DiskSpec(
                target="hdc",
                path=f"{POOLS}/host-c/boot.iso",
                bus="ide",
                device="cdrom",
                format="raw",
                readonly=True,
            ),
        ]
    )
    plan = plan_adaptation(domain=domain, source=host_a, target=target, vppd_fixes=[])
    assert plan.ok, plan.problems
    assert plan.adapted.machine == "q35"
    # the disk goes virtio; a CD-ROM cannot, so it takes the first other bus allowed
    assert [(d.target, d.bus) for d in plan.adapted.disks] == [("vda", "virtio"), ("sdc", "scsi")]


def test_kvm_to_tcg_takes_the_cpu_along(host_a):
    source = platform("host-a", kvm_usable=True)
    domain = legacy_domain(domain_type="kvm", cpu_mode="host-passthrough")
    plan = plan_adaptation(domain=domain, source=source, target=host_a, vppd_fixes=[])
    assert plan.ok, plan.problems
    assert plan.adapted.domain_type == "qemu"
    assert plan.adapted.cpu_mode == "host-model"
    assert ids(plan) == ["builtin:accelerator", "builtin:cpu"]


def test_incompatible_host_model_cpu_falls_back_to_the_baseline_model(host_a):
    plan = plan_adaptation(
        domain=legacy_domain(), source=host_a, target=host_a, vppd_fixes=[], cpu_compatible=False
    )
    assert plan.ok, plan.problems
    # EPYC is host B's host-model but not usable as a named model under TCG
    assert (plan.adapted.cpu_mode, plan.adapted.cpu_model) == ("custom", "qemu64")


def test_incompatible_custom_cpu_becomes_host_model(host_a):
    domain = legacy_domain(cpu_mode="custom", cpu_model="Westmere")
    plan = plan_adaptation(
        domain=domain, source=host_a, target=host_a, vppd_fixes=[], cpu_compatible=False
    )
    assert plan.ok and plan.adapted.cpu_mode == "host-model" and plan.adapted.cpu_model is None


def test_volume_moves_to_the_target_pool(host_a, host_b):
    domain = legacy_domain(
        interfaces=[],
        disks=[DiskSpec(target="vda", pool="fast", volume="web1.qcow2", bus="virtio")],
    )
    plan = plan_adaptation(domain=domain, source=host_a, target=host_b, vppd_fixes=[])
    assert plan.ok
    disk = plan.adapted.disks[0]
    assert (disk.pool, disk.volume) == ("persona", "web1.qcow2")


def test_target_disk_paths_are_used(host_a, host_b):
    domain = legacy_domain()
    paths = {d.path: f"/srv/b/{d.target}.img" for d in domain.disks}
    plan = plan_adaptation(
        domain=domain, source=host_a, target=host_b, vppd_fixes=[], target_disk_paths=paths
    )
    assert plan.ok
    assert [d.path for d in plan.adapted.disks] == ["/srv/b/vda.img", "/srv/b/sdb.img"]
    assert plan.disk_paths == paths


def test_network_follows_the_vlan_mapping(host_a):
    target = platform("host-c")
    target["networks"] = ["lan", "vlan100-br"]
    target["vlan_networks"] = {"100": "vlan100-br"}
    domain = legacy_domain(
        interfaces=[InterfaceSpec(network="persona-vlan-100", mac=MAC, model="virtio")]
    )
    plan = plan_adaptation(domain=domain, source=host_a, target=target, vppd_fixes=[])
    assert plan.ok, plan.problems
    assert plan.adapted.interfaces[0].network == "vlan100-br"
    assert ids(plan) == ["builtin:storage-path", "builtin:storage-path", "builtin:network"]


def test_portgroup_on_an_ovs_trunk(host_a):
    source = platform(
        "host-a",
        networks=[
            NetworkInfo(
                name="trunk",
                openvswitch=True,
                portgroups=[PortGroup(name="web", vlan_tags=[300])],
            )
        ],
    )
    target = platform(
        "host-c",
        networks=[
            NetworkInfo(
                name="trunk",
                openvswitch=True,
                portgroups=[PortGroup(name="vlan-300", vlan_tags=[300])],
            )
        ],
    )
    source["networks"] = target["networks"] = ["trunk"]
    domain = legacy_domain(
        interfaces=[InterfaceSpec(network="trunk", portgroup="web", mac=MAC, model="virtio")]
    )
    plan = plan_adaptation(domain=domain, source=source, target=target, vppd_fixes=[])
    assert plan.ok, plan.problems
    nic = plan.adapted.interfaces[0]
    assert (nic.network, nic.portgroup, nic.vlan_tag) == ("trunk", "vlan-300", None)


def test_pinned_emulator_and_pci_addresses_from_libvirt_xml(host_a, host_b):
    xml = domain_xml(legacy_domain())
    xml = xml.replace(
        "<devices>", "<devices><emulator>/opt/qemu/bin/qemu-system-x86_64</emulator>"
    ).replace(
        "</interface>",
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></interface>",
    )
    plan = plan_adaptation(domain=xml, source=host_a, target=host_b, vppd_fixes=[])
    assert plan.ok, plan.problems
    assert plan.emulator == "/usr/bin/qemu-system-x86_64"
    assert "builtin:emulator" in ids(plan)
    assert "<address" not in plan.adapted_xml()  # libvirt lays out q35's PCIe topology
    assert any("pins 1 PCI addresses" in note for note in plan.notes)


# --------------------------------------------------------------------------- profile fixes


def test_web_server_fixes_take_precedence_over_builtins(host_a):
    """examples/web-server.json: its disk, CPU and accelerator fixes claim the
    differences they match; its guest command follows the network change."""
    source = platform("host-a", kvm_usable=True)
    target = platform("host-c", constraints={"disk_buses": ["virtio", "scsi"]})
    target["networks"] = ["lan", "vlan100-br"]
    target["vlan_networks"] = {"100": "vlan100-br"}
    domain = legacy_domain(
        domain_type="kvm",
        cpu_mode="host-passthrough",
        interfaces=[InterfaceSpec(network="persona-vlan-100", mac=MAC, model="virtio")],
    )
    plan = plan_adaptation(
        domain=domain, source=source, target=target, vppd_fixes=example_fixes("web-server")
    )

    assert plan.ok, plan.problems
    by_id = {f.fix_id: f for f in plan.fixes}
    assert "software-emulation" in by_id and "builtin:accelerator" not in by_id
    assert "cpu-host-model" in by_id and "builtin:cpu" not in by_id
    assert "disk-bus-virtio" in by_id and "builtin:disk-bus" not in by_id
    assert by_id["disk-bus-virtio"].changes == ["disk sdb: bus sata -> virtio, now vdb"]
    assert by_id["disk-bus-virtio"].description.startswith("If the target lacks")
    assert plan.adapted.domain_type == "qemu" and plan.adapted.cpu_mode == "host-model"
    assert plan.adapted.interfaces[0].network == "vlan100-br"  # built-in: VLAN mapping
    # priority 10 runs first, the rest in document order
    assert ids(plan)[:3] == ["software-emulation", "disk-bus-virtio", "cpu-host-model"]

    assert plan.guest_commands_before == []
    (relink,) = plan.guest_commands_after
    assert relink.fix_id == "relink-after-network-change"
    assert relink.when == "after_cutover"
    assert relink.action == {
        "type": "guest_command",
        "command": ["/bin/sh", "-c", "ip link set eth0 down && ip link set eth0 up"],
        "when": "after_cutover",
        "timeout": 30,
        "expect_exit_code": 0,
    }
    assert relink.difference is not None and relink.difference.kind == "network"


def test_profile_fix_choosing_another_value_than_the_builtin(host_a):
    target = platform("host-c", constraints={"nic_models": ["virtio", "e1000e"]})
    fixes = [fix("keep-intel-nic", "nic_model", set_(nic_model="e1000e"))]
    plan = plan_adaptation(domain=legacy_domain(), source=host_a, target=target, vppd_fixes=fixes)
    assert plan.ok
    assert plan.adapted.interfaces[0].model == "e1000e"
    assert "builtin:nic-model" not in ids(plan)


def test_profile_fix_that_does_not_resolve_leaves_it_unresolved(host_a, host_b):
    fixes = [fix("disk-bus-ide", "disk_bus", set_(disk_bus="ide"))]
    plan = plan_adaptation(domain=legacy_domain(), source=host_a, target=host_b, vppd_fixes=fixes)

    assert not plan.ok
    (left,) = plan.unresolved
    assert (left.kind, left.subject, left.source) == ("disk_bus", "disk hdb", "ide")
    assert (
        left.reason == "The profile's fix 'disk-bus-ide' was applied, but the difference remains."
    )
    assert plan.problems == [
        "Disk hdb uses bus ide, but host-b does not allow it (allowed: scsi, virtio). "
        "The profile's fix 'disk-bus-ide' was applied, but the difference remains."
    ]
    assert "builtin:disk-bus" not in ids(plan)  # the profile's choice is not overridden


def test_later_fix_wins_and_equal_priorities_keep_document_order(host_a, host_b):
    fixes = [
        fix("third", "nic_model", set_(nic_model="virtio"), priority=500),
        fix("first", "nic_model", set_(nic_model="e1000e"), priority=5),
        fix("second-a", "any", command("/bin/true"), priority=50),
        fix("second-b", "any", command("/bin/true"), priority=50),
    ]
    plan = plan_adaptation(domain=legacy_domain(), source=host_a, target=host_b, vppd_fixes=fixes)
    assert [i for i in ids(plan) if not i.startswith("builtin:")] == [
        "first",
        "second-a",
        "second-b",
        "third",
    ]
    assert plan.adapted.interfaces[0].model == "virtio"
    assert plan.ok


def test_regex_matches_the_whole_value(host_a, host_b):
    q35 = fix(
        "q35-machine",
        "machine_type",
        set_(machine_type="q35"),
        match={"target": {"regex": "pc-q35-.*"}},
    )
    plan = plan_adaptation(domain=legacy_domain(), source=host_a, target=host_b, vppd_fixes=[q35])
    assert "q35-machine" in ids(plan) and "builtin:machine-type" not in ids(plan)

    partial = copy.deepcopy(q35)
    partial["applies_to"]["match"]["target"] = {"regex": "q35"}  # only part of pc-q35-7.2
    plan = plan_adaptation(
        domain=legacy_domain(), source=host_a, target=host_b, vppd_fixes=[partial]
    )
    assert "q35-machine" not in ids(plan) and "builtin:machine-type" in ids(plan)


def test_match_on_subject_and_source(host_a, host_b):
    domain = legacy_domain(
        disks=[
            DiskSpec(target="sda", path=f"{POOLS}/host-b/a.qcow2", bus="sata"),
            DiskSpec(target="hdb", path=f"{POOLS}/host-b/b.qcow2", bus="ide"),
        ]
    )
    fixes = [
        fix(
            "sata-to-scsi",
            "disk_bus",
            set_(disk_bus="scsi"),
            match={"subject": {"regex": "disk sd[a-z]+"}, "source": "sata"},
        )
    ]
    plan = plan_adaptation(domain=domain, source=host_a, target=host_b, vppd_fixes=fixes)
    assert plan.ok
    # the matched disk takes the profile's bus; the other one the built-in's
    assert [(d.target, d.bus) for d in plan.adapted.disks] == [("sda", "scsi"), ("vdb", "virtio")]
    by_id = {f.fix_id: f for f in plan.fixes}
    assert [d.subject for d in by_id["sata-to-scsi"].differences] == ["disk sda"]


def test_guest_commands_before_and_after_cutover(host_a, host_b):
    fixes = [
        fix(
            "virtio-drivers",
            "disk_bus",
            command("/usr/sbin/update-initramfs", "-u", when="before_cutover", timeout=600),
        ),
        fix(
            "rename-nic",
            "nic_model",
            command("/bin/sh", "-c", "udevadm trigger", expect_exit_code=0),
        ),
        fix("never", "firmware", command("/bin/false")),
    ]
    plan = plan_adaptation(domain=legacy_domain(), source=host_a, target=host_b, vppd_fixes=fixes)
    assert plan.ok
    (before,) = plan.guest_commands_before
    assert before.fix_id == "virtio-drivers" and before.when == "before_cutover"
    assert before.action["command"] == ["/usr/sbin/update-initramfs", "-u"]
    assert before.action["timeout"] == 600
    (after,) = plan.guest_commands_after
    assert after.fix_id == "rename-nic"
    assert (after.action["when"], after.action["timeout"]) == ("after_cutover", 60)
    # guest commands do not change the definition: the built-ins still did that
    assert plan.adapted.disks[1].bus == "virtio"


def test_guest_command_is_scheduled_once_for_many_differences(host_a, host_b):
    domain = legacy_domain(
        disks=[
            DiskSpec(target="sda", path=f"{POOLS}/host-b/a.qcow2", bus="sata"),
            DiskSpec(target="sdb", path=f"{POOLS}/host-b/b.qcow2", bus="sata"),
        ]
    )
    fixes = [fix("drivers", "disk_bus", command("/bin/true", when="before_cutover"))]
    plan = plan_adaptation(domain=domain, source=host_a, target=host_b, vppd_fixes=fixes)
    (drivers,) = plan.guest_commands_before
    assert [d.subject for d in drivers.differences] == ["disk sda", "disk sdb"]


def test_malformed_fixes_are_skipped_with_a_note(host_a, host_b):
    fixes = [
        fix("bad-regex", "disk_bus", set_(disk_bus="scsi"), match={"source": {"regex": "("}}),
        {"id": "no-action", "applies_to": {"kind": "disk_bus"}},
        fix("bad-value", "disk_bus", set_(disk_bus="floppy")),
    ]
    plan = plan_adaptation(domain=legacy_domain(), source=host_a, target=host_b, vppd_fixes=fixes)
    assert any(n.startswith("Fix bad-regex has an invalid regular expression") for n in plan.notes)
    assert "Fix no-action has no action; it was skipped." in plan.notes
    assert "Fix bad-value: setting disk_bus = 'floppy' is not a valid value; ignored." in plan.notes
    # an ignored setting claims nothing: the built-in fix still resolves the disk
    assert plan.ok and "builtin:disk-bus" in ids(plan)


# --------------------------------------------------------------------------- unresolved


def test_network_without_mapping_is_unresolved(host_a):
    target = platform("host-c")
    target["networks"] = ["lan"]
    target["vlan_networks"] = {}
    domain = legacy_domain(
        interfaces=[InterfaceSpec(network="persona-isolated", mac=MAC, model="virtio")]
    )
    plan = plan_adaptation(domain=domain, source=host_a, target=target, vppd_fixes=[])
    assert not plan.ok
    (left,) = plan.unresolved
    assert left.kind == "network"
    assert plan.problems == [
        f"Interface 0 ({MAC}) is on network persona-isolated, which host-c does not offer "
        "(offered: lan). Network persona-isolated carries no VLAN that host-c could place, "
        "and it has no network of that name."
    ]


def test_resource_shortfall_is_unresolved_unless_the_profile_shrinks_the_vm(host_a):
    target = platform("host-c", constraints={"max_vcpus": 2})
    domain = legacy_domain(vcpus=4)
    plan = plan_adaptation(domain=domain, source=host_a, target=target, vppd_fixes=[])
    assert not plan.ok
    assert plan.problems == [
        "The domain has 4 vCPUs; host-c gives a domain at most 2. Shrinking the VM is the "
        "profile's decision: add a fix that sets vcpus or memory_mib, or choose a target with "
        "more capacity."
    ]
    shrink = fix("fit-small-hosts", "resources", set_(vcpus=2), match={"subject": "vcpus"})
    plan = plan_adaptation(domain=domain, source=host_a, target=target, vppd_fixes=[shrink])
    assert plan.ok and plan.adapted.vcpus == 2
    assert "vCPUs: 4 -> 2" in plan.hardware_changes


def test_firmware_needs_a_profile_fix(host_a):
    target = platform("host-c", constraints={"firmware": ["bios"]})
    domain = legacy_domain()
    domain.boot.firmware = "efi"
    plan = plan_adaptation(domain=domain, source=host_a, target=target, vppd_fixes=[])
    assert not plan.ok and plan.unresolved[0].kind == "firmware"
    assert "unbootable" in plan.unresolved[0].reason
    bios = fix("bios-ok", "firmware", set_(firmware="bios"), match={"target": "bios"})
    plan = plan_adaptation(domain=domain, source=host_a, target=target, vppd_fixes=[bios])
    assert plan.ok and plan.adapted.boot.firmware == "bios"


def test_non_blocking_difference_does_not_stop_the_plan(host_a):
    plan = plan_adaptation(
        domain=legacy_domain(machine="pc-i440fx-1.4"), source=host_a, target=host_a, vppd_fixes=[]
    )
    assert plan.ok
    (left,) = plan.unresolved
    assert not left.blocking and left.kind == "machine_type"
    assert plan.adapted.machine == "pc-i440fx-1.4"  # built-ins leave what works alone


def test_fix_that_creates_a_new_problem(host_a, host_b):
    fixes = [fix("too-big", "nic_model", set_(nic_model="virtio", vcpus=64))]
    plan = plan_adaptation(domain=legacy_domain(), source=host_a, target=host_b, vppd_fixes=fixes)
    assert not plan.ok
    (left,) = plan.unresolved
    assert (left.kind, left.subject) == ("resources", "vcpus")
    assert "It appeared after these fixes changed the definition" in left.reason
    assert "too-big" in left.reason


def test_invalid_adapted_definition_is_reported(host_a):
    domain = legacy_domain(name="bad name/with slash")
    plan = plan_adaptation(domain=domain, source=host_a, target=host_a, vppd_fixes=[])
    assert not plan.ok
    assert plan.invalid_definition is not None
    assert plan.problems[-1].startswith("The adapted domain definition is not valid:")


# --------------------------------------------------------------------------- the plan itself


def test_input_is_never_mutated(host_a, host_b):
    domain = legacy_domain()
    before = copy.deepcopy(domain)
    fixes = example_fixes("web-server")
    fixes_before = copy.deepcopy(fixes)
    host_b_before = copy.deepcopy(host_b)
    plan = plan_adaptation(domain=domain, source=host_a, target=host_b, vppd_fixes=fixes)
    assert plan.adapted != domain
    assert domain == before and fixes == fixes_before and host_b == host_b_before
    assert plan.original == before and plan.original is not domain


def test_plan_serialises_to_json(host_a, host_b):
    plan = plan_adaptation(
        domain=legacy_domain(),
        source=host_a,
        target=host_b,
        vppd_fixes=example_fixes("web-server"),
    )
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["ok"] is True
    assert data["adapted"]["machine"] == "q35"
    assert {d["kind"] for d in data["differences"]} == {
        "machine_type",
        "disk_bus",
        "nic_model",
        "storage_path",
    }
    assert [f["fix_id"] for f in data["fixes"]][0] == "disk-bus-virtio"
    assert data["guest_commands_after"] == []
