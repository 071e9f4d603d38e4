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
      "cpu_overcommit": 4,               # vCPUs placed per host CPU (default 4)
      "memory_overcommit": 1,            # memory placed per MiB of host memory (default 1)
      "storage_overcommit": 1,           # disks' virtual size per byte of pool (default 1)
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
        "nic_models": {
            **_LIST,
            "items": {"enum": ["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3"]},
        },
        "accelerators": {**_LIST, "items": {"enum": ["kvm", "qemu"]}},
        "cpu_modes": {
            **_LIST,
            "items": {"enum": ["host-model", "host-passthrough", "custom", "maximum"]},
        },
        "firmware": {**_LIST, "items": {"enum": ["bios", "efi"]}},
        "max_vcpus": {"type": "integer", "minimum": 1},
        "max_memory_mib": {"type": "integer", "minimum": 16},
        "cpu_overcommit": {"type": "number", "exclusiveMinimum": 0, "maximum": 64},
        "memory_overcommit": {"type": "number", "exclusiveMinimum": 0, "maximum": 4},
        "storage_overcommit": {"type": "number", "exclusiveMinimum": 0, "maximum": 20},
        "notes": {"type": "string"},
    },
}

CONSTRAINT_LIST_KEYS = (
    "machine_types",
    "disk_buses",
    "nic_models",
    "accelerators",
    "cpu_modes",
    "firmware",
)


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
            extra = (
                sorted(set(err.instance) - set(CONSTRAINTS_SCHEMA["properties"]))
                if isinstance(err.instance, dict)
                else []
            )
            message = (
                f"unknown constraint {', '.join(repr(k) for k in extra)}; known ones are {known}"
            )
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
    """What a VM may use on the platform: reported capabilities narrowed by constraints.

    ``capabilities`` is ``Capabilities.to_dict()`` as stored on the platform.
    """
    caps = capabilities or {}
    constraints = constraints or {}
    usable = [a["domain_type"] for a in caps.get("accelerators") or [] if a.get("usable")]
    reported = {
        "disk_buses": list(caps.get("disk_buses") or []),
        "nic_models": list(caps.get("nic_models") or []),
        "accelerators": usable,
        "cpu_modes": list(caps.get("cpu_modes") or []),
        "firmware": list(caps.get("firmware") or []),
    }
    narrowed: dict[str, Any] = {}
    for key, values in reported.items():
        allowed = constraints.get(key)
        narrowed[key] = [v for v in values if v in allowed] if allowed else values
    machines = [m["name"] for m in caps.get("machines") or []]
    narrowed["machine_types"] = [
        m for m in machines if machine_allowed(m, constraints.get("machine_types"))
    ]
    limits = [v for v in (constraints.get("max_vcpus"), caps.get("cpu_count")) if v]
    narrowed["max_vcpus"] = min(limits) if limits else None
    limits = [v for v in (constraints.get("max_memory_mib"), caps.get("memory_mib")) if v]
    narrowed["max_memory_mib"] = min(limits) if limits else None
    return narrowed
