"""Changes to the adapted domain definition, each returning a sentence for the plan.

Built-in fixes and the ``set`` of a profile's domain fixes both go through these, so a
change reads the same whoever made it. A change that changes nothing returns None.
"""

from __future__ import annotations

import posixpath
import re
import string
from collections.abc import Mapping
from typing import Any

from operations_app.hypervisor.types import DomainSpec

from .differences import DomainState
from .platforms import PlatformView, as_int

_PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "ide": "hd"}
_DEV_RE = re.compile(r"^(?:vd|sd|hd|xvd)([a-z]{1,3})\Z")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")

DOMAIN_SET_KEYS = (
    "accelerator",
    "machine_type",
    "cpu_mode",
    "cpu_model",
    "emulator",
    "firmware",
    "vcpus",
    "memory_mib",
    "disk_bus",
    "storage_pool",
    "storage_path",
    "nic_model",
    "network",
    "portgroup",
)
DISK_KEYS = ("disk_bus", "storage_pool", "storage_path")
INTERFACE_KEYS = ("nic_model", "network", "portgroup")
_CHOICES = {
    "accelerator": ("kvm", "qemu"),
    "cpu_mode": ("host-model", "host-passthrough", "custom", "maximum"),
    "firmware": ("bios", "efi"),
    "disk_bus": ("virtio", "sata", "scsi", "ide"),
}


def _suffixes() -> list[str]:
    letters = string.ascii_lowercase
    return list(letters) + [a + b for a in letters for b in letters]


def device_name(spec: DomainSpec, index: int, bus: str) -> str:
    """The target device name for disk ``index`` on ``bus``: same letters with the bus's
    prefix (``sdb`` -> ``vdb``) when free, else the first free name."""
    prefix = _PREFIX.get(bus, "vd")
    current = spec.disks[index].target
    taken = {d.target for i, d in enumerate(spec.disks) if i != index}
    match = _DEV_RE.match(current or "")
    if match and prefix + match.group(1) not in taken:
        return prefix + match.group(1)
    return next(prefix + s for s in _suffixes() if prefix + s not in taken)


def set_disk_bus(spec: DomainSpec, index: int, bus: str) -> str | None:
    disk = spec.disks[index]
    if disk.bus == bus:
        return None
    old_bus, old_dev = disk.bus, disk.target
    disk.bus = bus
    disk.target = device_name(spec, index, bus)
    renamed = f", now {disk.target}" if disk.target != old_dev else ""
    return f"disk {old_dev}: bus {old_bus} -> {bus}{renamed}"


def set_disk_path(spec: DomainSpec, index: int, path: str) -> str | None:
    disk = spec.disks[index]
    if disk.path is None or disk.path == path:
        return None
    old = disk.path
    disk.path = path
    return f"disk {disk.target}: {old} -> {path}"


def set_disk_pool(spec: DomainSpec, index: int, pool: str) -> str | None:
    disk = spec.disks[index]
    if disk.pool is None or disk.pool == pool:
        return None
    old = disk.pool
    disk.pool = pool
    return f"disk {disk.target}: volume {disk.volume} from pool {old} -> pool {pool}"


def set_interface(spec: DomainSpec, index: int, **values: Any) -> str | None:
    nic = spec.interfaces[index]
    parts = []
    for name, value in values.items():
        old = getattr(nic, name)
        if old != value:
            setattr(nic, name, value)
            label = name.replace("_", " ")
            parts.append(f"{label} {old if old is not None else '(none)'} -> {value}")
    if not parts:
        return None
    return f"interface {nic.mac or index}: " + ", ".join(parts)


def set_cpu(spec: DomainSpec, mode: str | None, model: str | None) -> str | None:
    model = model if mode == "custom" else None
    if (spec.cpu_mode, spec.cpu_model) == (mode, model):
        return None
    old = _cpu_text(spec.cpu_mode, spec.cpu_model)
    spec.cpu_mode, spec.cpu_model = mode, model
    return f"CPU: {old} -> {_cpu_text(mode, model)}"


def _cpu_text(mode: str | None, model: str | None) -> str:
    if mode == "custom":
        return f"custom {model}"
    return mode or "default"


def set_field(spec: DomainSpec, name: str, value: Any, label: str) -> str | None:
    if getattr(spec, name) == value:
        return None
    old = getattr(spec, name)
    setattr(spec, name, value)
    return f"{label}: {old if old is not None else '(default)'} -> {value}"


def _valid(key: str, value: Any) -> bool:
    if key in _CHOICES:
        return value in _CHOICES[key]
    if key == "vcpus":
        return as_int(value) is not None and 1 <= value <= 4096
    if key == "memory_mib":
        return as_int(value) is not None and 16 <= value <= 16 * 1024 * 1024
    if key in ("emulator", "storage_path"):
        return isinstance(value, str) and value.startswith("/") and "\x00" not in value
    return isinstance(value, str) and bool(_NAME_RE.match(value))


def apply_settings(
    state: DomainState,
    settings: Mapping[str, Any],
    *,
    disks: list[int] | None,
    interfaces: list[int] | None,
    target: PlatformView,
) -> tuple[list[str], list[str], set[str]]:
    """Apply a profile fix's ``set`` to the adapted domain.

    Disk settings go to the ``disks`` given (the devices the fix matched), else to every
    disk (``disk_bus``: every disk that is not a CD-ROM); interface settings likewise.
    ``cpu_model`` implies ``cpu_mode`` custom; ``network`` without ``portgroup`` clears
    the portgroup (portgroups belong to a network). ``emulator`` is recorded on the
    state, as the ``DomainSpec`` does not carry one. Returns (changes, notes, applied):
    a note for each key that was ignored and why, and the keys that were not.
    """
    spec = state.spec
    changes: list[str] = []
    notes: list[str] = []
    values = {}
    for key, value in settings.items():
        if key not in DOMAIN_SET_KEYS:
            notes.append(f"unknown setting {key!r} ignored")
        elif not _valid(key, value):
            notes.append(f"setting {key} = {value!r} is not a valid value; ignored")
        else:
            values[key] = value

    def note(change: str | None) -> None:
        if change:
            changes.append(change)

    if "accelerator" in values:
        note(set_field(spec, "domain_type", values["accelerator"], "domain type"))
    if "machine_type" in values:
        note(set_field(spec, "machine", values["machine_type"], "machine type"))
    if "cpu_mode" in values or "cpu_model" in values:
        mode = values.get("cpu_mode", "custom" if "cpu_model" in values else spec.cpu_mode)
        model = values.get("cpu_model", spec.cpu_model if mode == "custom" else None)
        if "cpu_model" in values and mode != "custom":
            notes.append(f"cpu_model is only used with cpu_mode custom, not {mode}; ignored")
        note(set_cpu(spec, mode, model))
    if "emulator" in values and state.emulator != values["emulator"]:
        changes.append(f"emulator: {state.emulator or '(default)'} -> {values['emulator']}")
        state.emulator = values["emulator"]
    if "firmware" in values and spec.boot.firmware != values["firmware"]:
        changes.append(f"firmware: {spec.boot.firmware} -> {values['firmware']}")
        spec.boot.firmware = values["firmware"]
    if "vcpus" in values:
        note(set_field(spec, "vcpus", values["vcpus"], "vCPUs"))
    if "memory_mib" in values:
        note(set_field(spec, "memory_mib", values["memory_mib"], "memory (MiB)"))

    disk_indexes = disks if disks else list(range(len(spec.disks)))
    for i in disk_indexes:
        disk = spec.disks[i]
        if "disk_bus" in values and (disks or disk.device == "disk"):
            note(set_disk_bus(spec, i, values["disk_bus"]))
        if "storage_pool" in values:
            pool = values["storage_pool"]
            if disk.pool is not None:
                note(set_disk_pool(spec, i, pool))
            elif disk.path is not None and "storage_path" not in values:
                directory = target.pool_path(pool)
                if directory is None:
                    notes.append(
                        f"pool {pool} has no known directory on {target.label}; "
                        f"disk {disk.target} left at {disk.path}"
                    )
                else:
                    note(set_disk_path(spec, i, posixpath.join(directory, _base(disk.path))))
        if "storage_path" in values and disk.path is not None:
            note(set_disk_path(spec, i, posixpath.join(values["storage_path"], _base(disk.path))))

    nic_indexes = interfaces if interfaces else list(range(len(spec.interfaces)))
    for i in nic_indexes:
        nic_values: dict[str, Any] = {}
        if "nic_model" in values:
            nic_values["model"] = values["nic_model"]
        if "network" in values:
            nic_values["network"] = values["network"]
            nic_values["portgroup"] = values.get("portgroup")
        elif "portgroup" in values:
            nic_values["portgroup"] = values["portgroup"]
        if nic_values:
            note(set_interface(spec, i, **nic_values))
    return changes, notes, set(values)


def _base(path: str) -> str:
    return posixpath.basename(posixpath.normpath(path))
