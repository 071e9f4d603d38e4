"""Domain XML: ``DomainSpec`` <-> libvirt ``<domain>`` documents.

``domain_xml(spec)`` validates the spec and builds the document; ``parse_domain_xml(xml)``
reads a document (ours or one libvirt formatted, active or inactive) back into a spec.
Devices the product does not manage (controllers, consoles, addresses, ...) are ignored
when parsing, so ``parse_domain_xml(domain_xml(spec)) == spec`` and a spec read back
from libvirt differs only by what libvirt filled in (uuid, MAC addresses, machine).

Every domain gets a guest-agent channel (``org.qemu.guest_agent.0``), a virtio balloon
with a stats period (for memory metrics) and a virtio RNG.

Product metadata lives in ``<metadata>`` as one element in the ``PERSONA_NS`` namespace::

    <persona:instance>
      <persona:profile name="web" version="3" hash="sha256:..."/>
      <persona:job id="42"/>
      <persona:flag name="Production"/>
      <persona:label key="owner" value="ops"/>
      <persona:key serial="data-1" ref="web1-data-3fa2c1"/>   (names the stored key only)
    </persona:instance>

Every value is an attribute, so any text (newlines, quotes, ``]]>``) round-trips.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from . import validation as v
from ._xml import PERSONA_NS, local, parse, size_of, sub, to_int, to_string
from .errors import InvalidSpec
from .types import (
    BootSpec,
    DiskIoTune,
    DiskSpec,
    DomainMetadata,
    DomainSpec,
    InterfaceSpec,
    Tunables,
)

AGENT_CHANNEL = "org.qemu.guest_agent.0"
DOMAIN_TYPES = ("qemu", "kvm")
CPU_MODES = ("host-model", "host-passthrough", "custom", "maximum")
DISK_BUSES = ("virtio", "sata", "scsi", "ide")
DISK_FORMATS = ("qcow2", "raw")
DISK_DEVICES = ("disk", "cdrom")
BOOT_DEVICES = ("hd", "cdrom", "network", "fd")
FIRMWARE = ("bios", "efi")
IOTUNE_FIELDS = (
    "total_iops_sec",
    "read_iops_sec",
    "write_iops_sec",
    "total_bytes_sec",
    "read_bytes_sec",
    "write_bytes_sec",
)
_TOKEN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*\Z")
_SERIAL_RE = re.compile(r"^[A-Za-z0-9_-]{1,20}\Z")
_PARAM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_MIB = 1024 * 1024


def _token(value: object, *, what: str) -> str:
    if not isinstance(value, str) or not _TOKEN_RE.match(value) or len(value) > 64:
        raise InvalidSpec(f"{what} {value!r} must be a short word of letters, digits, '_.+-'")
    return value


# --------------------------------------------------------------------------- metadata


def _ns(tag: str, namespaced: bool) -> str:
    return f"{{{PERSONA_NS}}}{tag}" if namespaced else tag


def metadata_element(md: DomainMetadata, *, namespaced: bool = True) -> ET.Element:
    """The ``<persona:instance>`` element (un-namespaced for ``virDomainSetMetadata``)."""
    root = ET.Element(_ns("instance", namespaced))
    attrs: dict[str, object] = {}
    if md.profile is not None:
        attrs["name"] = v.check_text(md.profile, what="metadata profile", max_len=1024)
    if md.profile_version is not None:
        attrs["version"] = v.check_int(md.profile_version, what="metadata profile version")
    if md.content_hash is not None:
        attrs["hash"] = v.check_text(md.content_hash, what="metadata content hash", max_len=1024)
    if attrs:
        sub(root, _ns("profile", namespaced), **attrs)
    if md.job_id is not None:
        sub(root, _ns("job", namespaced), id=v.check_text(md.job_id, what="metadata job id"))
    for flag in md.execution_flags:
        sub(root, _ns("flag", namespaced), name=v.check_text(flag, what="execution flag"))
    for key, value in md.labels.items():
        sub(
            root,
            _ns("label", namespaced),
            key=v.check_text(key, what="metadata label key", max_len=256),
            value=v.check_text(value, what=f"metadata label {key!r}", max_len=65536),
        )
    for serial, ref in md.volume_keys.items():
        sub(
            root,
            _ns("key", namespaced),
            serial=v.check_text(serial, what="metadata key serial", max_len=256),
            ref=v.check_text(ref, what=f"metadata key_ref of {serial!r}", max_len=256),
        )
    return root


def metadata_xml(md: DomainMetadata) -> str:
    """Un-namespaced XML for ``virDomainSetMetadata`` (libvirt applies the namespace)."""
    return to_string(metadata_element(md, namespaced=False))


def parse_metadata(elem: ET.Element) -> DomainMetadata:
    """Read a ``persona:instance`` element, with or without its namespace."""
    md = DomainMetadata()
    for child in elem:
        tag = local(child.tag)
        if tag == "profile":
            md.profile = child.get("name")
            md.profile_version = to_int(child.get("version"))
            md.content_hash = child.get("hash")
        elif tag == "job":
            md.job_id = child.get("id")
        elif tag == "flag" and child.get("name") is not None:
            md.execution_flags.append(child.get("name", ""))
        elif tag == "label" and child.get("key") is not None:
            md.labels[child.get("key", "")] = child.get("value", "")
        elif tag == "key" and child.get("serial") and child.get("ref"):
            md.volume_keys[child.get("serial", "")] = child.get("ref", "")
    return md


def parse_metadata_xml(xml: str) -> DomainMetadata:
    return parse_metadata(parse(xml, what="domain metadata"))


# --------------------------------------------------------------------------- build


def _disk_element(devices: ET.Element, disk: DiskSpec) -> None:
    v.check_target_dev(disk.target, what="disk target")
    v.check_choice(disk.bus, what=f"disk {disk.target} bus", choices=DISK_BUSES)
    v.check_choice(disk.format, what=f"disk {disk.target} format", choices=DISK_FORMATS)
    v.check_choice(disk.device, what=f"disk {disk.target} device", choices=DISK_DEVICES)
    if disk.readonly and disk.device == "disk" and disk.bus in ("sata", "ide"):
        raise InvalidSpec(f"disk {disk.target}: read-only disks need bus virtio or scsi")
    by_volume = disk.pool is not None or disk.volume is not None
    if by_volume and disk.path is not None:
        raise InvalidSpec(f"disk {disk.target}: give either a path or a pool and volume")
    if by_volume and (disk.pool is None or disk.volume is None):
        raise InvalidSpec(f"disk {disk.target}: a pool source needs both pool and volume")
    if disk.path is None and not by_volume and disk.device != "cdrom":
        raise InvalidSpec(f"disk {disk.target} has no source (path or pool/volume)")
    elem = sub(devices, "disk", type="volume" if by_volume else "file", device=disk.device)
    sub(elem, "driver", name="qemu", type=disk.format)
    source: ET.Element | None = None
    if by_volume:
        source = sub(
            elem,
            "source",
            pool=v.check_name(disk.pool, what=f"disk {disk.target} pool"),
            volume=v.check_name(disk.volume, what=f"disk {disk.target} volume", max_len=255),
        )
    elif disk.path is not None:
        source = sub(elem, "source", file=v.check_path(disk.path, what=f"disk {disk.target} path"))
    sub(elem, "target", dev=disk.target, bus=disk.bus)
    if disk.readonly:
        sub(elem, "readonly")
    if disk.serial is not None:
        if not isinstance(disk.serial, str) or not _SERIAL_RE.match(disk.serial):
            raise InvalidSpec(f"disk {disk.target} serial must be 1-20 of letters, digits, '_-'")
        sub(elem, "serial", disk.serial)
    if disk.encryption_secret_uuid is not None:
        if source is None:
            raise InvalidSpec(f"disk {disk.target}: encryption needs a source")
        enc = sub(source, "encryption", format="luks")
        sub(enc, "secret", type="passphrase", uuid=v.check_uuid(disk.encryption_secret_uuid))
    if disk.iotune is not None:
        iotune = sub(elem, "iotune")
        for name in IOTUNE_FIELDS:
            value = getattr(disk.iotune, name)
            if value is not None:
                sub(iotune, name, v.check_int(value, what=f"disk {disk.target} {name}"))


def _interface_element(devices: ET.Element, nic: InterfaceSpec, index: int) -> None:
    what = f"interface {index}"
    elem = sub(devices, "interface", type="network")
    if nic.mac is not None:
        sub(elem, "mac", address=v.check_mac(nic.mac, what=f"{what} MAC address"))
    sub(
        elem,
        "source",
        network=v.check_name(nic.network, what=f"{what} network"),
        portgroup=None
        if nic.portgroup is None
        else v.check_name(nic.portgroup, what=f"{what} portgroup"),
    )
    sub(elem, "model", type=_token(nic.model, what=f"{what} model"))
    if nic.vlan_tag is not None:
        vlan = sub(elem, "vlan")
        sub(
            vlan,
            "tag",
            id=v.check_int(nic.vlan_tag, what=f"{what} VLAN tag", minimum=1, maximum=4094),
        )
    if nic.filter is not None:
        ref = sub(elem, "filterref", filter=v.check_filter_name(nic.filter, what=f"{what} filter"))
        for key, value in nic.filter_parameters.items():
            if not isinstance(key, str) or not _PARAM_RE.match(key):
                raise InvalidSpec(f"{what} filter parameter name {key!r} is not a variable name")
            text = v.check_filter_value(value, what=f"{what} filter parameter {key}")
            sub(ref, "parameter", name=key, value=text)
    elif nic.filter_parameters:
        raise InvalidSpec(f"{what} has filter parameters but no filter")


def _tunables(root: ET.Element, t: Tunables) -> None:
    if any(x is not None for x in (t.cpu_shares, t.cpu_period, t.cpu_quota)):
        cputune = sub(root, "cputune")
        if t.cpu_shares is not None:
            sub(cputune, "shares", v.check_int(t.cpu_shares, what="cpu shares", minimum=1))
        if t.cpu_period is not None:
            sub(
                cputune,
                "period",
                v.check_int(t.cpu_period, what="cpu period", minimum=1000, maximum=1000000),
            )
        if t.cpu_quota is not None:
            sub(cputune, "quota", v.check_int(t.cpu_quota, what="cpu quota", minimum=-1))
    if t.memory_hard_limit_mib is not None or t.memory_soft_limit_mib is not None:
        memtune = sub(root, "memtune")
        if t.memory_hard_limit_mib is not None:
            hard = v.check_int(t.memory_hard_limit_mib, what="memory hard limit", minimum=1)
            sub(memtune, "hard_limit", hard, unit="MiB")
        if t.memory_soft_limit_mib is not None:
            soft = v.check_int(t.memory_soft_limit_mib, what="memory soft limit", minimum=1)
            sub(memtune, "soft_limit", soft, unit="MiB")
    if t.blkio_weight is not None:
        blkio = sub(root, "blkiotune")
        sub(
            blkio,
            "weight",
            v.check_int(t.blkio_weight, what="blkio weight", minimum=1, maximum=10000),
        )


def _boot(root: ET.Element, spec: DomainSpec) -> None:
    boot = spec.boot
    v.check_choice(boot.firmware, what="firmware", choices=FIRMWARE)
    os_elem = sub(root, "os", firmware="efi" if boot.firmware == "efi" else None)
    sub(
        os_elem,
        "type",
        "hvm",
        arch=_token(spec.arch, what="arch"),
        machine=None if spec.machine is None else _token(spec.machine, what="machine type"),
    )
    if boot.kernel is not None:
        sub(os_elem, "kernel", v.check_path(boot.kernel, what="kernel"))
        if boot.initrd is not None:
            sub(os_elem, "initrd", v.check_path(boot.initrd, what="initrd"))
        if boot.cmdline:  # libvirt drops an empty command line
            cmdline = v.check_text(
                boot.cmdline, what="kernel cmdline", single_line=True, max_len=4096
            )
            sub(os_elem, "cmdline", cmdline)
    elif boot.initrd is not None or boot.cmdline:
        raise InvalidSpec("an initrd or kernel cmdline needs a kernel (direct kernel boot)")
    for dev in boot.devices:
        sub(os_elem, "boot", dev=v.check_choice(dev, what="boot device", choices=BOOT_DEVICES))


def domain_element(spec: DomainSpec) -> ET.Element:
    v.check_choice(spec.domain_type, what="domain type", choices=DOMAIN_TYPES)
    root = ET.Element("domain", type=spec.domain_type)
    sub(root, "name", v.check_name(spec.name, what="domain name"))
    if spec.uuid is not None:
        sub(root, "uuid", v.check_uuid(spec.uuid, what="domain uuid"))
    if spec.description:
        if "\r" in spec.description:
            raise InvalidSpec("domain description must not hold carriage returns")
        sub(root, "description", v.check_text(spec.description, what="domain description"))
    if spec.metadata is not None:
        metadata = sub(root, "metadata")
        metadata.append(metadata_element(spec.metadata))
    memory = v.check_int(spec.memory_mib, what="memory (MiB)", minimum=16, maximum=16 * 1024 * 1024)
    sub(root, "memory", memory, unit="MiB")
    sub(root, "currentMemory", memory, unit="MiB")
    sub(
        root,
        "vcpu",
        v.check_int(spec.vcpus, what="vcpus", minimum=1, maximum=4096),
        placement="static",
    )
    _tunables(root, spec.tunables)
    _boot(root, spec)
    features = sub(root, "features")
    sub(features, "acpi")
    sub(features, "apic")
    if spec.cpu_mode is not None:
        v.check_choice(spec.cpu_mode, what="cpu mode", choices=CPU_MODES)
        if spec.cpu_mode == "custom":
            if spec.cpu_model is None:
                raise InvalidSpec("cpu mode 'custom' needs a cpu model")
            cpu = sub(root, "cpu", mode="custom", match="exact", check="none")
            sub(cpu, "model", _token(spec.cpu_model, what="cpu model"), fallback="forbid")
        else:
            if spec.cpu_model is not None:
                raise InvalidSpec(
                    f"cpu model is only used with cpu mode 'custom', not {spec.cpu_mode!r}"
                )
            sub(root, "cpu", mode=spec.cpu_mode)
    elif spec.cpu_model is not None:
        raise InvalidSpec("a cpu model needs cpu mode 'custom'")
    sub(root, "clock", offset="utc")
    sub(root, "on_poweroff", "destroy")
    sub(root, "on_reboot", "restart")
    sub(root, "on_crash", "destroy")
    devices = sub(root, "devices")
    targets = [d.target for d in spec.disks]
    if len(set(targets)) != len(targets):
        raise InvalidSpec("two disks use the same target")
    if any(d.bus == "scsi" for d in spec.disks):
        sub(devices, "controller", type="scsi", model="virtio-scsi")
    slots = v.check_int(spec.hotplug_slots, what="hot-plug slots", minimum=0, maximum=64)
    if slots and spec.machine and "q35" in spec.machine:
        sub(devices, "controller", type="pci", index="0", model="pcie-root")
        # libvirt places every PCIe device on a root port of its own: the disks, NICs,
        # agent channel, balloon, RNG and USB controller take theirs first.
        wired = len(spec.disks) + len(spec.interfaces) + 5
        for index in range(1, wired + slots + 1):
            sub(devices, "controller", type="pci", index=str(index), model="pcie-root-port")
    for disk in spec.disks:
        _disk_element(devices, disk)
    for index, nic in enumerate(spec.interfaces):
        _interface_element(devices, nic, index)
    if spec.serial_log is not None:
        serial = sub(devices, "serial", type="file")
        sub(serial, "source", path=v.check_path(spec.serial_log, what="serial log path"))
        sub(serial, "target", port=0)
    else:
        serial = sub(devices, "serial", type="pty")
        sub(serial, "target", port=0)
    channel = sub(devices, "channel", type="unix")
    sub(channel, "target", type="virtio", name=AGENT_CHANNEL)
    balloon = sub(devices, "memballoon", model="virtio")
    sub(balloon, "stats", period=5)
    rng = sub(devices, "rng", model="virtio")
    sub(rng, "backend", "/dev/urandom", model="random")
    return root


def domain_xml(spec: DomainSpec) -> str:
    """Validate ``spec`` and return its libvirt domain XML. Raises ``InvalidSpec``."""
    return to_string(domain_element(spec))


# --------------------------------------------------------------------------- parse


def _parse_disk(elem: ET.Element) -> DiskSpec | None:
    device = elem.get("device", "disk")
    if device not in DISK_DEVICES:
        return None
    target = elem.find("target")
    driver = elem.find("driver")
    source = elem.find("source")
    disk = DiskSpec(
        target=target.get("dev", "") if target is not None else "",
        bus=target.get("bus", "virtio") if target is not None else "virtio",
        format=(driver.get("type") if driver is not None else None) or "raw",
        device=device,
        readonly=elem.find("readonly") is not None,
    )
    if source is not None:
        if elem.get("type") == "volume":
            disk.pool = source.get("pool")
            disk.volume = source.get("volume")
        else:
            disk.path = source.get("file") or source.get("dev")
    serial = elem.find("serial")
    if serial is not None:
        disk.serial = serial.text
    for enc in (elem.find("source/encryption"), elem.find("encryption")):
        if enc is not None:
            secret = enc.find("secret")
            if secret is not None:
                disk.encryption_secret_uuid = secret.get("uuid")
    iotune = elem.find("iotune")
    if iotune is not None:
        disk.iotune = DiskIoTune(**{n: to_int(iotune.findtext(n)) for n in IOTUNE_FIELDS})
    return disk


def _parse_interface(elem: ET.Element) -> InterfaceSpec | None:
    source = elem.find("source")
    if source is None or source.get("network") is None:
        return None
    mac = elem.find("mac")
    model = elem.find("model")
    tag = elem.find("vlan/tag")
    nic = InterfaceSpec(
        network=source.get("network", ""),
        portgroup=source.get("portgroup"),
        mac=mac.get("address") if mac is not None else None,
        model=(model.get("type") if model is not None else None) or "virtio",
        vlan_tag=to_int(tag.get("id")) if tag is not None else None,
    )
    ref = elem.find("filterref")
    if ref is not None:
        nic.filter = ref.get("filter")
        nic.filter_parameters = {
            p.get("name", ""): p.get("value", "") for p in ref.findall("parameter")
        }
    return nic


def parse_domain_element(root: ET.Element) -> DomainSpec:
    if root.tag != "domain":
        raise InvalidSpec("domain XML must have a <domain> root element")
    os_type = root.find("os/type")
    memory = size_of(root.find("memory"), default_unit="KiB") or 0
    spec = DomainSpec(
        name=root.findtext("name") or "",
        uuid=root.findtext("uuid"),
        domain_type=root.get("type", "qemu"),
        arch=(os_type.get("arch") if os_type is not None else None) or "x86_64",
        machine=os_type.get("machine") if os_type is not None else None,
        vcpus=to_int(root.findtext("vcpu")) or 1,
        memory_mib=memory // _MIB,
        description=root.findtext("description") or None,
    )
    cpu = root.find("cpu")
    if cpu is not None and (cpu.get("mode") or cpu.find("model") is not None):
        spec.cpu_mode = cpu.get("mode") or "custom"
        spec.cpu_model = cpu.findtext("model") if spec.cpu_mode == "custom" else None
    os_elem = root.find("os")
    if os_elem is not None:
        efi = os_elem.get("firmware") == "efi" or os_elem.find("loader") is not None
        spec.boot = BootSpec(
            kernel=os_elem.findtext("kernel"),
            initrd=os_elem.findtext("initrd"),
            cmdline=os_elem.findtext("cmdline") or None,
            devices=[b.get("dev", "") for b in os_elem.findall("boot")],
            firmware="efi" if efi else "bios",
        )
    md = root.find(f"metadata/{{{PERSONA_NS}}}instance")
    if md is not None:
        spec.metadata = parse_metadata(md)
    t = Tunables(
        cpu_shares=to_int(root.findtext("cputune/shares")),
        cpu_period=to_int(root.findtext("cputune/period")),
        cpu_quota=to_int(root.findtext("cputune/quota")),
        blkio_weight=to_int(root.findtext("blkiotune/weight")),
    )
    hard = size_of(root.find("memtune/hard_limit"), default_unit="KiB")
    soft = size_of(root.find("memtune/soft_limit"), default_unit="KiB")
    t.memory_hard_limit_mib = None if hard is None else hard // _MIB
    t.memory_soft_limit_mib = None if soft is None else soft // _MIB
    spec.tunables = t
    devices = root.find("devices")
    if devices is not None:
        spec.disks = [d for d in (_parse_disk(e) for e in devices.findall("disk")) if d]
        spec.interfaces = [
            n for n in (_parse_interface(e) for e in devices.findall("interface")) if n
        ]
        for serial in devices.findall("serial"):
            if serial.get("type") == "file":
                source = serial.find("source")
                spec.serial_log = source.get("path") if source is not None else None
                break
    return spec


def parse_domain_xml(xml: str) -> DomainSpec:
    """Read a domain XML document into a ``DomainSpec``. Raises ``InvalidSpec``."""
    return parse_domain_element(parse(xml, what="domain XML"))


def disk_xml(disk: DiskSpec) -> str:
    """One ``<disk>`` device, for hot-plugging. Raises ``InvalidSpec``."""
    devices = ET.Element("devices")
    _disk_element(devices, disk)
    return to_string(devices[0])


def interface_xml(nic: InterfaceSpec) -> str:
    """One ``<interface>`` device, for hot-plugging. Raises ``InvalidSpec``."""
    devices = ET.Element("devices")
    _interface_element(devices, nic, 0)
    return to_string(devices[0])


def retarget_disks(xml: str, paths: dict[str, str]) -> str:
    """A copy of a domain XML document whose file disks at the keys of ``paths`` point
    to the values instead (e.g. the destination's paths in a migration's ``dest_xml``).
    Everything else in the document is kept. Raises ``InvalidSpec``."""
    root = parse(xml, what="domain XML")
    if root.tag != "domain":
        raise InvalidSpec("domain XML must have a <domain> root element")
    targets = {old: v.check_path(new, what="new disk path") for old, new in paths.items()}
    for source in root.findall("devices/disk/source"):
        old = source.get("file")
        if old in targets:
            source.set("file", targets[old])
    return to_string(root)
