"""Step 1 of the adaptation layer: the platform differences that matter to one domain.

``compare`` reads the domain definition against the target's effective capabilities
(libvirt's report narrowed by the platform's declared constraints) and the source's
facts where they explain the domain (its VLAN mapping, its portgroups, its host CPU).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

from operations_app.constraints import machine_allowed
from operations_app.hypervisor.types import DiskSpec, DomainSpec, InterfaceSpec

from .platforms import Offer, PlatformView, machine_family, same_dir

KINDS = (
    "cpu_model",
    "machine_type",
    "accelerator",
    "disk_bus",
    "nic_model",
    "emulator",
    "firmware",
    "network",
    "portgroup",
    "storage_pool",
    "storage_path",
    "resources",
)


@dataclass(frozen=True)
class Difference:
    """One platform difference relevant to a domain.

    ``kind`` is one of ``KINDS``; ``subject`` says what it is about (``domain``, ``cpu``,
    ``arch``, ``disk vda``, ``interface 52:54:00:12:34:56`` or ``interface 0`` when the
    NIC has no MAC, ``vcpus``, ``memory_mib``, ``memory_hard_limit_mib``); ``source`` is
    the value as the domain uses it and ``target`` what the target offers or requires
    (allowed values joined by ", ", empty when it offers nothing). ``blocking`` is True
    when the domain cannot run on the target as it is. ``reason`` is only set on the
    entries of ``AdaptationPlan.unresolved``: why no fix resolved it.
    """

    kind: str
    subject: str
    source: str
    target: str
    detail: str
    blocking: bool = True
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def sentence(self) -> str:
        """The detail and, for an unresolved difference, why it stayed unresolved."""
        return f"{self.detail} {self.reason}".strip()


# A difference's identity across re-comparisons: its kind and what it is about, with
# devices numbered (a disk keeps its number when a fix renames it from sdb to vdb).
Key = tuple[str, str]
_Add = Callable[[str, "Difference"], None]


def disk_subject(disk: DiskSpec) -> str:
    return f"disk {disk.target}"


def interface_subject(nic: InterfaceSpec, index: int) -> str:
    return f"interface {nic.mac}" if nic.mac else f"interface {index}"


def _join(values: list[str] | None) -> str:
    return ", ".join(values or [])


def cpu_value(spec: DomainSpec) -> str:
    if spec.cpu_mode == "custom":
        return spec.cpu_model or "custom"
    return spec.cpu_mode or "default"


def interface_vlan(nic: InterfaceSpec, source: PlatformView) -> int | None:
    """The VLAN an interface carries on the source: its tag, its portgroup's single
    tag, or the VLAN the source maps to its network."""
    if nic.vlan_tag:
        return nic.vlan_tag
    if nic.portgroup:
        tags = (source.portgroups(nic.network) or {}).get(nic.portgroup) or []
        if len(tags) == 1:
            return tags[0]
    return source.vlan_of_network(nic.network)


def expected_disk_path(
    path: str, target: PlatformView, disk_paths: Mapping[str, str] | None
) -> str | None:
    """Where a file disk belongs on the target, or None when that cannot be told."""
    if disk_paths:
        if path in disk_paths:
            return disk_paths[path]
        if path in disk_paths.values():
            return path
    pool_path = target.pool_path(target.storage_pool)
    if pool_path is None:
        return None
    if same_dir(path, pool_path):
        return path
    return posixpath.join(pool_path, posixpath.basename(path))


@dataclass
class DomainState:
    """A domain definition plus what the ``DomainSpec`` does not carry."""

    spec: DomainSpec
    emulator: str | None = None  # the emulator the definition pins, if any


def landing(state: DomainState, target: PlatformView) -> tuple[Offer, str | None]:
    """The target's offer for the type the domain will run with there, and the machine
    type it will have there (its own when allowed, else the one a built-in fix picks)."""
    spec = state.spec
    probe = target.offer(spec.domain_type)
    offer = target.offer(probe.landing_type(spec.domain_type))
    machine = spec.machine or offer.default_machine
    if machine is not None and not offer.machine_ok(machine):
        machine = offer.choose_machine(machine) or machine
    return offer, machine


def differences(
    state: DomainState,
    *,
    source: PlatformView,
    target: PlatformView,
    cpu_compatible: bool | None,
    original_cpu: tuple[str | None, str | None],
    disk_paths: Mapping[str, str] | None,
) -> list[tuple[Key, Difference]]:
    """Every difference of ``state`` against ``target``, keyed for re-comparison."""
    spec = state.spec
    where = target.label
    found: list[tuple[Key, Difference]] = []

    def add(key: str, diff: Difference) -> None:
        found.append(((diff.kind, key), diff))

    probe = target.offer(spec.domain_type)
    offer, landing_machine = landing(state, target)

    # -- architecture and accelerator
    if probe.arch and spec.arch and probe.arch != spec.arch:
        add(
            "arch",
            Difference(
                "machine_type",
                "arch",
                spec.arch,
                probe.arch,
                f"The domain is a {spec.arch} guest; {where} runs {probe.arch} guests.",
            ),
        )
    if probe.accelerators is not None and spec.domain_type not in probe.accelerators:
        why = _accelerator_reason(target, spec.domain_type)
        add(
            "domain",
            Difference(
                "accelerator",
                "domain",
                spec.domain_type,
                _join(probe.accelerators),
                f"The domain uses the {spec.domain_type} accelerator, which {where} cannot "
                f"give it ({why}); usable there: {_join(probe.accelerators) or 'none'}.",
            ),
        )

    # -- machine type
    machine = spec.machine or offer.default_machine
    if machine is not None:
        named = "uses" if spec.machine else "names no machine type, so it would get"
        if not offer.machine_ok(machine):
            choice = offer.choose_machine(machine)
            target_value = offer.canonical(choice) if choice else _join(offer.machine_rules)
            if offer.machine_rules and not _rules_allow(offer, machine):
                why = f"{where} allows only {_join(offer.machine_rules)} machines"
            else:
                why = f"{where}'s QEMU does not offer it"
            add(
                "domain",
                Difference(
                    "machine_type",
                    "domain",
                    machine,
                    target_value,
                    f"The domain {named} machine type {machine}, but {why}.",
                ),
            )
        elif machine in offer.deprecated or offer.canonical(machine) in offer.deprecated:
            add(
                "domain",
                Difference(
                    "machine_type",
                    "domain",
                    machine,
                    offer.canonical(offer.choose_machine(machine) or machine),
                    f"Machine type {machine} is deprecated on {where}.",
                    blocking=False,
                ),
            )

    # -- CPU
    cpu_reasons, cpu_blocking = _cpu_reasons(
        spec, offer, source, target, cpu_compatible, original_cpu
    )
    if cpu_reasons:
        add(
            "cpu",
            Difference(
                "cpu_model",
                "cpu",
                cpu_value(spec),
                offer.host_model or target.host_cpu_model() or "",
                " ".join(cpu_reasons),
                blocking=cpu_blocking,
            ),
        )

    # -- emulator and firmware
    if state.emulator and offer.emulator and state.emulator != offer.emulator:
        add(
            "domain",
            Difference(
                "emulator",
                "domain",
                state.emulator,
                offer.emulator,
                f"The domain pins the emulator {state.emulator}; {where} runs "
                f"{offer.domain_type} guests with {offer.emulator}.",
                blocking=state.emulator not in offer.emulators,
            ),
        )
    if offer.firmware is not None and spec.boot.firmware not in offer.firmware:
        add(
            "domain",
            Difference(
                "firmware",
                "domain",
                spec.boot.firmware,
                _join(offer.firmware),
                f"The domain boots with {spec.boot.firmware} firmware; {where} offers "
                f"{_join(offer.firmware) or 'none'}.",
            ),
        )

    # -- disks
    for index, disk in enumerate(spec.disks):
        _disk_differences(add, f"disk:{index}", disk, offer, landing_machine, target, disk_paths)

    # -- interfaces
    offered = target.offered_networks()
    for index, nic in enumerate(spec.interfaces):
        _interface_differences(
            add, f"interface:{index}", index, nic, offer, offered, source, target
        )

    # -- resources
    max_vcpus = offer.max_vcpus_for(landing_machine)
    if max_vcpus is not None and spec.vcpus > max_vcpus:
        add(
            "vcpus",
            Difference(
                "resources",
                "vcpus",
                str(spec.vcpus),
                str(max_vcpus),
                f"The domain has {spec.vcpus} vCPUs; {where} gives a domain at most {max_vcpus}.",
            ),
        )
    if offer.max_memory_mib is not None and spec.memory_mib > offer.max_memory_mib:
        add(
            "memory_mib",
            Difference(
                "resources",
                "memory_mib",
                str(spec.memory_mib),
                str(offer.max_memory_mib),
                f"The domain has {spec.memory_mib} MiB of memory; {where} gives a domain at "
                f"most {offer.max_memory_mib} MiB.",
            ),
        )
    hard = spec.tunables.memory_hard_limit_mib
    ceiling = offer.memory_hard_limit_max_mib
    if hard is not None and ceiling is not None and hard > ceiling:
        add(
            "memory_hard_limit_mib",
            Difference(
                "resources",
                "memory_hard_limit_mib",
                str(hard),
                str(ceiling),
                f"The domain's memory hard limit is {hard} MiB; a guest on {where} cannot "
                f"start with a hard limit above {ceiling} MiB.",
            ),
        )
    return found


def _rules_allow(offer: Offer, machine: str) -> bool:
    return machine_allowed(machine, offer.machine_rules)


def _accelerator_reason(target: PlatformView, domain_type: str) -> str:
    for acc in target.capabilities.get("accelerators") or []:
        if isinstance(acc, Mapping) and acc.get("domain_type") == domain_type:
            if not acc.get("usable"):
                return str(acc.get("reason") or "not usable")
            return "not allowed by the platform's constraints"
    return "not offered"


def _cpu_reasons(
    spec: DomainSpec,
    offer: Offer,
    source: PlatformView,
    target: PlatformView,
    cpu_compatible: bool | None,
    original_cpu: tuple[str | None, str | None],
) -> tuple[list[str], bool]:
    where = target.label
    reasons: list[str] = []
    mode = spec.cpu_mode
    if mode is not None and offer.cpu_modes is not None and mode not in offer.cpu_modes:
        reasons.append(
            f"CPU mode {mode} is not available to {offer.domain_type} domains on {where} "
            f"(available: {_join(offer.cpu_modes) or 'none'})."
        )
    if mode == "custom" or (mode is None and spec.cpu_model):
        if not spec.cpu_model:
            reasons.append("The domain asks for a custom CPU but names no model.")
        elif offer.cpu_models is not None and spec.cpu_model not in offer.cpu_models:
            reasons.append(f"CPU model {spec.cpu_model} is not usable on {where}.")
    if cpu_compatible is False and (spec.cpu_mode, spec.cpu_model) == original_cpu:
        reasons.append(f"libvirt reports the domain's CPU is not compatible with {where}'s CPU.")
    if reasons:
        return reasons, True
    src_model, tgt_model = source.host_cpu_model(), target.host_cpu_model()
    if mode == "host-passthrough" and src_model and tgt_model and src_model != tgt_model:
        return [
            f"The guest passes the host CPU through, so it will see {tgt_model} instead "
            f"of {src_model}."
        ], False
    return [], False


def _disk_differences(
    add: _Add,
    key: str,
    disk: DiskSpec,
    offer: Offer,
    machine: str | None,
    target: PlatformView,
    disk_paths: Mapping[str, str] | None,
) -> None:
    where = target.label
    subject = disk_subject(disk)
    allowed = offer.allowed_buses(machine=machine, device=disk.device, readonly=disk.readonly)
    if disk.bus not in allowed:
        if offer.disk_buses is not None and disk.bus not in offer.disk_buses:
            why = f"{where} does not allow it"
        elif disk.bus == "ide" and machine_family(machine) == "q35":
            why = f"q35 machines (as {machine} on {where}) have no IDE controller"
        elif disk.device == "cdrom":
            why = "a CD-ROM cannot be a virtio disk"
        else:
            why = "a read-only disk needs bus virtio or scsi"
        add(
            key,
            Difference(
                "disk_bus",
                subject,
                disk.bus,
                _join(allowed),
                f"Disk {disk.target} uses bus {disk.bus}, but {why} "
                f"(allowed: {_join(allowed) or 'none'}).",
            ),
        )
    if disk.pool is not None and target.storage_pool and disk.pool != target.storage_pool:
        add(
            key,
            Difference(
                "storage_pool",
                subject,
                disk.pool,
                target.storage_pool,
                f"Disk {disk.target} is volume {disk.volume} in pool {disk.pool}; {where} keeps "
                f"VM disks in pool {target.storage_pool}.",
            ),
        )
    if disk.path is not None:
        expected = expected_disk_path(disk.path, target, disk_paths)
        if expected is not None and expected != disk.path:
            add(
                key,
                Difference(
                    "storage_path",
                    subject,
                    posixpath.dirname(disk.path),
                    posixpath.dirname(expected),
                    f"Disk {disk.target} is {disk.path}; on {where} it is {expected}.",
                ),
            )


def _interface_differences(
    add: _Add,
    key: str,
    index: int,
    nic: InterfaceSpec,
    offer: Offer,
    offered: list[str] | None,
    source: PlatformView,
    target: PlatformView,
) -> None:
    where = target.label
    subject = interface_subject(nic, index)
    label = f"Interface {index}" + (f" ({nic.mac})" if nic.mac else "")
    if offer.nic_models is not None and nic.model not in offer.nic_models:
        add(
            key,
            Difference(
                "nic_model",
                subject,
                nic.model,
                _join(offer.nic_models),
                f"{label} uses NIC model {nic.model}; "
                f"{where} allows {_join(offer.nic_models) or 'none'}.",
            ),
        )
    if offered is not None and nic.network not in offered:
        vlan = interface_vlan(nic, source)
        carried = f" (it carries VLAN {vlan})" if vlan else ""
        add(
            key,
            Difference(
                "network",
                subject,
                nic.network,
                _join(offered),
                f"{label} is on network {nic.network}{carried}, which {where} does "
                f"not offer (offered: {_join(offered) or 'none'}).",
            ),
        )
        return
    if nic.portgroup:
        groups = target.portgroups(nic.network)
        if groups is not None and nic.portgroup not in groups:
            add(
                key,
                Difference(
                    "portgroup",
                    subject,
                    nic.portgroup,
                    _join(sorted(groups)),
                    f"{label} uses portgroup {nic.portgroup} of network "
                    f"{nic.network}, which has no such portgroup on {where} "
                    f"(there: {_join(sorted(groups)) or 'none'}).",
                ),
            )


def compare(
    *,
    domain: DomainSpec | str,
    source: object,
    target: object,
    cpu_compatible: bool | None = None,
    target_disk_paths: Mapping[str, str] | None = None,
) -> list[Difference]:
    """The differences between ``source`` and ``target`` that matter to ``domain``.

    ``domain`` is a ``DomainSpec`` or the domain XML as libvirt reports it (then the
    emulator it pins is compared too). ``source`` and ``target`` are ``Platform`` rows,
    mappings with the same keys or ``PlatformView``s. ``cpu_compatible`` is the caller's
    verdict from libvirt's CPU comparison (None: not checked). ``target_disk_paths``
    maps disk paths on the source to their paths on the target.
    """
    from .source import domain_state

    state = domain_state(domain)
    return [
        diff
        for _key, diff in differences(
            state,
            source=PlatformView.of(source),
            target=PlatformView.of(target),
            cpu_compatible=cpu_compatible,
            original_cpu=(state.spec.cpu_mode, state.spec.cpu_model),
            disk_paths=target_disk_paths,
        )
    ]
