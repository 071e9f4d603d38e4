"""Capability parsing: from documents captured on a real QEMU host, and from test://."""

from __future__ import annotations

import json

import pytest

from operations_app.hypervisor import Capabilities, Hypervisor, judge_kvm
from operations_app.hypervisor.capabilities import (
    assemble_capabilities,
    is_local_uri,
    memory_hard_limit_ceiling_mib,
    parse_domain_capabilities,
    parse_host_capabilities,
    version_string,
)
from operations_app.hypervisor.types import NetworkInfo, PortGroup

from .conftest import DATA


def real_capabilities(**kwargs) -> Capabilities:
    host = parse_host_capabilities((DATA / "capabilities-x86_64.xml").read_text())
    domcaps = {
        t: parse_domain_capabilities((DATA / f"domcaps-x86_64-{t}.xml").read_text())
        for t in ("qemu", "kvm")
    }
    defaults = dict(
        uri="qemu:///system",
        hostname="host-a",
        driver="QEMU",
        lib_version=9000000,
        hypervisor_version=7002022,
        host=host,
        domcaps=domcaps,
        node_info=["x86_64", 5722, 2, 2596, 1, 1, 2, 1],
        free_memory_bytes=4 * 1024**3,
        pools=[],
        networks=[],
        environ={},
    )
    defaults.update(kwargs)
    return assemble_capabilities(**defaults)


def test_host_document_parsed():
    host = parse_host_capabilities((DATA / "capabilities-x86_64.xml").read_text())
    assert host.cpu.arch == "x86_64"
    assert host.cpu.vendor == "AMD"
    assert host.cpu.model == "kvm64"
    assert "avx2" in host.cpu.features
    assert (host.cpu.sockets, host.cpu.cores, host.cpu.threads) == (1, 2, 1)
    assert host.cpu_count == 2
    assert host.migration_transports == ["tcp", "rdma"]
    guest = host.guest()
    assert guest is not None and guest.arch == "x86_64"
    assert guest.emulator == "/usr/bin/qemu-system-x86_64"
    assert guest.domain_types == ["qemu", "kvm"]


def test_machine_aliases_resolve_to_canonical_names():
    caps = real_capabilities()
    assert caps.machine_aliases() == {"pc": "pc-i440fx-7.2", "q35": "pc-q35-7.2"}
    assert caps.canonical_machine("pc") == "pc-i440fx-7.2"
    assert caps.canonical_machine("pc-q35-6.2") == "pc-q35-6.2"
    assert caps.canonical_machine("no-such-machine") is None
    deprecated = {m.name for m in caps.machines if m.deprecated}
    assert "pc-i440fx-1.4" in deprecated


def test_domain_capabilities_per_type():
    qemu = parse_domain_capabilities((DATA / "domcaps-x86_64-qemu.xml").read_text())
    kvm = parse_domain_capabilities((DATA / "domcaps-x86_64-kvm.xml").read_text())
    assert qemu.domain_type == "qemu" and kvm.domain_type == "kvm"
    # TCG cannot pass the host CPU through; KVM can
    assert "host-passthrough" not in qemu.cpu_modes
    assert "host-passthrough" in kvm.cpu_modes
    assert qemu.host_model == "EPYC"
    assert "qemu64" in qemu.cpu_models and "Westmere" in qemu.cpu_models
    assert "Skylake-Server" not in qemu.cpu_models  # listed as usable='no'
    assert {"virtio", "sata", "scsi", "ide"} <= set(qemu.disk_buses)
    assert qemu.firmware == ["bios", "efi"]
    assert qemu.loaders == ["/usr/share/OVMF/OVMF_CODE_4M.fd"]
    assert qemu.emulator == "/usr/bin/qemu-system-x86_64"
    assert qemu.max_vcpus == 255
    # libvirt 9.0 does not report NIC models: the defaults for the arch are used
    assert not qemu.nic_models_reported
    assert "virtio" in qemu.nic_models and "e1000" in qemu.nic_models


def test_declared_unusable_kvm_falls_back_to_tcg():
    caps = real_capabilities(kvm_usable=False)
    kvm = caps.accelerator("kvm")
    assert kvm is not None and not kvm.usable and "declared" in kvm.reason
    assert caps.accelerator("qemu").usable
    assert caps.domain_type == "qemu"
    # the top-level lists follow the chosen type
    assert "host-passthrough" not in caps.cpu_modes
    assert "Westmere" in caps.cpu_models


def test_declared_usable_kvm_is_preferred():
    caps = real_capabilities(kvm_usable=True)
    assert caps.domain_type == "kvm"
    assert "host-passthrough" in caps.cpu_modes


def test_environment_declares_kvm():
    off = real_capabilities(environ={"VMPERSONA_KVM_USABLE": "0"})
    assert off.domain_type == "qemu"
    assert "VMPERSONA_KVM_USABLE=0" in off.accelerator("kvm").reason
    # an explicit argument wins over the environment
    on = real_capabilities(environ={"VMPERSONA_KVM_USABLE": "no"}, kvm_usable=True)
    assert on.domain_type == "kvm"


def test_kvm_judgement_rules(tmp_path):
    assert not judge_kvm("qemu:///system", listed=False, environ={}).usable
    remote = judge_kvm("qemu+ssh://host-b/system", listed=True, environ={})
    assert remote.usable and "remote" in remote.reason
    missing = judge_kvm("qemu:///system", listed=True, environ={}, device=str(tmp_path / "no-kvm"))
    assert not missing.usable and "cannot be opened" in missing.reason
    not_kvm = tmp_path / "not-kvm"
    not_kvm.write_text("")
    plain_file = judge_kvm("qemu:///system", listed=True, environ={}, device=str(not_kvm))
    assert not plain_file.usable


@pytest.mark.parametrize(
    ("uri", "local"),
    [
        ("qemu:///system", True),
        ("qemu:///session", True),
        ("qemu+unix:///system?socket=/run/b/libvirt-sock", True),
        ("qemu+ssh://root@host-b/system", False),
        ("qemu+tls://host-b/system", False),
        ("qemu+tcp://10.0.0.2/system", False),
        ("test:///default", True),
    ],
)
def test_local_uri(uri, local):
    assert is_local_uri(uri) is local


def test_openvswitch_seen_on_a_network():
    ovs = NetworkInfo(name="trunk", openvswitch=True, portgroups=[PortGroup("v10", [10])])
    caps = real_capabilities(networks=[ovs])
    assert caps.openvswitch
    assert not real_capabilities().openvswitch


def test_json_round_trip():
    caps = real_capabilities(kvm_usable=False)
    data = json.loads(json.dumps(caps.to_dict()))
    assert data["domain_type"] == "qemu"
    assert data["libvirt_version"] == "9.0.0" and data["hypervisor_version"] == "7.2.22"
    assert Capabilities.from_dict(data) == caps


def test_memory_hard_limit_ceiling(tmp_path):
    import resource

    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapBnd:\t000001ffffffffff\n")  # CAP_SYS_RESOURCE present
    assert memory_hard_limit_ceiling_mib("qemu:///system", status_path=str(status)) is None
    status.write_text("Name:\tx\nCapBnd:\t000001fffeffffff\n")  # ... absent
    hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)[1]
    expected = None if hard == resource.RLIM_INFINITY else hard // (1024 * 1024)
    assert memory_hard_limit_ceiling_mib("qemu:///system", status_path=str(status)) == expected
    assert memory_hard_limit_ceiling_mib("qemu+ssh://b/system", status_path=str(status)) is None


def test_version_string():
    assert version_string(9000000) == "9.0.0"
    assert version_string(7002022) == "7.2.22"


def test_test_driver_capabilities(test_hv: Hypervisor):
    caps = test_hv.capabilities()
    assert caps.driver == "TEST"
    assert [a.domain_type for a in caps.accelerators] == ["test"]
    assert any(p.name == "default-pool" and p.type == "dir" for p in caps.pools)
    assert any(n.name == "default" and n.forward_mode == "nat" for n in caps.networks)
    assert caps.cpu_count == 16
    assert Capabilities.from_dict(json.loads(json.dumps(caps.to_dict()))) == caps
