"""Host capabilities: parsing libvirt's capability documents and judging accelerators.

The parsers are pure functions over XML text, so they are tested against documents
captured from real hosts. ``Hypervisor.capabilities()`` gathers the documents and calls
``assemble_capabilities``.

KVM usability. libvirt lists ``kvm`` whenever ``/dev/kvm`` exists, but on some hosts
(nested virtualisation) KVM guests hang early in boot. ``judge_kvm`` decides, in order:

1. ``declared`` (the platform's own setting) when given;
2. the ``VMPERSONA_KVM_USABLE`` environment variable (``0/false/no`` or ``1/true/yes``);
3. unusable when libvirt does not list ``kvm``;
4. for a local URI, whether ``/dev/kvm`` opens and answers ``KVM_GET_API_VERSION``
   (cheap, but cannot see a guest hang);
5. for a remote URI, usable because libvirt lists it (nothing local to check).

``probe_kvm_boot`` is the explicit, slower check (a few seconds, local hosts only): it
boots the host's kernel under ``-accel kvm`` and reports whether it printed its banner.
TCG (domain type ``qemu``) is always the fallback.
"""

from __future__ import annotations

import fcntl
import glob
import os
import resource
import select
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ._xml import attr, parse, to_int
from .types import (
    Accelerator,
    Capabilities,
    DomainTypeCapabilities,
    HostCpu,
    MachineType,
    NetworkInfo,
    PoolInfo,
)

KVM_ENV = "VMPERSONA_KVM_USABLE"
KVM_DEVICE = "/dev/kvm"
_KVM_GET_API_VERSION = 0xAE00
# Models QEMU's x86 and arm machines always offer; used when domcaps lists none
# (libvirt before 10.x does not report NIC models).
DEFAULT_NIC_MODELS = {
    "x86_64": ["virtio", "e1000", "e1000e", "rtl8139"],
    "i686": ["virtio", "e1000", "e1000e", "rtl8139"],
    "aarch64": ["virtio"],
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_OVS_SOCKETS = ("/run/openvswitch/db.sock", "/var/run/openvswitch/db.sock")


@dataclass
class GuestArch:
    os_type: str
    arch: str
    emulator: str | None
    domain_types: list[str]
    machines: list[MachineType]


@dataclass
class HostCapabilities:
    """The parts of ``virConnectGetCapabilities`` the product uses."""

    uuid: str | None
    cpu: HostCpu
    cpu_count: int | None
    migration_transports: list[str] = field(default_factory=list)
    guests: list[GuestArch] = field(default_factory=list)

    def guest(self, arch: str | None = None, os_type: str = "hvm") -> GuestArch | None:
        arch = arch or self.cpu.arch
        matches = [g for g in self.guests if g.os_type == os_type]
        return next((g for g in matches if g.arch == arch), matches[0] if matches else None)


def version_string(number: int) -> str:
    """libvirt encodes versions as major * 1e6 + minor * 1e3 + micro."""
    return f"{number // 1000000}.{number // 1000 % 1000}.{number % 1000}"


def parse_host_capabilities(xml: str) -> HostCapabilities:
    root = parse(xml, what="capabilities XML")
    cpu = root.find("host/cpu")
    topo = cpu.find("topology") if cpu is not None else None
    host_cpu = HostCpu(
        arch=(cpu.findtext("arch") if cpu is not None else None) or "unknown",
        model=cpu.findtext("model") if cpu is not None else None,
        vendor=cpu.findtext("vendor") if cpu is not None else None,
        features=[f.get("name", "") for f in cpu.findall("feature")] if cpu is not None else [],
        sockets=to_int(topo.get("sockets")) if topo is not None else None,
        cores=to_int(topo.get("cores")) if topo is not None else None,
        threads=to_int(topo.get("threads")) if topo is not None else None,
    )
    cpus = root.findall("host/topology/cells/cell/cpus/cpu")
    guests = []
    for guest in root.findall("guest"):
        arch = guest.find("arch")
        if arch is None:
            continue
        machines = _machines(arch)
        domain_types = []
        for dom in arch.findall("domain"):
            dtype = dom.get("type", "")
            domain_types.append(dtype)
            for m in _machines(dom):  # per-domain-type machines (older libvirt)
                if all(x.name != m.name for x in machines):
                    machines.append(m)
        guests.append(
            GuestArch(
                os_type=guest.findtext("os_type") or "",
                arch=arch.get("name", ""),
                emulator=arch.findtext("emulator"),
                domain_types=domain_types,
                machines=machines,
            )
        )
    return HostCapabilities(
        uuid=root.findtext("host/uuid"),
        cpu=host_cpu,
        cpu_count=len(cpus) or None,
        migration_transports=[
            t.text or ""
            for t in root.findall("host/migration_features/uri_transports/uri_transport")
        ],
        guests=guests,
    )


def _machines(parent: ET.Element) -> list[MachineType]:
    return [
        MachineType(
            name=m.text or "",
            canonical=m.get("canonical"),
            max_cpus=to_int(m.get("maxCpus")),
            deprecated=m.get("deprecated") == "yes",
        )
        for m in parent.findall("machine")
    ]


def _enum(parent: ET.Element | None, name: str) -> list[str]:
    if parent is None:
        return []
    for e in parent.findall("enum"):
        if e.get("name") == name:
            return [x.text or "" for x in e.findall("value")]
    return []


def parse_domain_capabilities(xml: str) -> DomainTypeCapabilities:
    root = parse(xml, what="domain capabilities XML")
    arch = root.findtext("arch") or ""
    caps = DomainTypeCapabilities(
        domain_type=root.findtext("domain") or "",
        emulator=root.findtext("path"),
        machine=root.findtext("machine"),
        max_vcpus=to_int(attr(root, "vcpu", "max")),
    )
    for mode in root.findall("cpu/mode"):
        if mode.get("supported") != "yes":
            continue
        caps.cpu_modes.append(mode.get("name", ""))
        if mode.get("name") == "host-model":
            caps.host_model = mode.findtext("model")
        if mode.get("name") == "custom":
            caps.cpu_models = [
                m.text or "" for m in mode.findall("model") if m.get("usable", "yes") == "yes"
            ]
    disk = root.find("devices/disk")
    if disk is not None and disk.get("supported") == "yes":
        caps.disk_buses = _enum(disk, "bus")
    iface = root.find("devices/interface")
    models = _enum(iface, "model") if iface is not None else []
    caps.nic_models_reported = bool(models)
    caps.nic_models = models or list(DEFAULT_NIC_MODELS.get(arch, ["virtio"]))
    os_elem = root.find("os")
    if os_elem is not None and os_elem.get("supported") == "yes":
        firmware = _enum(os_elem, "firmware")
        if arch in ("x86_64", "i686") and "bios" not in firmware:
            firmware.insert(0, "bios")
        caps.firmware = firmware
        loader = os_elem.find("loader")
        if loader is not None:
            caps.loaders = [x.text or "" for x in loader.findall("value")]
    return caps


def is_local_uri(uri: str) -> bool:
    """True when the URI names a daemon on this machine (no host part, no ssh/tls/tcp)."""
    parts = urlsplit(uri)
    transport = parts.scheme.partition("+")[2]
    return not parts.hostname and transport in ("", "unix")


def _env_flag(environ: Mapping[str, str]) -> bool | None:
    raw = environ.get(KVM_ENV)
    if raw is None or not raw.strip():
        return None
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    return None


def judge_kvm(
    uri: str,
    *,
    listed: bool,
    declared: bool | None = None,
    environ: Mapping[str, str] | None = None,
    device: str = KVM_DEVICE,
) -> Accelerator:
    """Decide whether KVM guests can run (see the module docstring for the order)."""
    if declared is not None:
        word = "usable" if declared else "unusable"
        return Accelerator("kvm", declared, f"declared {word} by the platform")
    env = _env_flag(os.environ if environ is None else environ)
    if env is not None:
        raw = (os.environ if environ is None else environ)[KVM_ENV]
        return Accelerator("kvm", env, f"declared by {KVM_ENV}={raw}")
    if not listed:
        return Accelerator("kvm", False, "libvirt does not offer kvm on this host")
    if not is_local_uri(uri):
        return Accelerator("kvm", True, "offered by libvirt on a remote host (not probed)")
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return Accelerator("kvm", False, f"{device} cannot be opened: {exc.strerror}")
    try:
        api = fcntl.ioctl(fd, _KVM_GET_API_VERSION)
    except OSError as exc:
        return Accelerator("kvm", False, f"{device} does not answer KVM_GET_API_VERSION: {exc}")
    finally:
        os.close(fd)
    if api != 12:
        return Accelerator("kvm", False, f"{device} reports KVM API {api}, expected 12")
    return Accelerator(
        "kvm",
        True,
        f"{device} opens (API 12); guests were not test-booted "
        f"(set {KVM_ENV}=0 or declare it if KVM guests hang)",
    )


def probe_kvm_boot(
    *,
    kernel: str | None = None,
    qemu: str | None = None,
    timeout: float = 15.0,
    accel: str = "kvm",
) -> Accelerator:
    """Boot ``kernel`` (default: the newest ``/boot/vmlinuz-*``) under ``-accel kvm`` on
    this machine and report whether it printed its ``Linux version`` banner in time.

    Explicit and local-only; takes up to ``timeout`` seconds. Use it once per host and
    store the result as the platform's declaration. ``accel='tcg'`` runs the same check
    under software emulation (a control: it should always pass).
    """
    dtype = "kvm" if accel == "kvm" else "qemu"
    label = "KVM" if accel == "kvm" else accel.upper()
    kernels = [kernel] if kernel else sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels or not os.path.exists(kernels[-1]):
        return Accelerator(dtype, False, "no kernel to test-boot")
    binary = qemu or shutil.which("qemu-system-x86_64")
    if not binary:
        return Accelerator(dtype, False, "qemu-system-x86_64 not found")
    argv = [
        binary,
        *("-accel", accel, "-m", "128", "-nodefaults", "-no-reboot", "-display", "none"),
        *("-serial", "stdio", "-kernel", kernels[-1], "-append", "console=ttyS0 panic=-1"),
    ]
    deadline = time.monotonic() + timeout
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    seen = b""
    try:
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                seen = (seen + chunk)[-65536:]
                if b"Linux version" in seen:
                    return Accelerator(dtype, True, f"a test kernel booted under {label}")
            elif proc.poll() is not None:
                break
    finally:
        proc.kill()
        proc.wait()
    last = seen.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    return Accelerator(
        dtype,
        False,
        f"a test kernel did not boot under {label} within {timeout:g}s (last: {last[0][:120]})",
    )


_CAP_SYS_RESOURCE = 24


def memory_hard_limit_ceiling_mib(
    uri: str, *, status_path: str = "/proc/self/status"
) -> int | None:
    """The largest ``memtune`` hard limit a guest can be *started* with, or None for no
    ceiling (or a remote host, which cannot be checked from here).

    libvirt raises QEMU's RLIMIT_MEMLOCK to the domain's hard limit when it starts it.
    Without CAP_SYS_RESOURCE in the capability bounding set (containers) that fails
    above the current hard RLIMIT_MEMLOCK, and the domain does not start at all.
    """
    if not is_local_uri(uri) or uri.startswith("test:"):
        return None
    try:
        with open(status_path) as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        bounding = int(fields["CapBnd"].strip(), 16)
    except (OSError, KeyError, ValueError):
        return None
    if bounding & (1 << _CAP_SYS_RESOURCE):
        return None
    _soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if hard == resource.RLIM_INFINITY:
        return None
    return hard // (1024 * 1024)


def openvswitch_seen(uri: str, networks: list[NetworkInfo]) -> bool:
    """OVS counts as available when a network uses it, or (local hosts) its socket exists."""
    if any(n.openvswitch for n in networks):
        return True
    return is_local_uri(uri) and any(os.path.exists(p) for p in _OVS_SOCKETS)


def assemble_capabilities(
    *,
    uri: str,
    hostname: str,
    driver: str,
    lib_version: int,
    hypervisor_version: int | None,
    host: HostCapabilities,
    domcaps: Mapping[str, DomainTypeCapabilities],
    node_info: list,
    free_memory_bytes: int,
    pools: list[PoolInfo],
    networks: list[NetworkInfo],
    kvm_usable: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> Capabilities:
    """Combine the gathered documents into one ``Capabilities``."""
    guest = host.guest()
    offered = list(guest.domain_types) if guest else []
    accelerators = []
    for dtype in offered:
        if dtype == "kvm":
            accelerators.append(judge_kvm(uri, listed=True, declared=kvm_usable, environ=environ))
        else:
            accelerators.append(Accelerator(dtype, True, "offered by libvirt"))
    usable = [a.domain_type for a in accelerators if a.usable]
    preferred = next((t for t in ("kvm", "qemu") if t in usable), usable[0] if usable else "qemu")
    chosen = domcaps.get(preferred) or DomainTypeCapabilities(domain_type=preferred)
    return Capabilities(
        uri=uri,
        hostname=hostname,
        driver=driver,
        arch=guest.arch if guest else host.cpu.arch,
        libvirt_version=version_string(lib_version),
        hypervisor_version=None
        if hypervisor_version is None
        else version_string(hypervisor_version),
        host_uuid=host.uuid,
        host_cpu=host.cpu,
        cpu_count=int(node_info[2]) if node_info else (host.cpu_count or 0),
        memory_mib=int(node_info[1]) if node_info else 0,
        free_memory_mib=free_memory_bytes // (1024 * 1024),
        accelerators=accelerators,
        domain_type=preferred,
        domain_types=dict(domcaps),
        machines=guest.machines if guest else [],
        emulator=chosen.emulator or (guest.emulator if guest else None),
        cpu_models=chosen.cpu_models,
        cpu_modes=chosen.cpu_modes,
        disk_buses=chosen.disk_buses,
        nic_models=chosen.nic_models,
        firmware=chosen.firmware,
        loaders=chosen.loaders,
        pools=pools,
        networks=networks,
        openvswitch=openvswitch_seen(uri, networks),
        memory_hard_limit_max_mib=memory_hard_limit_ceiling_mib(uri),
        migration_transports=host.migration_transports,
    )
