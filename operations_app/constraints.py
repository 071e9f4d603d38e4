"""Constraints a platform declares on top of what libvirt reports.

Real estates differ: one cluster only runs q35 machines, another forbids IDE disks or
non-virtio NICs. A platform's ``constraints`` say so, and the effective capabilities
(what a VM may use there) are libvirt's capabilities narrowed by them. The migration
adaptation layer compares effective capabilities, so declared constraints are real
differences it must resolve.

Format (every key optional)::

    {
      "machine_types": ["q35"],          # allowed machine families or exact names
      "disk_buses": ["virtio", "scsi"],  # allowed disk buses
      "nic_models": ["virtio"],          # allowed NIC models
      "accelerators": ["qemu"],          # allowed domain types (kvm, qemu)
      "cpu_modes": ["host-model", "custom"],
      "firmware": ["bios"],              # bios, efi
      "max_vcpus": 8,
      "max_memory_mib": 16384,
      "notes": "why these rules exist"
    }
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema

_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True}

CONSTRAINTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "machine_types": _LIST,
        "disk_buses": {**_LIST, "items": {"enum": ["virtio", "sata", "scsi", "ide", "usb"]}},
        "nic_models": {**_LIST, "items": {"enum": ["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3"]}},
        "accelerators": {**_LIST, "items": {"enum": ["kvm", "qemu"]}},
        "cpu_modes": {**_LIST, "items": {"enum": ["host-model", "host-passthrough", "custom", "maximum"]}},
        "firmware": {**_LIST, "items": {"enum": ["bios", "efi"]}},
        "max_vcpus": {"type": "integer", "minimum": 1},
        "max_memory_mib": {"type": "integer", "minimum": 16},
        "notes": {"type": "string"},
    },
}

CONSTRAINT_LIST_KEYS = ("machine_types", "disk_buses", "nic_models", "accelerators", "cpu_modes", "firmware")


@dataclass(frozen=True)
class ConstraintError:
    path: str
    message: str


def constraint_errors(constraints: Any) -> list[ConstraintError]:
    validator = jsonschema.Draft202012Validator(CONSTRAINTS_SCHEMA)
    errors = []
    for err in validator.iter_errors(constraints):
        pointer = "".join(f"/{p}" for p in err.absolute_path)
        if err.validator == "additionalProperties":
            known = ", ".join(sorted(CONSTRAINTS_SCHEMA["properties"]))
            message = f"unknown constraint; known ones are {known}"
        else:
            message = err.message
        errors.append(ConstraintError(pointer, message))
    return sorted(errors, key=lambda e: e.path)


def machine_allowed(machine: str, allowed: list[str] | None) -> bool:
    """``q35`` allows ``q35``, ``pc-q35-7.2``; ``pc`` allows ``pc-i440fx-*`` and ``pc``."""
    if not allowed:
        return True
    for rule in allowed:
        if machine == rule:
            return True
        if rule == "q35" and "q35" in machine:
            return True
        if rule in ("pc", "i440fx") and (machine == "pc" or "i440fx" in machine):
            return True
    return False


def effective_capabilities(capabilities: dict, constraints: dict) -> dict:
    """What a VM may use on the platform: reported capabilities narrowed by constraints."""
    caps = dict(capabilities or {})
    constraints = constraints or {}
    narrowed: dict[str, Any] = {}
    for key, cap_key in (
        ("disk_buses", "disk_buses"),
        ("nic_models", "nic_models"),
        ("accelerators", "usable_accelerators"),
        ("cpu_modes", "cpu_modes"),
        ("firmware", "firmware"),
    ):
        reported = list(caps.get(cap_key) or [])
        allowed = constraints.get(key)
        narrowed[key] = [v for v in reported if v in allowed] if allowed else reported
    machines = list(caps.get("machine_types") or [])
    narrowed["machine_types"] = [m for m in machines if machine_allowed(m, constraints.get("machine_types"))]
    cpus = caps.get("cpus") or 0
    narrowed["max_vcpus"] = min(x for x in (constraints.get("max_vcpus"), cpus or None) if x) if (constraints.get("max_vcpus") or cpus) else None
    memory = caps.get("memory_mib") or 0
    narrowed["max_memory_mib"] = min(x for x in (constraints.get("max_memory_mib"), memory or None) if x) if (constraints.get("max_memory_mib") or memory) else None
    return narrowed
