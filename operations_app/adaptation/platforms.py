"""The source and target platforms as the adaptation layer sees them.

``PlatformView`` is the part of a ``Platform`` row the comparison needs (its stored
capabilities, declared constraints, storage pool, networks and VLAN mapping); it is
built from a model instance, a mapping or another view, so nothing here touches the
database. ``Offer`` is what a platform offers a domain of one type (``kvm`` or
``qemu``) once its declared constraints are applied: the lists of
``operations_app.constraints.effective_capabilities``, taken from that domain type's
own capabilities, and ``None`` wherever the platform reported nothing (capabilities
never refreshed), meaning "unknown, do not judge".
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from operations_app.constraints import (
    CONSTRAINT_LIST_KEYS,
    effective_capabilities,
    machine_allowed,
)

# Buses and NIC models in the order the built-in fixes prefer them. Only these four
# buses can be written into a domain definition.
DISK_BUSES = ("virtio", "scsi", "sata", "ide")
NIC_MODELS = ("virtio", "e1000e", "e1000", "rtl8139")
_MACHINE_FAMILIES = ("q35", "pc")


def strs(value: object) -> list[str]:
    """The strings of a list (anything else: none)."""
    if not isinstance(value, list | tuple):
        return []
    return [v for v in value if isinstance(v, str)]


def as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def machine_family(name: str | None) -> str | None:
    """``q35`` for q35 machines, ``pc`` for i440fx ones, None for anything else."""
    if not name:
        return None
    if "q35" in name:
        return "q35"
    if name == "pc" or "i440fx" in name:
        return "pc"
    return None


def same_dir(path: str, directory: str) -> bool:
    """Whether ``path`` lies directly in ``directory`` (where a dir pool sees volumes)."""
    return posixpath.dirname(posixpath.normpath(path)) == posixpath.normpath(directory)


@dataclass(frozen=True)
class PlatformView:
    """The platform facts the adaptation layer reads; see ``PlatformView.of``."""

    name: str = ""
    capabilities: Mapping[str, Any] = field(default_factory=dict)
    constraints: Mapping[str, Any] = field(default_factory=dict)
    storage_pool: str | None = None
    networks: tuple[str, ...] = ()
    vlan_networks: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, platform: object) -> PlatformView:
        """A view of a ``Platform`` row, a mapping with the same keys, or a view.

        ``capabilities`` may be ``Capabilities.to_dict()`` or a ``Capabilities``.
        """
        if isinstance(platform, PlatformView):
            return platform
        if isinstance(platform, Mapping):
            get = platform.get
        else:

            def get(key: str, default: object = None) -> object:
                return getattr(platform, key, default)

        caps = get("capabilities")
        if caps is not None and hasattr(caps, "to_dict") and not isinstance(caps, Mapping):
            caps = caps.to_dict()
        constraints = get("constraints")
        vlans = get("vlan_networks")
        pool = get("storage_pool")
        name = get("name")
        return cls(
            name=name if isinstance(name, str) else "",
            capabilities=dict(caps) if isinstance(caps, Mapping) else {},
            constraints=dict(constraints) if isinstance(constraints, Mapping) else {},
            storage_pool=pool if isinstance(pool, str) and pool else None,
            networks=tuple(strs(get("networks"))),
            vlan_networks={
                str(k): v for k, v in (vlans.items() if isinstance(vlans, Mapping) else ()) if v
            },
        )

    @property
    def label(self) -> str:
        return self.name or str(self.capabilities.get("hostname") or "") or "the platform"

    # ------------------------------------------------------------------ raw facts

    def domain_type_caps(self, domain_type: str) -> Mapping[str, Any]:
        """Capabilities of one domain type (the top level when the type is not listed)."""
        types = self.capabilities.get("domain_types")
        if isinstance(types, Mapping) and isinstance(types.get(domain_type), Mapping):
            return types[domain_type]
        return self.capabilities

    def machines(self) -> list[Mapping[str, Any]]:
        return [
            m
            for m in self.capabilities.get("machines") or []
            if isinstance(m, Mapping) and isinstance(m.get("name"), str)
        ]

    def canonical_machine(self, name: str) -> str | None:
        for m in self.machines():
            if m["name"] == name:
                canonical = m.get("canonical")
                return canonical if isinstance(canonical, str) and canonical else name
        return None

    def network_info(self, name: str) -> Mapping[str, Any] | None:
        for net in self.capabilities.get("networks") or []:
            if isinstance(net, Mapping) and net.get("name") == name:
                return net
        return None

    def portgroups(self, network: str) -> dict[str, list[int]] | None:
        """Portgroup name -> VLAN tags of ``network``, or None when it is unknown."""
        net = self.network_info(network)
        if net is None:
            return None
        groups: dict[str, list[int]] = {}
        for pg in net.get("portgroups") or []:
            if isinstance(pg, Mapping) and isinstance(pg.get("name"), str):
                groups[pg["name"]] = [t for t in pg.get("vlan_tags") or [] if as_int(t)]
        return groups

    def offered_networks(self) -> list[str] | None:
        """Networks VMs may join: the platform's list, else libvirt's; None when unknown."""
        if self.networks:
            return list(self.networks)
        names = [
            n["name"]
            for n in self.capabilities.get("networks") or []
            if isinstance(n, Mapping) and isinstance(n.get("name"), str)
        ]
        return names or None

    def pool_path(self, pool: str | None) -> str | None:
        for p in self.capabilities.get("pools") or []:
            if isinstance(p, Mapping) and p.get("name") == pool and isinstance(p.get("path"), str):
                return p["path"]
        return None

    def vlan_of_network(self, network: str) -> int | None:
        """The VLAN this platform maps to ``network`` (one bridge per VLAN), if any."""
        for vlan, name in self.vlan_networks.items():
            if name == network and str(vlan).isdigit():
                return int(vlan)
        return None

    def openvswitch(self) -> bool:
        return bool(self.capabilities.get("openvswitch"))

    def host_cpu_model(self) -> str | None:
        cpu = self.capabilities.get("host_cpu")
        model = cpu.get("model") if isinstance(cpu, Mapping) else None
        return model if isinstance(model, str) else None

    def _clean_constraints(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = {k: strs(self.constraints.get(k)) for k in CONSTRAINT_LIST_KEYS}
        for key in ("max_vcpus", "max_memory_mib"):
            if as_int(self.constraints.get(key)):
                cleaned[key] = self.constraints[key]
        return {k: v for k, v in cleaned.items() if v}

    # ------------------------------------------------------------------ effective offer

    def offer(self, domain_type: str) -> Offer:
        """What this platform offers a domain of ``domain_type``, constraints applied."""
        caps = self.capabilities
        typed = self.domain_type_caps(domain_type)
        constraints = self._clean_constraints()
        reported = {
            key: strs(typed.get(key)) or strs(caps.get(key))
            for key in ("disk_buses", "nic_models", "cpu_modes", "firmware")
        }
        accelerators = [
            a
            for a in caps.get("accelerators") or []
            if isinstance(a, Mapping) and isinstance(a.get("domain_type"), str)
        ]
        clean_caps = {
            **reported,
            "accelerators": [
                {"domain_type": a["domain_type"], "usable": bool(a.get("usable"))}
                for a in accelerators
            ],
            "machines": self.machines(),
            "cpu_count": as_int(caps.get("cpu_count")),
            "memory_mib": as_int(caps.get("memory_mib")),
        }
        eff = effective_capabilities(clean_caps, constraints)

        def known(key: str, reported_list: list) -> list[str] | None:
            if reported_list:
                return list(eff[key])
            return list(constraints[key]) if constraints.get(key) else None

        machines = self.machines()
        max_vcpus = [v for v in (eff["max_vcpus"], as_int(typed.get("max_vcpus"))) if v]
        cpu_models = strs(typed.get("cpu_models")) or strs(caps.get("cpu_models"))
        host_model = typed.get("host_model")
        emulator = typed.get("emulator") or caps.get("emulator")
        emulators = {
            e
            for e in [caps.get("emulator")]
            + [
                t.get("emulator")
                for t in (caps.get("domain_types") or {}).values()
                if isinstance(t, Mapping)
            ]
            if isinstance(e, str) and e
        }
        default_machine = typed.get("machine")
        return Offer(
            platform=self,
            domain_type=domain_type,
            accelerators=known("accelerators", accelerators),
            machines=list(eff["machine_types"]) if machines else None,
            machine_rules=list(constraints.get("machine_types") or []),
            deprecated={m["name"] for m in machines if m.get("deprecated")},
            machine_max_cpus={
                m["name"]: m["max_cpus"] for m in machines if as_int(m.get("max_cpus"))
            },
            default_machine=default_machine if isinstance(default_machine, str) else None,
            disk_buses=known("disk_buses", reported["disk_buses"]),
            nic_models=known("nic_models", reported["nic_models"]),
            cpu_modes=known("cpu_modes", reported["cpu_modes"]),
            firmware=known("firmware", reported["firmware"]),
            cpu_models=cpu_models or None,
            host_model=host_model if isinstance(host_model, str) else None,
            emulator=emulator if isinstance(emulator, str) else None,
            emulators=emulators,
            max_vcpus=min(max_vcpus) if max_vcpus else None,
            max_memory_mib=eff["max_memory_mib"],
            memory_hard_limit_max_mib=as_int(caps.get("memory_hard_limit_max_mib")),
            arch=caps.get("arch") if isinstance(caps.get("arch"), str) else None,
        )


@dataclass
class Offer:
    """What one platform offers a domain of one type; ``None`` lists are unknown."""

    platform: PlatformView
    domain_type: str
    accelerators: list[str] | None
    machines: list[str] | None
    machine_rules: list[str]
    deprecated: set[str]
    machine_max_cpus: dict[str, int]
    default_machine: str | None
    disk_buses: list[str] | None
    nic_models: list[str] | None
    cpu_modes: list[str] | None
    firmware: list[str] | None
    cpu_models: list[str] | None
    host_model: str | None
    emulator: str | None
    emulators: set[str]
    max_vcpus: int | None
    max_memory_mib: int | None
    memory_hard_limit_max_mib: int | None
    arch: str | None

    def landing_type(self, domain_type: str) -> str:
        """The domain type a domain of ``domain_type`` runs with here: its own when usable,
        else the platform's preferred usable type (kvm before qemu)."""
        accels = self.accelerators
        if accels is None or domain_type in accels:
            return domain_type
        preferred = self.platform.capabilities.get("domain_type")
        for candidate in (preferred, "kvm", "qemu"):
            if candidate in accels:
                return str(candidate)
        return accels[0] if accels else domain_type

    def machine_ok(self, name: str) -> bool:
        """Allowed by the constraints and known to the platform's QEMU (when listed)."""
        if not machine_allowed(name, self.machine_rules):
            return False
        return self.machines is None or name in self.machines

    def choose_machine(self, current: str | None) -> str | None:
        """The machine type a domain using ``current`` should get here: the same family's
        alias (``q35``, ``pc``) when allowed, else the other family's; None if none fits."""
        family = machine_family(current)
        order = [family] if family else []
        order += [f for f in _MACHINE_FAMILIES if f not in order]
        for fam in order:
            if fam is None:
                continue
            if self.machines is None:
                if machine_allowed(fam, self.machine_rules):
                    return fam
                continue
            if fam in self.machines:
                return fam
            versioned = sorted(
                (m for m in self.machines if machine_family(m) == fam and m not in self.deprecated),
                key=_version_key,
                reverse=True,
            )
            if versioned:
                return versioned[0]
        return None

    def canonical(self, machine: str) -> str:
        return self.platform.canonical_machine(machine) or machine

    def max_vcpus_for(self, machine: str | None) -> int | None:
        limits = [v for v in (self.max_vcpus,) if v]
        if machine:
            canonical = self.canonical(machine)
            for name in (machine, canonical):
                if name in self.machine_max_cpus:
                    limits.append(self.machine_max_cpus[name])
                    break
        return min(limits) if limits else None

    def allowed_buses(self, *, machine: str | None, device: str, readonly: bool) -> list[str]:
        """Buses a disk may use here: the platform's, less what QEMU cannot do (IDE on
        q35, CD-ROMs on virtio, read-only disks on SATA or IDE)."""
        buses = [b for b in (self.disk_buses or DISK_BUSES) if b in DISK_BUSES]
        if machine_family(machine) == "q35":
            buses = [b for b in buses if b != "ide"]
        if device == "cdrom":
            buses = [b for b in buses if b != "virtio"]
        elif readonly:
            buses = [b for b in buses if b not in ("sata", "ide")]
        return buses

    def baseline_cpu_model(self) -> str | None:
        """A named model every guest CPU definition can fall back to here."""
        models = self.cpu_models
        if models is None:
            return self.host_model
        for candidate in (self.host_model, "qemu64"):
            if candidate in models:
                return candidate
        return models[0] if models else None


def _version_key(name: str) -> tuple[int, ...]:
    parts = name.rsplit("-", 1)[-1].split(".")
    return tuple(int(p) if p.isdigit() else -1 for p in parts)
