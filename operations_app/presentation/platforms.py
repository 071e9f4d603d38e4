"""How a platform reads on its pages: capacity in use, capabilities, constraints, costs.

Pure functions from a platform's fields (its capabilities record, its declared
constraints, the effective capabilities and the utilisation selectors' figures) to the
rows the templates show.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from operations_app.constraints import CONSTRAINT_LIST_KEYS, CONSTRAINTS_SCHEMA
from operations_app.models import Platform
from operations_app.presentation.formatting import mib_text, percent, size_text

CONSTRAINT_LABELS = {
    "machine_types": "Machine types",
    "disk_buses": "Disk buses",
    "nic_models": "NIC models",
    "accelerators": "Accelerators",
    "cpu_modes": "CPU modes",
    "firmware": "Firmware",
}


def utilisation(util: dict[str, Any]) -> dict[str, Any]:
    """The utilisation selectors' figures with percentages and bar widths (at most 100)."""
    vcpu = percent(util["vcpus_allocated"], util["vcpus_total"])
    memory = percent(util["memory_allocated_mib"], util["memory_total_mib"])
    return {
        **util,
        "vcpus_percent": vcpu,
        "vcpus_bar": min(vcpu, 100.0) if vcpu is not None else 0,
        "memory_percent": memory,
        "memory_bar": min(memory, 100.0) if memory is not None else 0,
    }


def vlan_rows(vlan_networks: dict | None) -> list[tuple[str, str]]:
    """(VLAN, network) pairs in VLAN order."""
    return sorted(
        (vlan_networks or {}).items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0
    )


def _reported_values(caps: dict, key: str) -> list[str]:
    if key == "machine_types":
        return [m["name"] for m in caps.get("machines") or []]
    if key == "accelerators":
        return [a["domain_type"] for a in caps.get("accelerators") or [] if a.get("usable")]
    return list(caps.get(key) or [])


def _constraint_text(value: Any, unit: str = "") -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return f"{value}{unit}"


def declared_constraints(constraints: dict) -> list[dict[str, Any]]:
    """The platform's constraints as (key, values or text) rows, notes last."""
    rows = [
        {"key": key, "values": value if isinstance(value, list) else None, "text": str(value)}
        for key, value in constraints.items()
        if key != "notes"
    ]
    if constraints.get("notes"):
        rows.append({"key": "notes", "values": None, "text": str(constraints["notes"])})
    return rows


def constraint_effect(
    capabilities: dict, constraints: dict, effective: dict
) -> list[dict[str, Any]]:
    """One row per capability: what libvirt reports, what the constraints allow and remove."""
    rows: list[dict[str, Any]] = []
    for key in CONSTRAINT_LIST_KEYS:
        reported = _reported_values(capabilities, key)
        allowed = effective.get(key) or []
        rows.append(
            {
                "key": key,
                "label": CONSTRAINT_LABELS.get(key, key),
                "constraint": _constraint_text(constraints.get(key)),
                "effective": allowed,
                "removed": [v for v in reported if v not in allowed],
                "reported_count": len(reported),
            }
        )
    for key, label, reported_key, unit in (
        ("max_vcpus", "Max vCPUs", "cpu_count", ""),
        ("max_memory_mib", "Max memory", "memory_mib", " MiB"),
    ):
        host_value = capabilities.get(reported_key)
        limit = effective.get(key)
        rows.append(
            {
                "key": key,
                "label": label,
                "constraint": _constraint_text(constraints.get(key), unit),
                "effective": [f"{limit}{unit}"] if limit else [],
                "removed": [],
                "note": f"the host has {host_value}{unit}; capped at {limit}{unit}"
                if host_value and limit and limit < host_value
                else "",
                "reported_count": 1 if host_value else 0,
                "scalar": True,
            }
        )
    return rows


def constraint_help() -> list[tuple[str, str]]:
    """(key, what it takes) for each constraint, from the constraints' JSON Schema."""
    rows = []
    for key, spec in CONSTRAINTS_SCHEMA["properties"].items():
        if spec.get("type") == "array":
            choices = (spec.get("items") or {}).get("enum")
            meaning = "a list of " + (", ".join(choices) if choices else "names")
        elif spec.get("type") == "integer":
            meaning = f"a whole number of at least {spec.get('minimum', 0)}"
        else:
            meaning = "text: why these rules exist"
        rows.append((key, meaning))
    return rows


def capability_sizes(caps: dict) -> dict[str, Any]:
    """Byte and MiB figures of a capabilities record, formatted for reading."""
    pools = []
    for pool in caps.get("pools") or []:
        capacity = pool.get("capacity_bytes") or 0
        available = pool.get("available_bytes") or 0
        pools.append(
            {
                **pool,
                "capacity": size_text(capacity),
                "free": size_text(available),
                "used_percent": percent(capacity - available, capacity),
            }
        )
    return {
        "memory": mib_text(caps.get("memory_mib")),
        "free_memory": mib_text(caps.get("free_memory_mib")),
        "pools": pools,
    }


def _rate(value: Decimal | None) -> str:
    """A cost rate without trailing zeros: 0.012, not 0.01200."""
    return format(value.normalize(), "f") if value is not None else "0"


def platform_costs(platform: Platform) -> list[tuple[str, str]]:
    """The platform's cost rates, each with what it is charged for."""
    return [
        ("vCPU-hour", _rate(platform.cost_vcpu_hour)),
        ("GiB RAM-hour", _rate(platform.cost_ram_gib_hour)),
        ("GiB storage-month", _rate(platform.cost_storage_gib_month)),
    ]
