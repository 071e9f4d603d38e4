"""Properties of plan_adaptation over random domains, platforms and fixes."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from operations_app.adaptation import compare, plan_adaptation
from operations_app.hypervisor.domainxml import domain_xml, parse_domain_xml
from operations_app.hypervisor.types import (
    BootSpec,
    DiskSpec,
    DomainSpec,
    InterfaceSpec,
    NetworkInfo,
    PortGroup,
)

from .conftest import POOLS, capabilities

NETWORKS = ["persona-isolated", "persona-vlan-100", "lan", "trunk"]
CAPS = {
    usable: capabilities(
        "host-x",
        kvm_usable=usable,
        pool_path=f"{POOLS}/host-x",
        networks=[
            NetworkInfo(name="lan"),
            NetworkInfo(name="persona-isolated"),
            NetworkInfo(
                name="trunk",
                openvswitch=True,
                portgroups=[PortGroup(name="pg-100", vlan_tags=[100])],
            ),
        ],
    ).to_dict()
    for usable in (True, False)
}
PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "ide": "hd"}


def subset(values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), unique=True, max_size=len(values))


@st.composite
def platforms(draw, name: str) -> dict:
    caps = draw(st.sampled_from([None, True, False]))
    constraints = {
        "machine_types": draw(
            st.sampled_from([[], ["q35"], ["pc"], ["q35", "pc"], ["pc-q35-7.2"]])
        ),
        "disk_buses": draw(subset(["virtio", "sata", "scsi", "ide", "usb"])),
        "nic_models": draw(subset(["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3"])),
        "accelerators": draw(subset(["kvm", "qemu"])),
        "cpu_modes": draw(subset(["host-model", "host-passthrough", "custom", "maximum"])),
        "firmware": draw(subset(["bios", "efi"])),
    }
    if draw(st.booleans()):
        constraints["max_vcpus"] = draw(st.integers(1, 8))
    if draw(st.booleans()):
        constraints["max_memory_mib"] = draw(st.integers(16, 8192))
    return {
        "name": name,
        "capabilities": copy.deepcopy(CAPS[caps]) if caps is not None else {},
        "constraints": {k: v for k, v in constraints.items() if v},
        "storage_pool": draw(st.sampled_from(["persona", "fast"])),
        "networks": draw(subset(NETWORKS)),
        "vlan_networks": draw(
            st.dictionaries(st.sampled_from(["100", "200"]), st.sampled_from(NETWORKS), max_size=2)
        ),
    }


@st.composite
def domains(draw) -> DomainSpec:
    disks = []
    for i in range(draw(st.integers(0, 3))):
        bus = draw(st.sampled_from(["virtio", "scsi", "sata", "ide"]))
        device = draw(st.sampled_from(["disk", "disk", "cdrom"]))
        if device == "cdrom" and bus == "virtio":
            bus = "sata"
        readonly = device == "cdrom" or (bus in ("virtio", "scsi") and draw(st.booleans()))
        name = f"{PREFIX[bus]}{'abcd'[i]}"
        if device == "disk" and draw(st.booleans()):
            disks.append(DiskSpec(target=name, pool="persona", volume=f"v{i}.qcow2", bus=bus))
        else:
            directory = draw(st.sampled_from([f"{POOLS}/host-a", f"{POOLS}/host-x", "/srv"]))
            disks.append(
                DiskSpec(
                    target=name,
                    path=f"{directory}/d{i}.img",
                    bus=bus,
                    device=device,
                    readonly=readonly,
                    format="raw",
                )
            )
    interfaces = [
        InterfaceSpec(
            network=draw(st.sampled_from(NETWORKS)),
            portgroup=draw(st.sampled_from([None, "pg-100", "pg-9"])),
            mac=f"52:54:00:00:00:{i:02x}",
            model=draw(st.sampled_from(["virtio", "e1000", "e1000e", "rtl8139"])),
            vlan_tag=draw(st.sampled_from([None, 100, 200])),
        )
        for i in range(draw(st.integers(0, 2)))
    ]
    mode = draw(st.sampled_from([None, "host-model", "host-passthrough", "custom", "maximum"]))
    model = (
        draw(st.sampled_from(["qemu64", "Westmere", "Skylake-Server"]))
        if mode == "custom"
        else None
    )
    return DomainSpec(
        name="vm1",
        domain_type=draw(st.sampled_from(["kvm", "qemu"])),
        machine=draw(
            st.sampled_from(
                [None, "pc", "q35", "pc-i440fx-7.2", "pc-q35-7.2", "pc-q35-9.9", "pc-i440fx-1.4"]
            )
        ),
        vcpus=draw(st.integers(1, 8)),
        memory_mib=draw(st.integers(16, 8192)),
        cpu_mode=mode,
        cpu_model=model,
        boot=BootSpec(firmware=draw(st.sampled_from(["bios", "efi"]))),
        disks=disks,
        interfaces=interfaces,
    )


SETTINGS = {
    "disk_bus": st.sampled_from(["virtio", "sata", "scsi", "ide"]),
    "nic_model": st.sampled_from(["virtio", "e1000", "e1000e", "rtl8139"]),
    "machine_type": st.sampled_from(["q35", "pc", "pc-q35-7.2", "microvm"]),
    "cpu_mode": st.sampled_from(["host-model", "host-passthrough", "custom", "maximum"]),
    "cpu_model": st.sampled_from(["qemu64", "Skylake-Server"]),
    "accelerator": st.sampled_from(["kvm", "qemu"]),
    "emulator": st.just("/usr/bin/qemu-system-x86_64"),
    "firmware": st.sampled_from(["bios", "efi"]),
    "network": st.sampled_from(NETWORKS),
    "portgroup": st.sampled_from(["pg-100", "pg-9"]),
    "storage_pool": st.sampled_from(["persona", "fast"]),
    "storage_path": st.sampled_from([f"{POOLS}/host-x", "/srv"]),
    "vcpus": st.integers(1, 8),
    "memory_mib": st.integers(16, 8192),
}
KINDS = [
    "cpu_model",
    "machine_type",
    "accelerator",
    "disk_bus",
    "nic_model",
    "emulator",
    "firmware",
    "network",
    "portgroup",
    "storage_pool",
    "storage_path",
    "resources",
    "any",
]


@st.composite
def fixes(draw) -> list[dict]:
    result = []
    for i in range(draw(st.integers(0, 4))):
        match = draw(
            st.dictionaries(
                st.sampled_from(["source", "target", "subject"]),
                st.one_of(
                    st.sampled_from(["sata", "q35", "virtio", "4", "domain"]),
                    st.integers(1, 8),
                    st.builds(
                        lambda r: {"regex": r}, st.sampled_from([".*", "pc-.*", "disk .*", "x"])
                    ),
                ),
                max_size=2,
            )
        )
        if draw(st.booleans()):
            keys = draw(
                st.lists(st.sampled_from(sorted(SETTINGS)), min_size=1, max_size=3, unique=True)
            )
            action = {"type": "domain", "set": {k: draw(SETTINGS[k]) for k in keys}}
        else:
            action = {
                "type": "guest_command",
                "command": ["/bin/true"],
                "when": draw(st.sampled_from(["before_cutover", "after_cutover"])),
            }
        fix = {
            "id": f"fix-{i}",
            "applies_to": {"kind": draw(st.sampled_from(KINDS))},
            "action": action,
        }
        if match:
            fix["applies_to"]["match"] = match
        if draw(st.booleans()):
            fix["priority"] = draw(st.integers(0, 1000))
        result.append(fix)
    return result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    domain=domains(),
    source=platforms("host-a"),
    target=platforms("host-x"),
    profile_fixes=fixes(),
    cpu_compatible=st.sampled_from([None, True, False]),
)
def test_plan_never_raises_never_mutates_and_keeps_its_word(
    domain, source, target, profile_fixes, cpu_compatible
):
    inputs = copy.deepcopy((domain, source, target, profile_fixes))

    plan = plan_adaptation(
        domain=domain,
        source=source,
        target=target,
        vppd_fixes=profile_fixes,
        cpu_compatible=cpu_compatible,
    )

    assert (domain, source, target, profile_fixes) == inputs
    event(f"ok={plan.ok}, fixes applied={bool(plan.fixes)}")
    json.dumps(plan.to_dict())
    assert plan.ok == (
        plan.invalid_definition is None and not any(d.blocking for d in plan.unresolved)
    )
    assert len(plan.adapted.disks) == len(domain.disks)
    assert len(plan.adapted.interfaces) == len(domain.interfaces)
    assert all(f.when in ("definition", "before_cutover", "after_cutover") for f in plan.fixes)
    if plan.ok:
        # what the plan calls resolved, a fresh comparison agrees with
        same_cpu = (plan.adapted.cpu_mode, plan.adapted.cpu_model) == (
            domain.cpu_mode,
            domain.cpu_model,
        )
        again = compare(
            domain=plan.adapted,
            source=source,
            target=target,
            cpu_compatible=cpu_compatible if same_cpu else None,
        )
        assert not [d for d in again if d.blocking]
        xml = plan.adapted_xml()
        assert parse_domain_xml(xml) == plan.adapted
        assert domain_xml(parse_domain_xml(xml)) == xml
