"""Domain XML building and parsing (no libvirt involved)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from operations_app.hypervisor import (
    PERSONA_NS,
    BootSpec,
    DiskIoTune,
    DiskSpec,
    DomainMetadata,
    DomainSpec,
    InterfaceSpec,
    InvalidSpec,
    Tunables,
    disk_xml,
    domain_xml,
    interface_xml,
    metadata_xml,
    parse_domain_xml,
    parse_metadata_xml,
)


def full_spec() -> DomainSpec:
    return DomainSpec(
        name="pt-web1",
        uuid="0b7c2b44-9c55-4a63-9d1c-8e5f1c0f2a11",
        domain_type="qemu",
        machine="pc-i440fx-7.2",
        vcpus=2,
        memory_mib=512,
        cpu_mode="custom",
        cpu_model="qemu64",
        boot=BootSpec(
            kernel="/var/lib/vmpersona/images/tiny-linux/vmlinuz",
            initrd="/var/lib/vmpersona/images/tiny-linux/initrd.img",
            cmdline="console=ttyS0 root=/dev/vda quiet",
        ),
        disks=[
            DiskSpec(
                target="vda",
                path="/var/lib/vmpersona/pools/a/pt-web1-root.qcow2",
                iotune=DiskIoTune(total_iops_sec=500, read_bytes_sec=10_000_000),
            ),
            DiskSpec(
                target="vdb",
                pool="persona",
                volume="pt-web1-data.qcow2",
                serial="data0",
                encryption_secret_uuid="5e0f3c6a-3f1e-4a38-8bbd-2ad0ef1c5b01",
            ),
            DiskSpec(target="sda", path="/srv/seed.raw", format="raw", bus="scsi", readonly=True),
        ],
        interfaces=[
            InterfaceSpec(
                network="persona-isolated",
                mac="52:54:00:12:34:56",
                filter="persona-pt-web1",
                filter_parameters={"IP": "10.231.0.10"},
            ),
            InterfaceSpec(network="trunk", portgroup="ops", model="e1000", vlan_tag=42),
        ],
        serial_log="/var/log/vmpersona/pt-web1.serial.log",
        description="web server\nfor tests",
        metadata=DomainMetadata(
            profile="web",
            profile_version=3,
            content_hash="sha256:abc",
            execution_flags=["Production", "PCI"],
            job_id="42",
            labels={"owner": "ops"},
        ),
        tunables=Tunables(
            cpu_shares=2048,
            cpu_period=100000,
            cpu_quota=50000,
            memory_hard_limit_mib=768,
            memory_soft_limit_mib=600,
            blkio_weight=500,
        ),
    )


def test_round_trip_full_spec():
    spec = full_spec()
    assert parse_domain_xml(domain_xml(spec)) == spec


def test_round_trip_minimal_spec():
    spec = DomainSpec(name="pt-min")
    assert parse_domain_xml(domain_xml(spec)) == spec


def test_document_shape():
    root = ET.fromstring(domain_xml(full_spec()))
    assert root.get("type") == "qemu"
    assert root.find("memory").get("unit") == "MiB"
    assert root.find("os/type").get("machine") == "pc-i440fx-7.2"
    agent = root.find("devices/channel/target")
    assert agent.get("type") == "virtio" and agent.get("name") == "org.qemu.guest_agent.0"
    assert root.find("devices/serial").get("type") == "file"
    assert root.find("devices/memballoon/stats").get("period") == "5"
    vdb = root.findall("devices/disk")[1]
    assert vdb.get("type") == "volume"
    assert vdb.find("source/encryption/secret").get("type") == "passphrase"
    nic = root.find("devices/interface")
    assert nic.find("filterref/parameter").attrib == {"name": "IP", "value": "10.231.0.10"}
    md = root.find(f"metadata/{{{PERSONA_NS}}}instance")
    assert md is not None
    assert md.find(f"{{{PERSONA_NS}}}profile").attrib == {
        "name": "web",
        "version": "3",
        "hash": "sha256:abc",
    }
    assert root.find("cputune/quota").text == "50000"
    assert root.find("memtune/hard_limit").get("unit") == "MiB"


def test_parses_libvirt_formatted_document():
    """What libvirt hands back: KiB units, addresses, aliases, console, controllers."""
    xml = """<domain type='qemu' id='7'>
      <name>pt-live</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
      <metadata><persona:instance xmlns:persona="https://vmpersona.dev/xmlns/domain/1">
        <persona:profile name="db" version="1"/><persona:flag name="Testing"/>
      </persona:instance></metadata>
      <memory unit='KiB'>262144</memory><currentMemory unit='KiB'>262144</currentMemory>
      <vcpu placement='static'>1</vcpu>
      <memtune><hard_limit unit='KiB'>524288</hard_limit></memtune>
      <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
        <kernel>/k</kernel><cmdline>console=ttyS0</cmdline><boot dev='hd'/></os>
      <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>
      <devices>
        <emulator>/usr/bin/qemu-system-x86_64</emulator>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
          <source file='/p/a.qcow2' index='2'/><backingStore type='file' index='3'>
          <format type='qcow2'/><source file='/base.qcow2'/></backingStore>
          <target dev='vda' bus='virtio'/><alias name='virtio-disk0'/></disk>
        <controller type='usb' index='0'/>
        <interface type='network'><mac address='52:54:00:aa:bb:cc'/>
          <source network='n1' portid='x' bridge='virbr9'/><target dev='vnet3'/>
          <model type='virtio'/><alias name='net0'/></interface>
        <serial type='file'><source path='/tmp/s.log'/><target type='isa-serial' port='0'/></serial>
        <console type='file'><source path='/tmp/s.log'/><target type='serial' port='0'/></console>
      </devices></domain>"""
    spec = parse_domain_xml(xml)
    assert spec.name == "pt-live"
    assert spec.memory_mib == 256
    assert spec.tunables.memory_hard_limit_mib == 512
    assert spec.cpu_mode == "custom" and spec.cpu_model == "qemu64"
    assert spec.disks == [DiskSpec(target="vda", path="/p/a.qcow2")]
    assert spec.interfaces == [InterfaceSpec(network="n1", mac="52:54:00:aa:bb:cc")]
    assert spec.serial_log == "/tmp/s.log"
    assert spec.metadata == DomainMetadata(
        profile="db", profile_version=1, execution_flags=["Testing"]
    )


def test_metadata_xml_is_unnamespaced_for_set_metadata():
    md = DomainMetadata(profile="p", labels={"a": "b"})
    xml = metadata_xml(md)
    assert "xmlns" not in xml
    assert parse_metadata_xml(xml) == md


def test_hotplug_fragments():
    disk = DiskSpec(target="vdc", path="/srv/x.qcow2")
    assert ET.fromstring(disk_xml(disk)).tag == "disk"
    nic = InterfaceSpec(network="n1", mac="52:54:00:00:00:01")
    assert ET.fromstring(interface_xml(nic)).find("source").get("network") == "n1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "bad name"}, "domain name"),
        ({"name": "../etc"}, "domain name"),
        ({"name": ""}, "domain name"),
        ({"name": "x" * 65}, "longer than 64"),
        ({"domain_type": "xen"}, "domain type"),
        ({"vcpus": 0}, "vcpus"),
        ({"memory_mib": 1}, "memory"),
        ({"uuid": "not-a-uuid"}, "not a UUID"),
        ({"cpu_mode": "custom"}, "needs a cpu model"),
        ({"cpu_mode": "host-model", "cpu_model": "qemu64"}, "only used with cpu mode"),
        ({"cpu_model": "qemu64"}, "needs cpu mode"),
        ({"machine": "pc'><evil/>"}, "machine type"),
        ({"boot": BootSpec(cmdline="x")}, "needs a kernel"),
        ({"boot": BootSpec(kernel="relative/k")}, "absolute path"),
        ({"boot": BootSpec(kernel="/k", cmdline="a\nb")}, "control characters"),
        ({"boot": BootSpec(firmware="coreboot")}, "firmware"),
        (
            {"disks": [DiskSpec(target="vda", path="/a"), DiskSpec(target="vda", path="/b")]},
            "same target",
        ),
        ({"disks": [DiskSpec(target="vda")]}, "no source"),
        ({"disks": [DiskSpec(target="vda", path="/a", pool="p", volume="v")]}, "either a path"),
        ({"disks": [DiskSpec(target="vda", pool="p")]}, "both pool and volume"),
        ({"disks": [DiskSpec(target="xyz", path="/a")]}, "disk target"),
        ({"disks": [DiskSpec(target="vda", path="/a", bus="usb")]}, "bus"),
        ({"disks": [DiskSpec(target="vda", path="/a", format="vmdk")]}, "format"),
        ({"disks": [DiskSpec(target="vda", path="/a", serial="has space")]}, "serial"),
        ({"disks": [DiskSpec(target="sda", path="/a", bus="sata", readonly=True)]}, "read-only"),
        ({"interfaces": [InterfaceSpec(network="n", mac="01:00:5e:00:00:01")]}, "multicast"),
        ({"interfaces": [InterfaceSpec(network="n", mac="zz")]}, "MAC"),
        ({"interfaces": [InterfaceSpec(network="n", vlan_tag=4095)]}, "VLAN"),
        ({"interfaces": [InterfaceSpec(network="n", filter_parameters={"IP": "1"})]}, "no filter"),
        (
            {"interfaces": [InterfaceSpec(network="n", filter="f", filter_parameters={"1P": "x"})]},
            "variable name",
        ),
        ({"interfaces": [InterfaceSpec(network="n", model="virtio'/><x a='")]}, "model"),
        ({"serial_log": "log.txt"}, "absolute path"),
        ({"tunables": Tunables(cpu_period=10)}, "cpu period"),
        ({"metadata": DomainMetadata(profile="bad\x00char")}, "XML cannot carry"),
        ({"description": "a\rb"}, "carriage"),
    ],
)
def test_invalid_specs_are_refused(change, message):
    spec = DomainSpec(name="pt-ok", **{k: val for k, val in change.items() if k != "name"})
    if "name" in change:
        spec.name = change["name"]
    with pytest.raises(InvalidSpec, match=message):
        domain_xml(spec)


def test_parse_refuses_dtd_and_garbage():
    with pytest.raises(InvalidSpec, match="DTD"):
        parse_domain_xml('<!DOCTYPE d [<!ENTITY x "y">]><domain><name>&x;</name></domain>')
    with pytest.raises(InvalidSpec, match="well-formed"):
        parse_domain_xml("<domain><name>x</domain>")
    with pytest.raises(InvalidSpec, match="<domain>"):
        parse_domain_xml("<network/>")


def test_q35_domains_keep_spare_root_ports_for_hot_plug():
    import xml.etree.ElementTree as ET

    from operations_app.hypervisor import DiskSpec, DomainSpec, domain_xml

    spec = DomainSpec(
        name="hp", machine="q35", disks=[DiskSpec(target="vda", path="/x.qcow2")], hotplug_slots=3
    )
    ports = ET.fromstring(domain_xml(spec)).findall("devices/controller[@model='pcie-root-port']")
    # one for each wired device (1 disk + 5 built-in devices) plus the 3 spare ones
    assert len(ports) == 9
    spec.machine = "pc"
    assert not ET.fromstring(domain_xml(spec)).findall(
        "devices/controller[@model='pcie-root-port']"
    )
