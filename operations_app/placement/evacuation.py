"""Choosing where each VM of a host goes: filter, then score, each verdict explained.

The product's one placement across platforms (maintenance evacuation today; scheduling
policies add filters and scores to the same tables). Pure: hosts and VMs come in as
plain data (``HostFacts``, ``VMFacts``) and the adaptation layer's dry run as a callable
(``DryRun``), which is asked lazily, best-scored candidate first, because it reads both
hosts and is by far the most expensive check.

    plan = plan_evacuation(source, vms, hosts, dry_run=lambda vm, host: ...)

For each VM (largest memory first, then vCPUs, then name: the same facts give the same
plan) every other host runs through ``HOST_FILTERS`` in order; the first that refuses
it is its reason. The hosts that pass are scored (``SCORES``: memory and CPU headroom
after the move, the VM's running cost there), then the dry run is asked of them in score
order until one goes ahead. The chosen host's usage grows by the VM before the next VM
is placed, so the plan never fills a host beyond what it declares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

MIB = 1024**2

# Overcommit when a platform declares none: vCPUs may be shared four ways, memory and
# storage are not overcommitted.
DEFAULT_OVERCOMMIT = {"cpu": 4.0, "memory": 1.0, "storage": 1.0}


@dataclass(frozen=True)
class HostFacts:
    """A platform as placement sees it: what it has, what is committed, what it allows."""

    name: str
    enabled: bool = True
    reachable: bool = True
    maintenance: str = ""  # "" or why it takes no new VMs ("entering maintenance", ...)
    cpu_count: int = 0
    memory_mib: int = 0
    storage_capacity_bytes: int = 0
    storage_free_bytes: int = 0
    cpu_overcommit: float = DEFAULT_OVERCOMMIT["cpu"]
    memory_overcommit: float = DEFAULT_OVERCOMMIT["memory"]
    storage_overcommit: float = DEFAULT_OVERCOMMIT["storage"]
    used_vcpus: int = 0
    used_memory_mib: int = 0
    used_storage_bytes: int = 0  # virtual sizes of the disks of the VMs placed there
    max_vcpus: int | None = None  # per VM, declared by the platform's constraints
    max_memory_mib: int | None = None
    cost_vcpu_hour: float = 0.0
    cost_ram_gib_hour: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def vcpu_limit(self) -> float:
        return self.cpu_count * self.cpu_overcommit

    @property
    def memory_limit_mib(self) -> float:
        return self.memory_mib * self.memory_overcommit

    @property
    def storage_limit_bytes(self) -> float:
        return self.storage_capacity_bytes * self.storage_overcommit

    def with_vm(self, vm: VMFacts) -> HostFacts:
        """This host once ``vm`` is placed on it."""
        return replace(
            self,
            used_vcpus=self.used_vcpus + vm.vcpus,
            used_memory_mib=self.used_memory_mib + vm.memory_mib,
            used_storage_bytes=self.used_storage_bytes + vm.disk_bytes,
            storage_free_bytes=self.storage_free_bytes - vm.disk_allocation_bytes,
        )


@dataclass(frozen=True)
class VMFacts:
    """A VM to be placed: what it needs."""

    name: str
    vcpus: int
    memory_mib: int
    disk_bytes: int = 0  # virtual size of its disks
    disk_allocation_bytes: int = 0  # what they take now (what a copy writes)
    running: bool = True
    profile: str = ""


@dataclass(frozen=True)
class DryRunVerdict:
    """The adaptation layer's answer for one move: whether it goes ahead, by which path
    (``live``/``cold``) and why, or why not."""

    ok: bool
    path: str = ""
    reason: str = ""


DryRun = Callable[[VMFacts, HostFacts], DryRunVerdict]


@dataclass
class HostVerdict:
    """What placement concluded about one host for one VM."""

    host: str
    passed: list[str] = field(default_factory=list)  # filters passed, in order
    refused_by: str = ""  # the filter that refused it
    reason: str = ""  # why it was refused (or not examined)
    scores: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    dry_run: str = ""  # "", "ok", "refused", "not needed"
    chosen: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "passed": list(self.passed),
            "refused_by": self.refused_by,
            "reason": self.reason,
            "scores": dict(self.scores),
            "score": self.score,
            "dry_run": self.dry_run,
            "chosen": self.chosen,
        }


@dataclass
class VMPlacement:
    """Where one VM goes (``target``; "" when nowhere) and how, with every host's verdict."""

    vm: str
    target: str = ""
    path: str = ""
    path_reason: str = ""
    reason: str = ""  # why it cannot move, when it cannot
    vcpus: int = 0
    memory_mib: int = 0
    disk_bytes: int = 0
    verdicts: list[HostVerdict] = field(default_factory=list)

    @property
    def movable(self) -> bool:
        return bool(self.target)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vm": self.vm,
            "target": self.target,
            "path": self.path,
            "path_reason": self.path_reason,
            "reason": self.reason,
            "vcpus": self.vcpus,
            "memory_mib": self.memory_mib,
            "disk_bytes": self.disk_bytes,
            "verdicts": [v.to_dict() for v in self.verdicts],
        }


@dataclass
class EvacuationPlan:
    """Every managed VM's placement, the unmanaged VMs left alone, and the hosts' usage
    before and after."""

    source: str
    moves: list[VMPlacement] = field(default_factory=list)
    unmovable: list[VMPlacement] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    hosts_before: dict[str, dict[str, float]] = field(default_factory=dict)
    hosts_after: dict[str, dict[str, float]] = field(default_factory=dict)
    dry_runs: int = 0

    @property
    def complete(self) -> bool:
        return not self.unmovable

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "complete": self.complete,
            "moves": [m.to_dict() for m in self.moves],
            "unmovable": [m.to_dict() for m in self.unmovable],
            "unmanaged": list(self.unmanaged),
            "hosts_before": self.hosts_before,
            "hosts_after": self.hosts_after,
            "dry_runs": self.dry_runs,
        }


class Refused(Exception):
    """A filter's verdict: the host cannot take the VM (the message says why)."""


HostFilter = Callable[[VMFacts, HostFacts], None]


# --------------------------------------------------------------------------- filters


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 1024**3:.1f} GiB"


def enabled(vm: VMFacts, host: HostFacts) -> None:
    if not host.enabled:
        raise Refused(f"{host.name} is disabled")


def reachable(vm: VMFacts, host: HostFacts) -> None:
    if not host.reachable:
        raise Refused(f"{host.name} cannot be reached")


def not_in_maintenance(vm: VMFacts, host: HostFacts) -> None:
    if host.maintenance:
        raise Refused(f"{host.name} is {host.maintenance}")


def within_limits(vm: VMFacts, host: HostFacts) -> None:
    if host.max_vcpus is not None and vm.vcpus > host.max_vcpus:
        raise Refused(f"{vm.vcpus} vCPUs exceed the {host.max_vcpus} a VM may have on {host.name}")
    if host.max_memory_mib is not None and vm.memory_mib > host.max_memory_mib:
        raise Refused(
            f"{vm.memory_mib} MiB exceeds the {host.max_memory_mib} MiB a VM may have on {host.name}"
        )


def cpu_capacity(vm: VMFacts, host: HostFacts) -> None:
    if host.used_vcpus + vm.vcpus > host.vcpu_limit:
        raise Refused(
            f"{vm.vcpus} vCPUs do not fit: {host.used_vcpus} of {host.vcpu_limit:g} committed "
            f"({host.cpu_count} CPUs × {host.cpu_overcommit:g} overcommit)"
        )


def memory_capacity(vm: VMFacts, host: HostFacts) -> None:
    if host.used_memory_mib + vm.memory_mib > host.memory_limit_mib:
        raise Refused(
            f"{vm.memory_mib} MiB does not fit: {host.used_memory_mib} of "
            f"{host.memory_limit_mib:g} MiB committed ({host.memory_mib} MiB × "
            f"{host.memory_overcommit:g} overcommit)"
        )


def storage_capacity(vm: VMFacts, host: HostFacts) -> None:
    if vm.disk_allocation_bytes > host.storage_free_bytes:
        raise Refused(
            f"its disks take {_gib(vm.disk_allocation_bytes)}, the storage pool has "
            f"{_gib(max(host.storage_free_bytes, 0))} free"
        )
    if host.used_storage_bytes + vm.disk_bytes > host.storage_limit_bytes:
        raise Refused(
            f"its disks' {_gib(vm.disk_bytes)} do not fit: {_gib(host.used_storage_bytes)} of "
            f"{_gib(host.storage_limit_bytes)} committed ({_gib(host.storage_capacity_bytes)} × "
            f"{host.storage_overcommit:g} overcommit)"
        )


HOST_FILTERS: tuple[tuple[str, HostFilter], ...] = (
    ("enabled", enabled),
    ("reachable", reachable),
    ("not in maintenance", not_in_maintenance),
    ("platform limits", within_limits),
    ("vCPU capacity", cpu_capacity),
    ("memory capacity", memory_capacity),
    ("storage capacity", storage_capacity),
)


# --------------------------------------------------------------------------- scores


def _headroom(used: float, limit: float) -> float:
    return 0.0 if limit <= 0 else max(0.0, 1.0 - used / limit)


def memory_headroom(vm: VMFacts, host: HostFacts, peers: Sequence[HostFacts]) -> float:
    """0–50: the share of the host's memory still free once the VM is there."""
    return 50.0 * _headroom(host.used_memory_mib + vm.memory_mib, host.memory_limit_mib)


def cpu_headroom(vm: VMFacts, host: HostFacts, peers: Sequence[HostFacts]) -> float:
    """0–30: the share of the host's vCPUs still free once the VM is there."""
    return 30.0 * _headroom(host.used_vcpus + vm.vcpus, host.vcpu_limit)


def _hour_cost(vm: VMFacts, host: HostFacts) -> float:
    return vm.vcpus * host.cost_vcpu_hour + vm.memory_mib / 1024 * host.cost_ram_gib_hour


def running_cost(vm: VMFacts, host: HostFacts, peers: Sequence[HostFacts]) -> float:
    """-20–0: the VM's hourly cost there against the dearest candidate's."""
    memo = getattr(peers, "memo", None)
    if memo is not None and ("dearest", vm) in memo:
        dearest = memo[("dearest", vm)]
    else:
        dearest = max((_hour_cost(vm, p) for p in peers), default=0.0)
        if memo is not None:
            memo[("dearest", vm)] = dearest
    return 0.0 if dearest <= 0 else -20.0 * _hour_cost(vm, host) / dearest


Score = Callable[[VMFacts, HostFacts, Sequence[HostFacts]], float]


class Peers(list):
    """The hosts that passed the filters for one VM, as its scores see them, with a
    ``memo`` where a score keeps what is the same for every host it scores (the dearest
    candidate, say): scoring stays linear in the hosts."""

    def __init__(self, hosts: Iterable[HostFacts]) -> None:
        super().__init__(hosts)
        self.memo: dict[Any, Any] = {}


SCORES: tuple[tuple[str, Score], ...] = (
    ("memory headroom", memory_headroom),
    ("CPU headroom", cpu_headroom),
    ("running cost", running_cost),
)


# --------------------------------------------------------------------------- planning


def usage(host: HostFacts) -> dict[str, float]:
    """The host's committed share of each resource (0–1, or more when overcommitted)."""
    return {
        "vcpus": round(host.used_vcpus / host.vcpu_limit, 4) if host.vcpu_limit else 0.0,
        "memory": round(host.used_memory_mib / host.memory_limit_mib, 4)
        if host.memory_limit_mib
        else 0.0,
        "storage": round(host.used_storage_bytes / host.storage_limit_bytes, 4)
        if host.storage_limit_bytes
        else 0.0,
    }


def place_vm(
    vm: VMFacts,
    hosts: Mapping[str, HostFacts],
    *,
    source: str,
    dry_run: DryRun,
    filters: Sequence[tuple[str, HostFilter]] = HOST_FILTERS,
    scores: Sequence[tuple[str, Score]] = SCORES,
) -> tuple[VMPlacement, int]:
    """Where ``vm`` goes among ``hosts`` (the source excluded), and how many dry runs
    that took. ``filters`` and ``scores`` default to the capacity ones; scheduling
    policies add theirs (rules, caps, what their trigger measures) to these."""
    placement = VMPlacement(
        vm=vm.name, vcpus=vm.vcpus, memory_mib=vm.memory_mib, disk_bytes=vm.disk_bytes
    )
    passing: list[tuple[HostVerdict, HostFacts]] = []
    labels = [label for label, _ in filters]
    checks = [check for _, check in filters]
    for name in sorted(hosts):
        if name == source:
            continue
        host = hosts[name]
        verdict = HostVerdict(host=name)
        placement.verdicts.append(verdict)
        for i, check in enumerate(checks):
            try:
                check(vm, host)
            except Refused as exc:
                verdict.passed = labels[:i]
                verdict.refused_by, verdict.reason = labels[i], str(exc)
                break
        else:
            verdict.passed = labels[:]
            passing.append((verdict, host))
    peers = Peers(h for _, h in passing)
    for verdict, host in passing:
        verdict.scores = {label: round(score(vm, host, peers), 2) for label, score in scores}
        verdict.score = round(sum(verdict.scores.values()), 2)
    ranked = sorted(passing, key=lambda vh: (-(vh[0].score or 0.0), vh[0].host))
    dry_runs = 0
    for verdict, host in ranked:
        if placement.target:
            verdict.dry_run, verdict.reason = "not needed", f"{placement.target} scored higher"
            continue
        dry_runs += 1
        answer = dry_run(vm, host)
        if answer.ok:
            verdict.dry_run, verdict.chosen = "ok", True
            verdict.passed.append("dry run")
            placement.target, placement.path, placement.path_reason = (
                host.name,
                answer.path,
                answer.reason,
            )
        else:
            verdict.dry_run, verdict.refused_by, verdict.reason = (
                "refused",
                "dry run",
                answer.reason,
            )
    if not placement.target:
        placement.reason = _why_nowhere(placement.verdicts)
    return placement, dry_runs


def _why_nowhere(verdicts: Sequence[HostVerdict]) -> str:
    if not verdicts:
        return "there is no other platform"
    reasons = "; ".join(f"{v.host}: {v.reason}" for v in verdicts)
    return f"no platform can take it ({reasons})"


def vm_order(vms: Iterable[VMFacts]) -> list[VMFacts]:
    """The order VMs are placed in: largest memory first, then vCPUs, then name."""
    return sorted(vms, key=lambda v: (-v.memory_mib, -v.vcpus, v.name))


def plan_evacuation(
    source: str,
    vms: Iterable[VMFacts],
    hosts: Iterable[HostFacts],
    *,
    dry_run: DryRun,
    unmanaged: Iterable[str] = (),
) -> EvacuationPlan:
    """Where each of ``vms`` (the managed VMs on ``source``) goes among ``hosts``."""
    by_name = {h.name: h for h in hosts}
    plan = EvacuationPlan(source=source, unmanaged=sorted(unmanaged))
    plan.hosts_before = {n: usage(h) for n, h in sorted(by_name.items()) if n != source}
    for vm in vm_order(vms):
        placement, runs = place_vm(vm, by_name, source=source, dry_run=dry_run)
        plan.dry_runs += runs
        if placement.movable:
            plan.moves.append(placement)
            by_name[placement.target] = by_name[placement.target].with_vm(vm)
        else:
            plan.unmovable.append(placement)
    plan.hosts_after = {n: usage(h) for n, h in sorted(by_name.items()) if n != source}
    return plan
