"""Integration: the real libvirt daemon (qemu:///system) without booting guests."""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import uuid
from pathlib import Path

import pytest

from operations_app.hypervisor import (
    AlreadyExists,
    Capabilities,
    DhcpHost,
    DiskIoTune,
    DiskSpec,
    DomainMetadata,
    DomainSpec,
    FirewallRule,
    Hypervisor,
    HypervisorError,
    InterfaceSpec,
    InvalidSpec,
    NetworkSpec,
    NotFound,
    NWFilterSpec,
    Tunables,
    filter_name_for,
    probe_kvm_boot,
)

from .conftest import SYSTEM_URI, unique_name
from .test_domain_xml import full_spec

pytestmark = [pytest.mark.integration, pytest.mark.dbfree]


def test_real_capabilities(system_hv):
    caps = system_hv.capabilities(kvm_usable=False)
    assert caps.driver == "QEMU" and caps.arch == "x86_64"
    qemu = caps.accelerator("qemu")
    assert qemu is not None and qemu.usable
    kvm = caps.accelerator("kvm")
    assert kvm is not None and not kvm.usable and "declared" in kvm.reason
    assert caps.domain_type == "qemu"
    assert (
        caps.canonical_machine(
            "pc",
        )
        is not None
        and caps.canonical_machine("pc") != "pc"
    )
    assert caps.emulator and os.path.exists(caps.emulator)
    assert "virtio" in caps.disk_buses and "virtio" in caps.nic_models
    assert "bios" in caps.firmware
    assert caps.cpu_models and "host-passthrough" not in caps.cpu_modes  # TCG
    assert caps.cpu_count >= 1 and caps.memory_mib > 0 and caps.free_memory_mib > 0
    assert caps.libvirt_version.count(".") == 2 and caps.hypervisor_version
    assert not caps.openvswitch
    assert Capabilities.from_dict(json.loads(json.dumps(caps.to_dict()))) == caps


def test_domain_capabilities_per_machine(system_hv):
    q35 = system_hv.domain_capabilities("qemu", machine="q35")
    assert q35.machine.startswith("pc-q35-") and "sata" in q35.disk_buses
    pc = system_hv.domain_capabilities("qemu")
    assert pc.machine.startswith("pc-i440fx-") and pc.domain_type == "qemu"


def test_kvm_declared_through_environment(system_hv):
    caps = system_hv.capabilities(environ={"VMPERSONA_KVM_USABLE": "0"})
    assert caps.domain_type == "qemu"
    assert not caps.accelerator("kvm").usable


def test_boot_probe_control_under_tcg():
    """The explicit probe sees a kernel boot under TCG (so a KVM 'no' is meaningful)."""
    result = probe_kvm_boot(accel="tcg", timeout=30)
    assert result.usable, result.reason


def test_nwfilter_on_real_daemon(system_hv, system_reaper):
    name = system_reaper.nwfilter(filter_name_for(f"pt web {uuid.uuid4().hex[:6]}"))
    spec = NWFilterSpec(
        name=name,
        rules=[
            FirewallRule(
                direction="in",
                protocol="tcp",
                port=22,
                source_cidr="10.231.0.0/24",
                comment="ssh <&>'\"",
            ),
            FirewallRule(direction="out", protocol="udp", port=53),
            FirewallRule(direction="in", protocol="icmp", action="drop", priority=100),
        ],
        clean_traffic=True,
    )
    filter_uuid = system_hv.nwfilters.define(spec)
    assert uuid.UUID(filter_uuid)
    assert name in system_hv.nwfilters.list()
    back = system_hv.nwfilters.lookup(name)
    back.uuid = None
    assert back == spec
    # redefining updates in place
    spec.rules.append(FirewallRule(direction="in", protocol="tcp", port=443))
    assert system_hv.nwfilters.define(spec) == filter_uuid
    assert len(system_hv.nwfilters.lookup(name).rules) == 4
    assert system_hv.nwfilters.undefine(name)
    assert not system_hv.nwfilters.exists(name)
    assert system_hv.nwfilters.undefine(name) is False


def test_isolated_network_with_live_dhcp_entries(system_hv, system_reaper):
    net = system_reaper.network(unique_name())
    octet = random.randint(1, 254)
    spec = NetworkSpec(
        name=net,
        bridge=f"pt{uuid.uuid4().hex[:8]}",
        ipv4_address=f"10.250.{octet}.1",
        dhcp_start=f"10.250.{octet}.100",
        dhcp_end=f"10.250.{octet}.199",
        dhcp_hosts=[DhcpHost(mac="52:54:00:fa:00:01", ip=f"10.250.{octet}.11", name="pt-a")],
    )
    info = system_hv.networks.define(spec)
    assert info.active and info.forward_mode is None and info.bridge == spec.bridge
    host = DhcpHost(mac="52:54:00:fa:00:02", ip=f"10.250.{octet}.12", name="pt-b")
    system_hv.networks.dhcp_host_add(net, host)
    assert host in system_hv.networks.info(net).dhcp_hosts
    system_hv.networks.dhcp_host_remove(net, mac=host.mac)
    assert host not in system_hv.networks.info(net).dhcp_hosts
    with pytest.raises(AlreadyExists):
        system_hv.networks.define(spec)
    assert system_hv.networks.delete(net)
    assert not system_hv.networks.exists(net)


def test_domain_definition_validated_by_real_daemon(system_hv, system_reaper, world_readable_dir):
    """The full spec passes libvirt's schema validation and reads back unchanged."""
    spec = full_spec()
    spec.name = system_reaper.domain(unique_name())
    spec.uuid = None
    spec.machine = "pc"
    spec.interfaces = []  # their networks do not exist here
    spec.disks = [d for d in spec.disks if d.pool is None]
    spec.description = "line one\n  <b>&amp; ]]> 'quoted' \"double\" é😀"
    spec.metadata = DomainMetadata(
        profile="p <&>", content_hash="sha256:x", execution_flags=["a\nb"], labels={"k'": 'v"'}
    )
    system_hv.domains.define(spec)
    back = system_hv.domains.spec(spec.name, inactive=True)
    assert back.machine.startswith("pc-i440fx-")  # libvirt resolves the alias
    back.uuid, back.machine, spec.machine = None, None, None
    assert back == spec


def test_device_hotplug_on_defined_domain(system_hv, system_reaper):
    name = system_reaper.domain(unique_name())
    system_hv.domains.define(DomainSpec(name=name, memory_mib=64))
    system_hv.domains.attach_disk(name, DiskSpec(target="vdb", path="/var/tmp/pt-absent.qcow2"))
    assert [d.target for d in system_hv.domains.spec(name, inactive=True).disks] == ["vdb"]
    system_hv.domains.attach_interface(
        name, InterfaceSpec(network="default", mac="52:54:00:fa:00:09")
    )
    system_hv.domains.detach_disk(name, "vdb")
    system_hv.domains.detach_interface(name, "52:54:00:fa:00:09")
    spec = system_hv.domains.spec(name, inactive=True)
    assert spec.disks == [] and spec.interfaces == []


def test_resource_limits_on_defined_domain(system_hv, system_reaper):
    name = system_reaper.domain(unique_name())
    system_hv.domains.define(
        DomainSpec(
            name=name, memory_mib=64, disks=[DiskSpec(target="vda", path="/var/tmp/pt-x.qcow2")]
        )
    )
    assert system_hv.domains.tunables(name) == Tunables()
    wanted = Tunables(
        cpu_shares=700,
        cpu_period=100000,
        cpu_quota=50000,
        memory_hard_limit_mib=300,
        blkio_weight=300,
    )
    system_hv.domains.set_tunables(
        name, wanted, disk_iotune={"vda": DiskIoTune(total_iops_sec=100, read_bytes_sec=4096)}
    )
    assert system_hv.domains.tunables(name) == wanted
    assert system_hv.domains.disk_iotune(name, "vda") == DiskIoTune(
        total_iops_sec=100, read_bytes_sec=4096
    )
    spec = system_hv.domains.spec(name, inactive=True)
    assert spec.tunables == wanted and spec.disks[0].iotune.total_iops_sec == 100


def test_memory_hard_limit_ceiling_is_real(system_hv, system_reaper):
    """A guest with a hard limit above the reported ceiling does not start here."""
    ceiling = system_hv.capabilities(kvm_usable=False).memory_hard_limit_max_mib
    if ceiling is None:
        pytest.skip("this host has no memlock ceiling")
    name = system_reaper.domain(unique_name())
    system_hv.domains.define(
        DomainSpec(name=name, memory_mib=64, tunables=Tunables(memory_hard_limit_mib=ceiling + 256))
    )
    with pytest.raises(HypervisorError, match="locked memory"):
        system_hv.domains.start(name)


def test_secret_list(system_hv, system_reaper, world_readable_dir):
    secret = system_reaper.secret(
        system_hv.storage.secret_define(str(world_readable_dir / "pt.qcow2"), b"value")
    )
    assert secret in system_hv.storage.secret_list()


def test_errors_from_real_daemon(system_hv):
    with pytest.raises(NotFound):
        system_hv.domains.lookup("pt-does-not-exist")
    with pytest.raises(NotFound):
        system_hv.storage.volume_info("pt-no-such-pool", "x")
    with pytest.raises(InvalidSpec):
        system_hv.domains.define(DomainSpec(name="pt bad"))


class SocketProxy:
    """Forwards a unix socket to libvirtd's; ``drop()`` cuts every open connection."""

    def __init__(self, path: Path, target: str) -> None:
        self.path, self.target = str(path), target
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(8)
        self.open: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            self.open += [client, upstream]
            self.accepted += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def drop(self) -> None:
        for s in self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.open = []

    def close(self) -> None:
        self.drop()
        self.server.close()


def test_reconnects_after_the_daemon_connection_drops(tmp_path):
    if SYSTEM_URI != "qemu:///system" or not os.path.exists("/run/libvirt/libvirt-sock"):
        pytest.skip("needs the local system daemon socket")
    proxy = SocketProxy(tmp_path / "proxy.sock", "/run/libvirt/libvirt-sock")
    try:
        uri = f"qemu+unix:///system?socket={proxy.path}"
        with Hypervisor.connect(uri, timeout=20) as hv:
            before = {d.name for d in hv.domains.list()}
            proxy.drop()
            after = {d.name for d in hv.domains.list()}  # reconnects transparently
            assert after == before or after  # the list itself may change; it was read
            assert hv.reconnects == 1 and proxy.accepted == 2
            assert hv.is_alive()
    finally:
        proxy.close()
