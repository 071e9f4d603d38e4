"""Built-in fixes: the deterministic answer to the common differences.

Each takes the adapted domain, the difference and the platforms, changes the domain and
returns ``Outcome(changes, failure)``; ``failure`` says why it could not resolve the
difference. Built-ins only run for blocking differences that no profile fix claimed.

- ``builtin:accelerator``: the target's preferred usable domain type (TCG, ``qemu``,
  when KVM is unusable or not allowed).
- ``builtin:machine-type``: the target's alias of the same family (``q35``, ``pc``), else
  of the other family; device addresses are left to libvirt, which lays out the PCI(e)
  topology of the new machine.
- ``builtin:cpu``: ``host-model`` when offered, else (or when libvirt found the CPU
  incompatible and the domain already used host-model) ``custom`` with the target's
  baseline model.
- ``builtin:emulator``: the target's emulator for the domain type.
- ``builtin:disk-bus``: ``virtio`` when allowed, else the first allowed of scsi, sata,
  ide; the device is renamed for the bus (``vd*``, ``sd*``, ``hd*``).
- ``builtin:storage-pool``: the target platform's storage pool, same volume name.
- ``builtin:storage-path``: the path ``target_disk_paths`` gives, else the same file
  name in the target pool's directory.
- ``builtin:nic-model``: ``virtio`` when allowed, else the first allowed model.
- ``builtin:network`` / ``builtin:portgroup``: the VLAN the interface carried on the
  source (its tag, its portgroup's tag or the source's VLAN mapping), placed on the
  target through its VLAN mapping or, with Open vSwitch, its trunk network.

Firmware and resource differences have no built-in fix: changing the firmware can leave
the guest unbootable and shrinking a VM is the profile's decision.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from operations_app.hypervisor.errors import HypervisorError
from operations_app.hypervisor.networkxml import place_vlan

from . import edits
from .differences import Difference, DomainState, expected_disk_path, interface_vlan, landing
from .platforms import DISK_BUSES, NIC_MODELS, PlatformView


@dataclass
class Outcome:
    changes: list[str] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)  # as a domain fix's ``set``
    failure: str | None = None


@dataclass
class Context:
    state: DomainState
    source: PlatformView
    target: PlatformView
    cpu_compatible: bool | None
    original_cpu: tuple[str | None, str | None]
    disk_paths: Mapping[str, str] | None


def _index(ref: str) -> int:
    return int(ref.split(":", 1)[1])


def _one(change: str | None, **settings: object) -> Outcome:
    return Outcome([change] if change else [], settings)


def accelerator(ctx: Context, ref: str, diff: Difference) -> Outcome:
    spec = ctx.state.spec
    probe = ctx.target.offer(spec.domain_type)
    chosen = probe.landing_type(spec.domain_type)
    if chosen == spec.domain_type:
        return Outcome(failure=f"{ctx.target.label} has no usable accelerator.")
    return _one(edits.set_field(spec, "domain_type", chosen, "domain type"), accelerator=chosen)


def machine_type(ctx: Context, ref: str, diff: Difference) -> Outcome:
    spec = ctx.state.spec
    if ref == "arch":
        return Outcome(failure="A guest cannot change its architecture.")
    offer, _machine = landing(ctx.state, ctx.target)
    chosen = offer.choose_machine(spec.machine or offer.default_machine)
    if chosen is None:
        return Outcome(failure=f"{ctx.target.label} offers no q35 or i440fx machine it allows.")
    return _one(edits.set_field(spec, "machine", chosen, "machine type"), machine_type=chosen)


def cpu(ctx: Context, ref: str, diff: Difference) -> Outcome:
    spec = ctx.state.spec
    offer, _machine = landing(ctx.state, ctx.target)
    modes = offer.cpu_modes
    candidates: list[tuple[str, str | None]] = []
    if modes is None or "host-model" in modes:
        candidates.append(("host-model", None))
    baseline = offer.baseline_cpu_model()
    if baseline and (modes is None or "custom" in modes):
        candidates.append(("custom", baseline))
    incompatible = ctx.cpu_compatible is False
    for mode, model in candidates:
        if incompatible and (mode, model) == ctx.original_cpu:
            continue  # libvirt found exactly this definition incompatible
        settings = {"cpu_mode": mode, **({"cpu_model": model} if model else {})}
        return _one(edits.set_cpu(spec, mode, model), **settings)
    return Outcome(
        failure=f"{ctx.target.label} offers neither host-model nor a usable named CPU model "
        f"for {offer.domain_type} domains."
    )


def emulator(ctx: Context, ref: str, diff: Difference) -> Outcome:
    offer, _machine = landing(ctx.state, ctx.target)
    if not offer.emulator:
        return Outcome(failure=f"{ctx.target.label} reports no emulator.")
    old = ctx.state.emulator
    ctx.state.emulator = offer.emulator
    return _one(f"emulator: {old} -> {offer.emulator}", emulator=offer.emulator)


def disk_bus(ctx: Context, ref: str, diff: Difference) -> Outcome:
    spec = ctx.state.spec
    i = _index(ref)
    disk = spec.disks[i]
    offer, machine = landing(ctx.state, ctx.target)
    allowed = offer.allowed_buses(machine=machine, device=disk.device, readonly=disk.readonly)
    choice = next((b for b in DISK_BUSES if b in allowed), None)
    if choice is None:
        return Outcome(failure=f"{ctx.target.label} allows no bus this disk can use.")
    return _one(edits.set_disk_bus(spec, i, choice), disk_bus=choice)


def storage_pool(ctx: Context, ref: str, diff: Difference) -> Outcome:
    if not ctx.target.storage_pool:
        return Outcome(failure=f"{ctx.target.label} names no storage pool.")
    pool = ctx.target.storage_pool
    return _one(edits.set_disk_pool(ctx.state.spec, _index(ref), pool), storage_pool=pool)


def storage_path(ctx: Context, ref: str, diff: Difference) -> Outcome:
    spec = ctx.state.spec
    i = _index(ref)
    path = spec.disks[i].path
    expected = expected_disk_path(path, ctx.target, ctx.disk_paths) if path else None
    if expected is None:
        return Outcome(
            failure=f"The directory of pool {ctx.target.storage_pool} on "
            f"{ctx.target.label} is unknown and no target path was given."
        )
    directory = posixpath.dirname(expected)
    return _one(edits.set_disk_path(spec, i, expected), storage_path=directory)


def nic_model(ctx: Context, ref: str, diff: Difference) -> Outcome:
    spec = ctx.state.spec
    offer, _machine = landing(ctx.state, ctx.target)
    allowed = offer.nic_models or []
    choice = next((m for m in NIC_MODELS if m in allowed), allowed[0] if allowed else None)
    if choice is None:
        return Outcome(failure=f"{ctx.target.label} allows no NIC model.")
    return _one(edits.set_interface(spec, _index(ref), model=choice), nic_model=choice)


def _place(ctx: Context, i: int) -> Outcome:
    spec = ctx.state.spec
    nic = spec.interfaces[i]
    target = ctx.target
    offered = target.offered_networks()
    if offered is not None and nic.network in offered and not nic.portgroup:
        return Outcome()
    vlan = interface_vlan(nic, ctx.source)
    if vlan is None:
        if nic.portgroup and offered is not None and nic.network in offered:
            return Outcome(
                failure=f"Portgroup {nic.portgroup} carries no single VLAN that "
                f"{target.label} could place."
            )
        return Outcome(
            failure=f"Network {nic.network} carries no VLAN that {target.label} could place, "
            "and it has no network of that name."
        )
    trunk = target.network_info(nic.network)
    if offered is not None and nic.network not in offered:
        trunk = None
    mapping: dict[int | str, str] = dict(target.vlan_networks.items())
    try:
        placement = place_vlan(
            vlan,
            mapping=mapping,
            ovs_available=target.openvswitch(),
            trunk_network=str(trunk["name"]) if trunk is not None else None,
        )
    except HypervisorError as exc:
        return Outcome(failure=f"On {target.label}: {exc}")
    portgroup, tag = placement.portgroup, placement.vlan_tag
    if tag is not None:  # a tagged port on the trunk: through its portgroup for the tag
        for name, tags in (target.portgroups(placement.network) or {}).items():
            if tags == [vlan]:
                portgroup, tag = name, None
                break
    if offered is not None and placement.network not in offered:
        return Outcome(
            failure=f"VLAN {vlan} maps to network {placement.network} on {target.label}, "
            "which the platform does not offer."
        )
    change = edits.set_interface(
        spec, i, network=placement.network, portgroup=portgroup, vlan_tag=tag
    )
    settings = {"network": placement.network, **({"portgroup": portgroup} if portgroup else {})}
    return _one(change, **settings)


def network(ctx: Context, ref: str, diff: Difference) -> Outcome:
    return _place(ctx, _index(ref))


def portgroup(ctx: Context, ref: str, diff: Difference) -> Outcome:
    return _place(ctx, _index(ref))


Builtin = Callable[[Context, str, Difference], Outcome]

# In the order they run: the domain type first (it decides the CPU modes and buses the
# rest may pick from), then the machine type (IDE is gone on q35), then the devices.
BUILTINS: dict[str, tuple[str, str, Builtin]] = {
    "accelerator": (
        "builtin:accelerator",
        "Use a domain type the target can run (software emulation when KVM is not usable).",
        accelerator,
    ),
    "machine_type": (
        "builtin:machine-type",
        "Use the target's machine type of the same family, else the one it allows; "
        "libvirt assigns the device addresses of the new machine.",
        machine_type,
    ),
    "cpu_model": (
        "builtin:cpu",
        "Use host-model, or the target's baseline CPU model.",
        cpu,
    ),
    "emulator": ("builtin:emulator", "Use the target's emulator.", emulator),
    "disk_bus": (
        "builtin:disk-bus",
        "Attach the disk on a bus the target allows (virtio first), named for that bus.",
        disk_bus,
    ),
    "storage_pool": (
        "builtin:storage-pool",
        "Keep the volume in the target platform's storage pool.",
        storage_pool,
    ),
    "storage_path": (
        "builtin:storage-path",
        "Put the disk image where it goes on the target.",
        storage_path,
    ),
    "nic_model": (
        "builtin:nic-model",
        "Use a NIC model the target allows (virtio first).",
        nic_model,
    ),
    "network": (
        "builtin:network",
        "Connect the interface to the target network its VLAN maps to.",
        network,
    ),
    "portgroup": (
        "builtin:portgroup",
        "Connect the interface to the target portgroup or network its VLAN maps to.",
        portgroup,
    ),
}

NO_BUILTIN = {
    "firmware": "Changing the firmware can leave the guest unbootable, so only a fix in "
    "the profile (set firmware) may do it.",
    "resources": "Shrinking the VM is the profile's decision: add a fix that sets vcpus or "
    "memory_mib, or choose a target with more capacity.",
}
