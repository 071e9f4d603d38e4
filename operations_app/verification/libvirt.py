"""What libvirt reports for a provisioned domain, against the plan: ``LIBVIRT_CHECKS``.

``LibvirtFacts`` holds both sides, read beforehand (``services.verification`` reads the
domain); the table says what is compared and how; ``libvirt_checks`` evaluates it.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from operations_app.hypervisor.types import (
    DiskIoTune,
    DomainInfo,
    DomainSpec,
    FirewallRule,
    Tunables,
    VolumeInfo,
)

from .table import Check, Compared, Each, at_least, evaluate, never, show_value


@dataclass
class LibvirtFacts:
    # Expected: from the profile and the job's plan.
    vcpus: Any
    memory_mib: Any
    profile: str
    profile_version: int
    content_hash: str
    label: str
    image_id: str
    base_image_path: str | None  # None: the image has no copy on the platform
    tunables: Tunables
    disk_iotune: DiskIoTune | None
    volumes: list[dict]
    interfaces: list[dict]
    filter_name: str | None
    firewall_rules: list[FirewallRule]
    # Actual: read from libvirt.
    spec: DomainSpec
    info: DomainInfo
    root_backing: str | None  # backing file of the root disk (None: none, or unreadable)
    live: Tunables
    disk_iotunes: dict[str, dict] = field(default_factory=dict)  # target -> as read
    volume_infos: dict[str, VolumeInfo | None] = field(default_factory=dict)  # None: missing
    volume_secrets: dict[str, bool] = field(default_factory=dict)  # secret defined
    filter_rules: list[FirewallRule] | None = None  # None: the filter could not be read
    filter_error: str | None = None  # why the filter could not be read


def _stamp(f: LibvirtFacts, _: Any) -> tuple:
    return (f.profile, f.profile_version, f.content_hash, f.label)


def _domain_stamp(f: LibvirtFacts, _: Any) -> tuple | None:
    meta = f.info.metadata
    return (meta.profile, meta.profile_version, meta.content_hash) if meta else None


def _iotune_disks(f: LibvirtFacts) -> list[str]:
    if f.disk_iotune is None:
        return []
    return [d.target for d in f.spec.disks if d.device == "disk"]


def _iotune_wanted(f: LibvirtFacts, _: Any) -> dict:
    assert f.disk_iotune is not None
    return {k: v for k, v in f.disk_iotune.to_dict().items() if v is not None}


def _iotune_got(f: LibvirtFacts, target: str) -> dict:
    got = f.disk_iotunes.get(target, {})
    return {k: got.get(k) for k in _iotune_wanted(f, None)}


def _present(f: LibvirtFacts, vol: dict) -> bool:
    return f.volume_infos.get(vol["volume"]) is not None


def _attached(f: LibvirtFacts, vol: dict) -> str:
    info = f.volume_infos[vol["volume"]]
    assert info is not None
    return "attached" if any(d.path == info.path for d in f.spec.disks) else "not attached"


def _encryption(f: LibvirtFacts, vol: dict) -> tuple[str, bool]:
    info = f.volume_infos[vol["volume"]]
    assert info is not None
    got = (info.encryption_format or "luks") if info.encrypted else "none"
    return got, (f.volume_secrets.get(vol["volume"], False) if vol["encrypted"] else True)


def _nic(f: LibvirtFacts, nic: dict) -> tuple | None:
    iface = next((i for i in f.spec.interfaces if (i.mac or "").lower() == nic["mac"]), None)
    return (iface.network, iface.model, iface.filter) if iface else None


def _nic_text(value: tuple | None) -> str:
    return f"{value[0]} {value[1]} filter={value[2]}" if value else "absent"


def _tunable(attr: str):
    return Compared[LibvirtFacts](
        "resources",
        f"/resource_allocation/limits/{attr}",
        {"cpu_shares": "CPU shares", "memory_hard_limit_mib": "memory hard limit (MiB)"}[attr],
        expected=lambda f, _: getattr(f.tunables, attr),
        actual=lambda f, _: getattr(f.live, attr),
        when=lambda f, _: getattr(f.tunables, attr) is not None,
    )


def _cidr_key(cidr: str | None) -> str | None:
    if cidr is None:
        return None
    try:
        return str(ipaddress.ip_interface(cidr.strip()))  # "10.0.0.5" == "10.0.0.5/32"
    except ValueError:
        return cidr


def rule_key(rule: FirewallRule) -> tuple:
    """What a rule does, spelt one way: as the profile asks and as libvirt reads back."""
    return (
        rule.direction,
        rule.action,
        rule.protocol,
        rule.port,
        rule.port_end if rule.port_end != rule.port else None,
        _cidr_key(rule.source_cidr),
        _cidr_key(rule.dest_cidr),
        int(rule.priority),
        rule.comment or None,
    )


def _rule_text(key: tuple) -> str:
    direction, action, protocol, port, port_end, src, dst, priority, comment = key
    text = f"{action} {direction} {protocol}"
    if port is not None:
        text += f" port {port}" + (f"-{port_end}" if port_end is not None else "")
    if src:
        text += f" from {src}"
    if dst:
        text += f" to {dst}"
    text += f" priority {priority}"
    return text + (f" ({comment})" if comment else "")


def _expected_rules(f: LibvirtFacts) -> list[tuple[int, tuple, bool]]:
    """(index, key, found) for each rule the profile asks for; each rule found in the
    filter is matched once, so a duplicate asked for twice must be there twice."""
    left = Counter(rule_key(r) for r in f.filter_rules or [])
    out = []
    for index, rule in enumerate(f.firewall_rules):
        key = rule_key(rule)
        found = left[key] > 0
        if found:
            left[key] -= 1
        out.append((index, key, found))
    return out


def _unexpected_rules(f: LibvirtFacts) -> list[tuple]:
    left = Counter(rule_key(r) for r in f.filter_rules or [])
    left.subtract(rule_key(r) for r in f.firewall_rules)
    return sorted((k for k, n in left.items() for _ in range(n)), key=str)


def _quota(t: Tunables) -> tuple:
    return (t.cpu_quota, t.cpu_period)


LIBVIRT_CHECKS = (
    Compared[LibvirtFacts](
        "resources",
        "/resource_allocation/vcpus",
        "vCPUs",
        expected=lambda f, _: f.vcpus,
        actual=lambda f, _: f.spec.vcpus,
        how=lambda want, got: got == int(want),
    ),
    Compared[LibvirtFacts](
        "resources",
        "/resource_allocation/memory_mib",
        "memory (MiB)",
        expected=lambda f, _: f.memory_mib,
        actual=lambda f, _: f.spec.memory_mib,
        how=lambda want, got: got == int(want),
    ),
    Compared[LibvirtFacts](
        "base_image",
        "/base_image_id",
        "domain running",
        expected=lambda f, _: "running",
        actual=lambda f, _: f.info.state.value,
    ),
    Compared[LibvirtFacts](
        "base_image",
        "/",
        "profile metadata on the domain",
        expected=_stamp,
        actual=_domain_stamp,
        how=lambda want, got: got is not None and got == want[:3],
        show=lambda want: f"{want[3]} {want[2][:12]}",
        show_actual=lambda got: f"{got[0]}@{got[1]} {(got[2] or '')[:12]}" if got else "none",
    ),
    Compared[LibvirtFacts](
        "base_image",
        "/base_image_id",
        lambda f, _: f"root disk backed by {f.image_id}",
        expected=lambda f, _: f.base_image_path,
        actual=lambda f, _: f.root_backing,
        how=lambda want, got: want is not None and got is not None and got == want,
        show=lambda want: want if want is not None else "?",
        show_actual=lambda got: got or "none",
    ),
    _tunable("cpu_shares"),
    Compared[LibvirtFacts](
        "resources",
        "/resource_allocation/limits",
        "CPU quota per vCPU (µs per period)",
        expected=lambda f, _: _quota(f.tunables),
        actual=lambda f, _: _quota(f.live),
        show=lambda q: f"{q[0]}/{q[1]}",
        when=lambda f, _: f.tunables.cpu_quota is not None,
    ),
    _tunable("memory_hard_limit_mib"),
    Each[LibvirtFacts](
        _iotune_disks,
        [
            Compared[LibvirtFacts](
                "resources",
                "/resource_allocation/limits",
                lambda f, target: f"disk {target} I/O limits",
                expected=_iotune_wanted,
                actual=_iotune_got,
                show=show_value,
            )
        ],
    ),
    Each[LibvirtFacts](
        lambda f: f.volumes,
        [
            Compared[LibvirtFacts](
                "data_volumes",
                lambda f, vol: vol["pointer"],
                lambda f, vol: f"volume {vol['name']} exists",
                expected=lambda f, vol: "present",
                actual=lambda f, vol: "missing",
                how=never,
                when=lambda f, vol: not _present(f, vol),
            ),
            Compared[LibvirtFacts](
                "data_volumes",
                lambda f, vol: vol["pointer"],
                lambda f, vol: f"volume {vol['name']} attached",
                expected=lambda f, vol: "attached",
                actual=_attached,
                when=_present,
            ),
            Compared[LibvirtFacts](
                "data_volumes",
                lambda f, vol: f"{vol['pointer']}/size_gib",
                lambda f, vol: f"volume {vol['name']} size (bytes)",
                expected=lambda f, vol: vol["size_bytes"],
                actual=lambda f, vol: f.volume_infos[vol["volume"]].capacity_bytes,  # type: ignore[union-attr]
                how=at_least,
                when=_present,
            ),
            Compared[LibvirtFacts](
                "data_volumes",
                lambda f, vol: f"{vol['pointer']}/encryption",
                lambda f, vol: f"volume {vol['name']} encryption",
                expected=lambda f, vol: "luks" if vol["encrypted"] else "none",
                actual=_encryption,
                how=lambda want, got: want == got[0] and got[1],
                show_actual=lambda got: got[0] + ("" if got[1] else " (secret missing)"),
                when=_present,
            ),
        ],
    ),
    Each[LibvirtFacts](
        lambda f: f.interfaces,
        [
            Compared[LibvirtFacts](
                "network",
                lambda f, nic: nic["pointer"],
                lambda f, nic: f"NIC {nic['mac']} on {nic['network']}",
                expected=lambda f, nic: (nic["network"], nic["model"], f.filter_name),
                actual=_nic,
                how=lambda want, got: got is not None and got == want,
                show=_nic_text,
            )
        ],
    ),
    Each[LibvirtFacts](
        lambda f: _expected_rules(f) if f.filter_name and f.filter_rules is not None else [],
        [
            Compared[LibvirtFacts](
                "network",
                lambda f, r: f"/network_configuration/firewall_rules/{r[0]}",
                lambda f, r: f"firewall rule {r[0]} in {f.filter_name}",
                expected=lambda f, r: r[1],
                actual=lambda f, r: r[1] if r[2] else None,
                show=lambda key: _rule_text(key) if key else "absent",
            )
        ],
    ),
    Compared[LibvirtFacts](
        "network",
        "/network_configuration/firewall_rules",
        lambda f, _: f"firewall filter {f.filter_name}: no other rules",
        expected=lambda f, _: [],
        actual=lambda f, _: _unexpected_rules(f),
        show=lambda keys: "; ".join(_rule_text(k) for k in keys) if keys else "none",
        when=lambda f, _: bool(f.filter_name) and f.filter_rules is not None,
    ),
    Compared[LibvirtFacts](
        "network",
        "/network_configuration/firewall_rules",
        lambda f, _: f"firewall filter {f.filter_name}",
        expected=lambda f, _: "defined",
        actual=lambda f, _: f"missing: {f.filter_error}",
        how=never,
        when=lambda f, _: bool(f.filter_name) and f.filter_rules is None,
    ),
)


def libvirt_checks(facts: LibvirtFacts) -> list[Check]:
    """The checks of ``LIBVIRT_CHECKS`` over ``facts``, in table order."""
    return evaluate(LIBVIRT_CHECKS, facts, source="libvirt")


__all__ = ["LIBVIRT_CHECKS", "LibvirtFacts", "libvirt_checks"]
