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

A plan of a host among a thousand keeps every host's verdict for every VM, so verdicts
are kept compact (``Verdicts``: the refusing filter's index, the scores) and become
``HostVerdict`` objects or dicts only when asked. With the default filters and scores,
each host's figures are worked out once per plan (``PlanCache``) and the filters that do
not depend on the VM (enabled, reachable, not in maintenance) run once per host, not
once per VM.
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


class Verdicts:
    """Every host's verdict for one VM, kept compact: per host (in name order) the index
    of the filter that refused it (-1: none did) and, for those that passed, their
    scores; the dry runs asked and their answers. ``HostVerdict`` objects and dicts are
    built from it when shown. A refusal's reason is kept as said (``reasons``) or, for
    the default filters, worded when shown from the facts the filter read (``texts``)."""

    __slots__ = (
        "vm",
        "names",
        "facts",
        "labels",
        "texts",
        "reasons",
        "refused",
        "score_labels",
        "scores",
        "totals",
        "asked",
        "target",
        "check_label",
    )

    def __init__(
        self,
        vm: VMFacts,
        names: list[str],
        facts: list[HostFacts],
        labels: list[str],
        score_labels: list[str],
        *,
        texts: Sequence[Callable[[VMFacts, HostFacts], str]] | None = None,
        check_label: str = "dry run",
    ) -> None:
        self.vm = vm
        self.names = names
        self.facts = facts
        self.labels = labels
        self.texts = texts
        self.reasons: list[str] | None = None if texts is not None else []
        self.refused: list[int] = []
        self.score_labels = score_labels
        self.scores: list[tuple[float, ...] | None] = []
        self.totals: list[float | None] = []
        self.asked: dict[int, DryRunVerdict] = {}
        self.target = ""
        self.check_label = check_label

    def __len__(self) -> int:
        return len(self.names)

    def reason(self, i: int) -> str:
        """Why host ``i`` was refused or not examined ("" for the chosen one)."""
        r = self.refused[i]
        if r >= 0:
            if self.reasons is not None:
                return self.reasons[i]
            assert self.texts is not None
            return self.texts[r](self.vm, self.facts[i])
        answer = self.asked.get(i)
        if answer is not None:
            return "" if answer.ok else answer.reason
        return f"{self.target} scored higher" if self.target else ""

    def verdict(self, i: int) -> HostVerdict:
        r, labels = self.refused[i], self.labels
        if r >= 0:
            return HostVerdict(
                host=self.names[i], passed=labels[:r], refused_by=labels[r], reason=self.reason(i)
            )
        scores = self.scores[i] or ()
        verdict = HostVerdict(
            host=self.names[i],
            passed=labels[:],
            scores=dict(zip(self.score_labels, scores, strict=True)),
            score=self.totals[i],
        )
        answer = self.asked.get(i)
        if answer is None:
            if self.target:
                verdict.dry_run, verdict.reason = "not needed", f"{self.target} scored higher"
        elif answer.ok:
            verdict.dry_run, verdict.chosen = "ok", True
            verdict.passed.append(self.check_label)
        else:
            verdict.dry_run, verdict.refused_by = "refused", self.check_label
            verdict.reason = answer.reason
        return verdict

    def verdicts(self) -> list[HostVerdict]:
        return [self.verdict(i) for i in range(len(self.names))]

    def dicts(self) -> list[dict[str, Any]]:
        """``[v.to_dict() for v in self.verdicts()]``, without the objects in between.
        The dicts are a rendering, read only: those that passed the same filters share
        one ``passed`` list (a plan holds tens of thousands of verdicts)."""
        out: list[dict[str, Any]] = []
        append = out.append
        labels, score_labels, refused = self.labels, self.score_labels, self.refused
        scores, totals, asked = self.scores, self.totals, self.asked
        not_needed = f"{self.target} scored higher" if self.target else ""
        prefixes = [labels[:k] for k in range(len(labels) + 1)]
        every = prefixes[-1]
        for i, name in enumerate(self.names):
            r = refused[i]
            if r >= 0:
                append(
                    {
                        "host": name,
                        "passed": prefixes[r],
                        "refused_by": labels[r],
                        "reason": self.reason(i),
                        "scores": {},
                        "score": None,
                        "dry_run": "",
                        "chosen": False,
                    }
                )
                continue
            answer = asked.get(i)
            if answer is None:
                passed, refused_by, reason = every, "", not_needed
                dry_run, chosen = ("not needed" if not_needed else ""), False
            elif answer.ok:
                passed, refused_by, reason = [*labels, self.check_label], "", ""
                dry_run, chosen = "ok", True
            else:
                passed, refused_by, reason = every, self.check_label, answer.reason
                dry_run, chosen = "refused", False
            append(
                {
                    "host": name,
                    "passed": passed,
                    "refused_by": refused_by,
                    "reason": reason,
                    "scores": dict(zip(score_labels, scores[i] or (), strict=True)),
                    "score": totals[i],
                    "dry_run": dry_run,
                    "chosen": chosen,
                }
            )
        return out


@dataclass
class VMPlacement:
    """Where one VM goes (``target``; "" when nowhere) and how, with every host's verdict
    (``verdicts``, built from the compact ``table`` when first read)."""

    vm: str
    target: str = ""
    path: str = ""
    path_reason: str = ""
    reason: str = ""  # why it cannot move, when it cannot
    vcpus: int = 0
    memory_mib: int = 0
    disk_bytes: int = 0
    table: Verdicts | None = field(default=None, repr=False, compare=False)
    _verdicts: list[HostVerdict] | None = field(default=None, init=False, repr=False)

    @property
    def movable(self) -> bool:
        return bool(self.target)

    @property
    def verdicts(self) -> list[HostVerdict]:
        if self._verdicts is None:
            self._verdicts = self.table.verdicts() if self.table is not None else []
        return self._verdicts

    def to_dict(self) -> dict[str, Any]:
        if self._verdicts is not None or self.table is None:
            verdicts = [v.to_dict() for v in self.verdicts]
        else:
            verdicts = self.table.dicts()
        return {
            "vm": self.vm,
            "target": self.target,
            "path": self.path,
            "path_reason": self.path_reason,
            "reason": self.reason,
            "vcpus": self.vcpus,
            "memory_mib": self.memory_mib,
            "disk_bytes": self.disk_bytes,
            "verdicts": verdicts,
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


def disabled_text(vm: VMFacts, host: HostFacts) -> str:
    return "" if host.enabled else f"{host.name} is disabled"


def unreachable_text(vm: VMFacts, host: HostFacts) -> str:
    return "" if host.reachable else f"{host.name} cannot be reached"


def maintenance_text(vm: VMFacts, host: HostFacts) -> str:
    return f"{host.name} is {host.maintenance}" if host.maintenance else ""


def limits_text(vm: VMFacts, host: HostFacts) -> str:
    if host.max_vcpus is not None and vm.vcpus > host.max_vcpus:
        return f"{vm.vcpus} vCPUs exceed the {host.max_vcpus} a VM may have on {host.name}"
    if host.max_memory_mib is not None and vm.memory_mib > host.max_memory_mib:
        return f"{vm.memory_mib} MiB exceeds the {host.max_memory_mib} MiB a VM may have on {host.name}"
    return ""


def vcpus_text(vm: VMFacts, host: HostFacts) -> str:
    if host.used_vcpus + vm.vcpus > host.vcpu_limit:
        return (
            f"{vm.vcpus} vCPUs do not fit: {host.used_vcpus} of {host.vcpu_limit:g} committed "
            f"({host.cpu_count} CPUs × {host.cpu_overcommit:g} overcommit)"
        )
    return ""


def memory_text(vm: VMFacts, host: HostFacts) -> str:
    if host.used_memory_mib + vm.memory_mib > host.memory_limit_mib:
        return (
            f"{vm.memory_mib} MiB does not fit: {host.used_memory_mib} of "
            f"{host.memory_limit_mib:g} MiB committed ({host.memory_mib} MiB × "
            f"{host.memory_overcommit:g} overcommit)"
        )
    return ""


def storage_text(vm: VMFacts, host: HostFacts) -> str:
    if vm.disk_allocation_bytes > host.storage_free_bytes:
        return (
            f"its disks take {_gib(vm.disk_allocation_bytes)}, the storage pool has "
            f"{_gib(max(host.storage_free_bytes, 0))} free"
        )
    if host.used_storage_bytes + vm.disk_bytes > host.storage_limit_bytes:
        return (
            f"its disks' {_gib(vm.disk_bytes)} do not fit: {_gib(host.used_storage_bytes)} of "
            f"{_gib(host.storage_limit_bytes)} committed ({_gib(host.storage_capacity_bytes)} × "
            f"{host.storage_overcommit:g} overcommit)"
        )
    return ""


def _refuse(text: str) -> None:
    if text:
        raise Refused(text)


def enabled(vm: VMFacts, host: HostFacts) -> None:
    _refuse(disabled_text(vm, host))


def reachable(vm: VMFacts, host: HostFacts) -> None:
    _refuse(unreachable_text(vm, host))


def not_in_maintenance(vm: VMFacts, host: HostFacts) -> None:
    _refuse(maintenance_text(vm, host))


def within_limits(vm: VMFacts, host: HostFacts) -> None:
    _refuse(limits_text(vm, host))


def cpu_capacity(vm: VMFacts, host: HostFacts) -> None:
    _refuse(vcpus_text(vm, host))


def memory_capacity(vm: VMFacts, host: HostFacts) -> None:
    _refuse(memory_text(vm, host))


def storage_capacity(vm: VMFacts, host: HostFacts) -> None:
    _refuse(storage_text(vm, host))


HOST_FILTERS: tuple[tuple[str, HostFilter], ...] = (
    ("enabled", enabled),
    ("reachable", reachable),
    ("not in maintenance", not_in_maintenance),
    ("platform limits", within_limits),
    ("vCPU capacity", cpu_capacity),
    ("memory capacity", memory_capacity),
    ("storage capacity", storage_capacity),
)
# Why each of ``HOST_FILTERS`` refuses a host ("" when it does not), in the same order:
# the verdicts of the default filters are worded from these when they are shown.
HOST_FILTER_TEXTS: tuple[Callable[[VMFacts, HostFacts], str], ...] = (
    disabled_text,
    unreachable_text,
    maintenance_text,
    limits_text,
    vcpus_text,
    memory_text,
    storage_text,
)
VM_INDEPENDENT = 3  # the first three of HOST_FILTERS read only the host


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


class _Figures:
    """One host's figures as the default filters and scores read them."""

    __slots__ = (
        "facts",
        "gate",
        "limited",
        "max_vcpus",
        "max_memory_mib",
        "used_vcpus",
        "vcpu_limit",
        "used_memory_mib",
        "memory_limit",
        "storage_free",
        "used_storage",
        "storage_limit",
        "cost_vcpu_hour",
        "cost_ram_gib_hour",
    )

    def __init__(self, host: HostFacts) -> None:
        self.facts = host
        # the first filter that refuses the host whatever the VM (-1: none)
        self.gate = next(
            (i for i in range(VM_INDEPENDENT) if HOST_FILTER_TEXTS[i](_ANY_VM, host)), -1
        )
        self.limited = host.max_vcpus is not None or host.max_memory_mib is not None
        self.max_vcpus, self.max_memory_mib = host.max_vcpus, host.max_memory_mib
        self.used_vcpus, self.vcpu_limit = host.used_vcpus, host.vcpu_limit
        self.used_memory_mib, self.memory_limit = host.used_memory_mib, host.memory_limit_mib
        self.storage_free = host.storage_free_bytes
        self.used_storage, self.storage_limit = host.used_storage_bytes, host.storage_limit_bytes
        self.cost_vcpu_hour, self.cost_ram_gib_hour = host.cost_vcpu_hour, host.cost_ram_gib_hour


_ANY_VM = VMFacts(name="", vcpus=0, memory_mib=0)


class PlanCache:
    """What one plan works out once rather than once per VM: each host's figures, kept
    per ``HostFacts`` object (immutable: a host that takes a VM is a new object)."""

    def __init__(self) -> None:
        self.figures: dict[int, _Figures] = {}
        # per VM size (vCPUs, memory, disk, allocation): per host (id of its figures'
        # facts, kept alive by ``figures``) the refusing filter or -1, the headroom
        # scores and the hourly cost
        self.sized: dict[tuple[int, int, int, int], dict[int, tuple[int, float, float, float]]] = {}
        # per VM size and the dearest candidate's hourly cost: per host its scores, total
        self.scored: dict[tuple, dict[int, tuple[tuple[float, ...], float]]] = {}

    def of(self, host: HostFacts) -> _Figures:
        figures = self.figures.get(id(host))
        if figures is None or figures.facts is not host:
            figures = self.figures[id(host)] = _Figures(host)
        return figures


def _builtin(
    filters: Sequence[tuple[str, HostFilter]], scores: Sequence[tuple[str, Score]]
) -> bool:
    return tuple(filters) == HOST_FILTERS and tuple(scores) == SCORES


def _filter_and_score_default(table: Verdicts, cache: PlanCache) -> list[int]:
    """``HOST_FILTERS`` and ``SCORES`` over the table's hosts, worked out from each host's
    figures with the same arithmetic as the filters and scores themselves; the indexes of
    the hosts that passed. What depends only on the VM's size and the host (the refusing
    filter, the headroom scores, the hourly cost) is kept per size for the next VM."""
    vm = table.vm
    vcpus, memory = vm.vcpus, vm.memory_mib
    disk, allocation = vm.disk_bytes, vm.disk_allocation_bytes
    sized = cache.sized.setdefault((vcpus, memory, disk, allocation), {})
    gib = memory / 1024
    refused = table.refused
    passing: list[int] = []
    hour: list[float] = []
    for i, host in enumerate(table.facts):
        known = sized.get(id(host))
        if known is None:
            f = cache.of(host)
            if f.gate >= 0:
                known = (f.gate, 0.0, 0.0, 0.0)
            elif f.limited and (
                (f.max_vcpus is not None and vcpus > f.max_vcpus)
                or (f.max_memory_mib is not None and memory > f.max_memory_mib)
            ):
                known = (3, 0.0, 0.0, 0.0)
            elif f.used_vcpus + vcpus > f.vcpu_limit:
                known = (4, 0.0, 0.0, 0.0)
            elif f.used_memory_mib + memory > f.memory_limit:
                known = (5, 0.0, 0.0, 0.0)
            elif allocation > f.storage_free or f.used_storage + disk > f.storage_limit:
                known = (6, 0.0, 0.0, 0.0)
            else:
                limit = f.memory_limit
                room = 0.0 if limit <= 0 else 1.0 - (f.used_memory_mib + memory) / limit
                memory_score = round(50.0 * (room if room > 0.0 else 0.0), 2)
                limit = f.vcpu_limit
                room = 0.0 if limit <= 0 else 1.0 - (f.used_vcpus + vcpus) / limit
                cpu_score = round(30.0 * (room if room > 0.0 else 0.0), 2)
                cost = vcpus * f.cost_vcpu_hour + gib * f.cost_ram_gib_hour
                known = (-1, memory_score, cpu_score, cost)
            sized[id(host)] = known
        refused.append(known[0])
        if known[0] < 0:
            passing.append(i)
            hour.append(known[3])
    n = len(table.names)
    scores: list[tuple[float, ...] | None] = [None] * n
    totals: list[float | None] = [None] * n
    table.scores, table.totals = scores, totals
    dearest = max(hour, default=0.0)
    # the scores stay the same for the next VM of this size while the dearest host does
    scored = cache.scored.setdefault((vcpus, memory, disk, allocation, dearest), {})
    facts = table.facts
    for i, cost in zip(passing, hour, strict=True):
        key = id(facts[i])
        done = scored.get(key)
        if done is None:
            _, memory_score, cpu_score, _ = sized[key]
            running = round(0.0 if dearest <= 0 else -20.0 * cost / dearest, 2)
            values = (memory_score, cpu_score, running)
            done = scored[key] = (values, round(sum(values), 2))
        scores[i], totals[i] = done
    return passing


def _filter_and_score(
    table: Verdicts,
    filters: Sequence[tuple[str, HostFilter]],
    scores: Sequence[tuple[str, Score]],
) -> list[int]:
    """``filters`` then ``scores`` over the table's hosts, each called; the indexes of the
    hosts that passed."""
    vm, refused, reasons = table.vm, table.refused, table.reasons
    assert reasons is not None
    checks = [check for _, check in filters]
    passing: list[int] = []
    for i, host in enumerate(table.facts):
        for k, check in enumerate(checks):
            try:
                check(vm, host)
            except Refused as exc:
                refused.append(k)
                reasons.append(str(exc))
                break
        else:
            refused.append(-1)
            reasons.append("")
            passing.append(i)
    n = len(table.names)
    table.scores = [None] * n
    table.totals = [None] * n
    peers = Peers(table.facts[i] for i in passing)
    for i in passing:
        host = table.facts[i]
        values = tuple(round(score(vm, host, peers), 2) for _, score in scores)
        table.scores[i] = values
        table.totals[i] = round(sum(values), 2)
    return passing


def place_vm(
    vm: VMFacts,
    hosts: Mapping[str, HostFacts],
    *,
    source: str,
    dry_run: DryRun,
    filters: Sequence[tuple[str, HostFilter]] = HOST_FILTERS,
    scores: Sequence[tuple[str, Score]] = SCORES,
    cache: PlanCache | None = None,
    check_label: str = "dry run",
) -> tuple[VMPlacement, int]:
    """Where ``vm`` goes among ``hosts`` (the source excluded), and how many dry runs
    that took. ``filters`` and ``scores`` default to the capacity ones; scheduling
    policies add theirs (rules, caps, what their trigger measures) to these. ``cache``
    keeps what a plan of several VMs works out once; ``check_label`` is what the
    verdicts call the dry run."""
    names = sorted(name for name in hosts if name != source)
    default = _builtin(filters, scores)
    table = Verdicts(
        vm,
        names,
        [hosts[name] for name in names],
        [label for label, _ in filters],
        [label for label, _ in scores],
        texts=HOST_FILTER_TEXTS if default else None,
        check_label=check_label,
    )
    if default:
        passing = _filter_and_score_default(table, cache if cache is not None else PlanCache())
    else:
        passing = _filter_and_score(table, filters, scores)
    placement = VMPlacement(
        vm=vm.name, vcpus=vm.vcpus, memory_mib=vm.memory_mib, disk_bytes=vm.disk_bytes, table=table
    )
    totals = table.totals
    ranked = sorted(passing, key=lambda i: -(totals[i] or 0.0))  # stable: ties by name
    dry_runs = 0
    for i in ranked:
        dry_runs += 1
        answer = dry_run(vm, table.facts[i])
        table.asked[i] = answer
        if answer.ok:
            table.target = placement.target = table.names[i]
            placement.path, placement.path_reason = answer.path, answer.reason
            break
    if not placement.target:
        placement.reason = _why_nowhere(table)
    return placement, dry_runs


def _why_nowhere(verdicts: Verdicts) -> str:
    if not len(verdicts):
        return "there is no other platform"
    reasons = "; ".join(f"{name}: {verdicts.reason(i)}" for i, name in enumerate(verdicts.names))
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
    filters: Sequence[tuple[str, HostFilter]] = HOST_FILTERS,
    scores: Sequence[tuple[str, Score]] = SCORES,
    on_move: Callable[[VMFacts, str], None] | None = None,
) -> EvacuationPlan:
    """Where each of ``vms`` (the managed VMs on ``source``) goes among ``hosts``;
    ``filters`` and ``scores`` as ``place_vm`` takes them, ``on_move`` told of each
    VM placed (rules that depend on where VMs are follow the plan with it)."""
    by_name = {h.name: h for h in hosts}
    plan = EvacuationPlan(source=source, unmanaged=sorted(unmanaged))
    plan.hosts_before = {n: usage(h) for n, h in sorted(by_name.items()) if n != source}
    cache = PlanCache()
    for vm in vm_order(vms):
        placement, runs = place_vm(
            vm,
            by_name,
            source=source,
            dry_run=dry_run,
            cache=cache,
            filters=filters,
            scores=scores,
        )
        plan.dry_runs += runs
        if placement.movable:
            plan.moves.append(placement)
            by_name[placement.target] = by_name[placement.target].with_vm(vm)
            if on_move is not None:
                on_move(vm, placement.target)
        else:
            plan.unmovable.append(placement)
    plan.hosts_after = {n: usage(h) for n, h in sorted(by_name.items()) if n != source}
    return plan
