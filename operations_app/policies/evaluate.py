"""One evaluation of one scheduling policy: a fleet snapshot in, a plan out.

Every trigger uses the product's one placement (``placement.evacuation.place_vm``),
with the policy's rules (affinity, platform rules), its caps and what the trigger
measures added as filters and scores, so each action carries the verdict of every
candidate platform. Pure and deterministic: the same snapshot, streaks and dry-run
answers give the same plan.

- utilisation: a platform whose CPU (or memory) use stayed above ``trigger_percent``
  for ``consecutive_evaluations`` evaluations in a row is relieved, one VM at a time
  (the largest users first), until it is at or below ``target_percent``. A move must
  improve the pair's peak by ``min_improvement_percent`` points, must not leave the
  target above the trigger nor above where the source was: no ping-pong.
- cost: a VM moves to the platform where it costs least when the saving over
  ``horizon_days`` pays back the move (disk and memory moved ×
  ``move_cost_per_gib``) and the monthly saving reaches ``min_saving_per_month``.
- evacuation: every VM in scope on the platforms named is placed elsewhere.

A VM the policies moved lately stays put for its cooldown (``cooldown_for``, backing
off with each further move), and at most ``moves_per_run`` actions are planned, at most
``moves_per_platform`` touching one platform.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from operations_app.placement.evacuation import (
    HOST_FILTERS,
    SCORES,
    DryRun,
    HostFacts,
    Refused,
    VMFacts,
    place_vm,
)

from .fleet import FleetHost, FleetSnapshot, FleetVM
from .rules import Rules, host_matches, in_scope

GIB = 1024**3
EVALUATED_TRIGGERS = ("utilisation", "cost", "evacuation", "vulnerability")


class NotEvaluated(ValueError):
    """The policy's trigger cannot be evaluated (the message says why)."""


@dataclass
class Action:
    """One thing the plan would do, with why and what it is predicted to change."""

    kind: str  # "migrate"
    vm: str
    source: str
    target: str
    path: str = ""
    reasons: list[str] = field(default_factory=list)
    effect: dict[str, Any] = field(default_factory=dict)
    placement: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "vm": self.vm,
            "source": self.source,
            "target": self.target,
            "path": self.path,
            "reasons": list(self.reasons),
            "effect": dict(self.effect),
            "placement": self.placement,
        }


@dataclass
class PolicyPlan:
    policy: str
    trigger: str
    taken_at: datetime
    actions: list[Action] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    efficacy: dict[str, Any] = field(default_factory=dict)
    streaks: dict[str, int] = field(default_factory=dict)
    dry_runs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "trigger": self.trigger,
            "taken_at": self.taken_at.isoformat(),
            "actions": [a.to_dict() for a in self.actions],
            "findings": list(self.findings),
            "efficacy": dict(self.efficacy),
            "streaks": dict(self.streaks),
            "dry_runs": self.dry_runs,
        }


def in_cooldown(vm: FleetVM, settings: Any, now: datetime) -> timedelta | None:
    """How long ``vm`` still stays put after the policies' last moves, or None."""
    if not vm.policy_moves:
        return None
    horizon = now - timedelta(minutes=max(settings.cooldown_max_minutes, settings.cooldown_minutes))
    recent = sum(1 for at in vm.policy_moves if at >= horizon) or 1
    until = vm.policy_moves[0] + timedelta(minutes=settings.cooldown_for(recent))
    return until - now if until > now else None


class _Planner:
    """What one evaluation has decided so far: where each VM is, each host's facts
    with the planned moves, how many actions touch each platform."""

    def __init__(self, settings: Any, document: Mapping[str, Any], snapshot: FleetSnapshot):
        self.settings = settings
        self.document = document
        self.snapshot = snapshot
        self.placed = {v.name: v.platform for v in snapshot.vms.values()}
        self.facts = {n: h.facts for n, h in snapshot.hosts.items()}
        self.touches: dict[str, int] = {}
        self.rules = Rules(
            affinity=document.get("affinity") or (),
            platform_rules=document.get("platform_rules") or (),
            snapshot=snapshot,
            placed=self.placed,
        )
        self.moved: set[str] = set()
        # each host's VMs in name order, kept with ``placed``: a host's load is then the
        # sum over its own VMs, not a scan of the fleet
        self.by_host: dict[str, dict[str, FleetVM]] = {n: {} for n in snapshot.hosts}
        for v in snapshot.vms.values():
            self.by_host.setdefault(v.platform, {})[v.name] = v

        self._uses: dict[tuple[str, str], tuple[list[str], list[float]]] = {}

    def load(
        self, metric: str, host: str, *, adding: FleetVM | None = None, removing: str = ""
    ) -> float:
        """``host``'s load with the planned moves (and ``adding`` placed there, or the VM
        named ``removing`` gone): what ``LOADS[metric]`` gives for ``placed``, summed in
        the same (name) order, from the host's own VMs."""
        facts = self.snapshot.hosts[host].facts
        capacity = facts.cpu_count if metric == "cpu" else facts.memory_mib
        if capacity <= 0:
            return 0.0
        key = (metric, host)
        if key not in self._uses:
            on_host = self.by_host.get(host, {})
            self._uses[key] = (list(on_host), [_use(v, metric) for v in on_host.values()])
        names, uses = self._uses[key]
        if removing in names:
            i = names.index(removing)
            used = sum(uses[i + 1 :], sum(uses[:i]))
        elif adding is not None:
            i = bisect.bisect(names, adding.name)
            used = sum(uses[i:], sum(uses[:i]) + _use(adding, metric))
        else:
            used = sum(uses)
        return 100.0 * used / capacity

    # -- extra filters and scores every trigger uses

    def cap_filter(self, vm: VMFacts, host: HostFacts) -> None:
        cap = self.settings.moves_per_platform
        if self.touches.get(host.name, 0) >= cap:
            raise Refused(f"{host.name} already takes {cap} move(s) in this plan")

    def filters(self, *extra: tuple[str, Callable]) -> tuple:
        return (
            *HOST_FILTERS[:3],
            ("moves at once", self.cap_filter),
            *self.rules.filters(),
            *HOST_FILTERS[3:],
            *extra,
        )

    def scores(self, *extra: tuple[str, Callable]) -> tuple:
        """The shared scores, then the strategy's; a strategy's score of the same name
        (the vulnerability trigger's own "exposure") takes the shared one's place."""
        own = {name for name, _ in extra}
        shared = (
            *SCORES,
            ("platform preference", self.rules.preference),
            ("exposure", self.exposure_score),
        )
        return (*(s for s in shared if s[0] not in own), *extra)

    def exposure_score(self, facts: VMFacts, host: HostFacts, peers: Sequence[HostFacts]) -> float:
        """-20–0: the worst advisory the platform is exposed to (CVSS × 2), so that among
        platforms otherwise alike the less exposed takes the VM."""
        fleet_host = self.snapshot.hosts.get(host.name)
        worst = max(
            (c for _, c in (fleet_host.advisories if fleet_host else ()) if c is not None),
            default=0.0,
        )
        return round(-2.0 * worst, 2)

    def movable(self, vm: FleetVM) -> str:
        """Why the policy leaves ``vm`` where it is, or ""."""
        if not vm.managed:
            return "not managed by VM Persona"
        if vm.name in self.moved:
            return "already moved in this plan"
        if not in_scope(self.document.get("scope"), vm):
            return "outside the policy's scope"
        left = in_cooldown(vm, self.settings, self.snapshot.taken_at)
        if left is not None:
            return f"in its cooldown for {int(left.total_seconds() // 60)} more minutes"
        return ""

    def source_may_move(self, source: str) -> str:
        cap = self.settings.moves_per_platform
        if self.touches.get(source, 0) >= cap:
            return f"{source} already has {cap} move(s) in this plan"
        return ""

    def record(self, vm: FleetVM, target: str) -> None:
        source = self.placed[vm.name]
        self.placed[vm.name] = target
        self.facts[target] = self.facts[target].with_vm(vm.facts)
        self.touches[source] = self.touches.get(source, 0) + 1
        self.touches[target] = self.touches.get(target, 0) + 1
        self.moved.add(vm.name)
        self.by_host.get(source, {}).pop(vm.name, None)
        on_target = self.by_host.setdefault(target, {})
        on_target[vm.name] = vm
        self.by_host[target] = dict(sorted(on_target.items()))
        self.rules.generation += 1
        for key in [k for k in self._uses if k[1] in (source, target)]:
            del self._uses[key]

    def hosts_for(self, source: str) -> dict[str, HostFacts]:
        return {n: f for n, f in self.facts.items() if n != source}


def _use(vm: FleetVM, metric: str) -> float:
    """What ``vm`` adds to its host's load (``fleet.load_of``)."""
    return vm.cpu_cores if metric == "cpu" else (vm.memory_used_mib or vm.facts.memory_mib)


def evaluate(
    settings: Any,
    document: Mapping[str, Any],
    snapshot: FleetSnapshot,
    *,
    streaks: Mapping[str, int] | None = None,
    dry_run: DryRun,
) -> PolicyPlan:
    """The plan of one evaluation of the policy (``settings`` from
    ``profiles_app.scheduling.settings.policy_settings(document)``)."""
    if settings.trigger not in EVALUATED_TRIGGERS:
        raise NotEvaluated(f"{settings.trigger} policies are not evaluated: the trigger is unknown")
    plan = PolicyPlan(policy=settings.name, trigger=settings.trigger, taken_at=snapshot.taken_at)
    planner = _Planner(settings, document, snapshot)
    strategy = {
        "utilisation": _utilisation,
        "cost": _cost,
        "evacuation": _evacuation,
        "vulnerability": _vulnerability,
    }
    strategy[settings.trigger](planner, plan, dict(streaks or {}), dry_run)
    if not plan.actions and not plan.findings:
        plan.findings.append("nothing to do")
    return plan


# --------------------------------------------------------------------------- utilisation


def _utilisation(
    planner: _Planner, plan: PolicyPlan, streaks: dict[str, int], dry_run: DryRun
) -> None:
    settings, snapshot = planner.settings, planner.snapshot
    metric = settings.metric

    def load(snapshot: FleetSnapshot, host: str, placed: Mapping[str, str]) -> float:
        # LOADS[metric] for the planner's ``placed``, from each host's own VMs
        return planner.load(metric, host)

    platforms = (planner.document.get("scope") or {}).get("platforms")
    watched = [n for n in snapshot.hosts if not platforms or n in platforms]
    before = {n: round(load(snapshot, n, planner.placed), 2) for n in snapshot.hosts}
    for name in watched:
        streaks[name] = streaks.get(name, 0) + 1 if before[name] > settings.trigger_percent else 0
    plan.streaks = {n: streaks.get(n, 0) for n in watched}
    hot = sorted(
        (n for n in watched if before[n] > settings.trigger_percent),
        key=lambda n: (-before[n], n),
    )
    for name in hot:
        if streaks[name] < settings.consecutive_evaluations:
            plan.findings.append(
                f"{name} is at {before[name]:.1f} % {settings.metric}, above "
                f"{settings.trigger_percent:g} % for {streaks[name]} of the "
                f"{settings.consecutive_evaluations} evaluations in a row it must be"
            )
            continue
        _relieve(planner, plan, name, load, dry_run)
    after = {n: round(load(snapshot, n, planner.placed), 2) for n in snapshot.hosts}
    plan.efficacy = {
        "metric": settings.metric,
        "load_before": before,
        "load_after": after,
        "spread_before": _spread(before, watched),
        "spread_after": _spread(after, watched),
        "peak_before": max((before[n] for n in watched), default=0.0),
        "peak_after": max((after[n] for n in watched), default=0.0),
    }


def _spread(loads: Mapping[str, float], names: Sequence[str]) -> float:
    values = [loads[n] for n in names]
    return round(max(values) - min(values), 2) if values else 0.0


def _relieve(
    planner: _Planner, plan: PolicyPlan, source: str, load: Callable, dry_run: DryRun
) -> None:
    settings, snapshot = planner.settings, planner.snapshot
    key = (
        (lambda v: v.cpu_cores)
        if settings.metric == "cpu"
        else (lambda v: v.memory_used_mib or v.facts.memory_mib)
    )
    while load(snapshot, source, planner.placed) > settings.target_percent:
        if len(plan.actions) >= settings.moves_per_run:
            plan.findings.append(
                f"{source} is still above target: the plan holds {settings.moves_per_run} moves at most"
            )
            return
        busy = planner.source_may_move(source)
        if busy:
            plan.findings.append(f"{source} is still above target: {busy}")
            return
        candidates = sorted(
            planner.by_host.get(source, {}).values(), key=lambda v: (-key(v), v.name)
        )
        why_not = []
        for vm in candidates:
            reason = planner.movable(vm)
            if reason:
                why_not.append(f"{vm.name}: {reason}")
                continue
            action = _try_move(planner, plan, vm, source, load, dry_run)
            if action is not None:
                if why_not:
                    plan.findings.append(f"{action.vm} moved rather than {'; '.join(why_not)}")
                break
            why_not.append(f"{vm.name}: {plan.findings.pop()}")
        else:
            plan.findings.append(
                f"{source} stays at {load(snapshot, source, planner.placed):.1f} % "
                f"{settings.metric}: no VM can move ({'; '.join(why_not) or 'no VMs'})"
            )
            return


def _try_move(
    planner: _Planner, plan: PolicyPlan, vm: FleetVM, source: str, load: Callable, dry_run: DryRun
) -> Action | None:
    settings, snapshot = planner.settings, planner.snapshot
    source_before = load(snapshot, source, planner.placed)
    source_after = planner.load(settings.metric, source, removing=vm.name)

    def target_after(host: str) -> float:
        return planner.load(settings.metric, host, adding=vm)

    def load_filter(facts: VMFacts, host: HostFacts) -> None:
        after = target_after(host.name)
        if after > settings.trigger_percent:
            raise Refused(
                f"{host.name} would be at {after:.1f} %, above the trigger ({settings.trigger_percent:g} %)"
            )
        gain = source_before - max(source_after, after)
        if gain < settings.min_improvement_percent:
            raise Refused(
                f"the move would improve the peak by {gain:.1f} points, less than "
                f"{settings.min_improvement_percent:g}"
            )

    def lightness(facts: VMFacts, host: HostFacts, peers: Sequence[HostFacts]) -> float:
        return round(-0.4 * target_after(host.name), 2)

    placement, runs = place_vm(
        vm.facts,
        planner.hosts_for(source),
        source=source,
        dry_run=dry_run,
        filters=planner.filters((f"{settings.metric} after the move", load_filter)),
        scores=planner.scores(("load after the move", lightness)),
    )
    plan.dry_runs += runs
    if not placement.movable:
        plan.findings.append(placement.reason)
        return None
    target = placement.target
    after = target_after(target)
    action = Action(
        kind="migrate",
        vm=vm.name,
        source=source,
        target=target,
        path=placement.path,
        reasons=[
            f"{source} at {source_before:.1f} % {settings.metric} (trigger {settings.trigger_percent:g} %, target {settings.target_percent:g} %)",
            f"{vm.name} uses {vm.cpu_cores:.2f} CPUs"
            if settings.metric == "cpu"
            else f"{vm.name} uses {vm.memory_used_mib or vm.facts.memory_mib:.0f} MiB",
            f"{target} would be at {after:.1f} %; {placement.path}: {placement.path_reason}",
        ],
        effect={
            "source_load": [round(source_before, 2), round(source_after, 2)],
            "target_load": [round(load(snapshot, target, planner.placed), 2), round(after, 2)],
            "moved_gib": round(
                (vm.facts.disk_allocation_bytes + vm.facts.memory_mib * 1024**2) / GIB, 2
            ),
        },
        placement=placement.to_dict(),
    )
    planner.record(vm, target)
    plan.actions.append(action)
    return action


# --------------------------------------------------------------------------- cost


def _cost(planner: _Planner, plan: PolicyPlan, streaks: dict[str, int], dry_run: DryRun) -> None:
    settings, snapshot = planner.settings, planner.snapshot
    hosts = snapshot.hosts
    currency = main_currency(snapshot)
    total_before = fleet_monthly_cost(
        snapshot, {v.name: v.platform for v in snapshot.vms.values()}, currency
    )
    # A VM's cost depends on a host's rates only: the cheapest elsewhere is found among
    # the fleet's few rate cards, not its every host.
    # A platform without rates has no known cost (it is not free), and costs in different
    # currencies are not compared: neither is a cheaper place.
    unrated = sorted(n for n, h in hosts.items() if not _rated(h))
    if unrated:
        plan.findings.append(
            f"no rates set on {', '.join(unrated[:10])}{' …' if len(unrated) > 10 else ''}: "
            "VMs neither leave nor go there for their cost"
        )
    cards: dict[tuple[str, float, float, float], list[str]] = {}
    for n, h in hosts.items():
        if _rated(h):
            cards.setdefault(
                (h.currency, h.cost_vcpu_hour, h.cost_ram_gib_hour, h.cost_storage_gib_month), []
            ).append(n)
    chances = []
    for vm in snapshot.vms.values():
        if vm.platform not in hosts or not _rated(hosts[vm.platform]):
            continue
        home = hosts[vm.platform]
        here = vm.monthly_cost(home)
        cheapest = min(
            (
                vm.monthly_cost(hosts[names[0] if names[0] != vm.platform else names[1]])
                for card, names in cards.items()
                if names != [vm.platform] and card[0] == home.currency
            ),
            default=here,
        )
        if here - cheapest > 0:
            chances.append((here - cheapest, vm))
    for _, vm in sorted(chances, key=lambda c: (-c[0], c[1].name)):
        if len(plan.actions) >= settings.moves_per_run:
            plan.findings.append(f"the plan holds {settings.moves_per_run} moves at most")
            break
        reason = planner.movable(vm) or planner.source_may_move(vm.platform)
        if reason:
            plan.findings.append(f"{vm.name} could save but stays: {reason}")
            continue
        _try_cheaper(planner, plan, vm, dry_run)
    total_after = fleet_monthly_cost(snapshot, planner.placed, currency)
    others = sorted({h.currency for h in hosts.values() if _rated(h)} - {currency})
    if others:
        plan.findings.append(
            f"the totals are in {currency}; platforms priced in {', '.join(others)} are "
            "counted apart (amounts in different currencies are never added)"
        )
    plan.efficacy = {
        "monthly_cost_before": total_before,
        "monthly_cost_after": total_after,
        "monthly_saving": round(total_before - total_after, 2),
        "currency": currency,
    }


def main_currency(snapshot: FleetSnapshot) -> str:
    """The currency most of the fleet's rated platforms price in (ties: alphabetical)."""
    counts: dict[str, int] = {}
    for h in snapshot.hosts.values():
        if _rated(h):
            counts[h.currency] = counts.get(h.currency, 0) + 1
    return min(counts, key=lambda c: (-counts[c], c)) if counts else "EUR"


def fleet_monthly_cost(
    snapshot: FleetSnapshot, placed: Mapping[str, str | None], currency: str
) -> float:
    """What the VMs cost a month where ``placed`` puts them, on the rated platforms
    priced in ``currency``."""
    total = 0.0
    for v in snapshot.vms.values():
        host = snapshot.hosts.get(placed.get(v.name) or "")
        if host is not None and _rated(host) and host.currency == currency:
            total += v.monthly_cost(host)
    return round(total, 2)


def _rated(host: FleetHost) -> bool:
    """Whether the platform declares any rate: one without rates has no known cost."""
    return bool(host.cost_vcpu_hour or host.cost_ram_gib_hour or host.cost_storage_gib_month)


def _try_cheaper(planner: _Planner, plan: PolicyPlan, vm: FleetVM, dry_run: DryRun) -> None:
    settings, snapshot = planner.settings, planner.snapshot
    source = vm.platform
    here = vm.monthly_cost(snapshot.hosts[source])
    moved_gib = (vm.facts.disk_allocation_bytes + vm.facts.memory_mib * 1024**2) / GIB
    move_cost = moved_gib * settings.move_cost_per_gib

    def pays_back(facts: VMFacts, host: HostFacts) -> None:
        other = snapshot.hosts[host.name]
        if not _rated(other):
            raise Refused(f"no rates set on {host.name}: its cost is not known")
        if other.currency != snapshot.hosts[source].currency:
            raise Refused(
                f"{host.name} prices in {other.currency}, {source} in "
                f"{snapshot.hosts[source].currency}: the costs are not compared"
            )
        there = vm.monthly_cost(other)
        saving = here - there
        if saving < max(settings.min_saving_per_month, 1e-9):
            raise Refused(
                f"saves {saving:.2f} a month, less than {settings.min_saving_per_month:g}"
            )
        over = saving * settings.horizon_days / 30.0
        if over <= move_cost:
            raise Refused(
                f"saves {over:.2f} over {settings.horizon_days} days, not more than the move costs ({move_cost:.2f})"
            )

    def saving_score(facts: VMFacts, host: HostFacts, peers: Sequence[HostFacts]) -> float:
        return (
            round(100.0 * (here - vm.monthly_cost(snapshot.hosts[host.name])) / here, 2)
            if here
            else 0.0
        )

    placement, runs = place_vm(
        vm.facts,
        planner.hosts_for(source),
        source=source,
        dry_run=dry_run,
        filters=planner.filters(("pays back", pays_back)),
        scores=planner.scores(("saving", saving_score)),
    )
    plan.dry_runs += runs
    if not placement.movable:
        plan.findings.append(f"{vm.name} stays on {source}: {placement.reason}")
        return
    target = placement.target
    there = vm.monthly_cost(snapshot.hosts[target])
    saving = here - there
    plan.actions.append(
        Action(
            kind="migrate",
            vm=vm.name,
            source=source,
            target=target,
            path=placement.path,
            reasons=[
                f"{vm.name} costs {here:.2f} a month on {source}, {there:.2f} on {target}",
                f"the move ({moved_gib:.1f} GiB) costs {move_cost:.2f} and pays back in "
                f"{(move_cost / (saving / 30.0)) if saving else 0:.1f} days",
                f"{placement.path}: {placement.path_reason}",
            ],
            effect={
                "monthly_cost": [round(here, 2), round(there, 2)],
                "monthly_saving": round(saving, 2),
                "move_cost": round(move_cost, 2),
                "payback_days": round(move_cost / (saving / 30.0), 1) if saving else None,
                "moved_gib": round(moved_gib, 2),
            },
            placement=placement.to_dict(),
        )
    )
    planner.record(vm, target)


# --------------------------------------------------------------------------- evacuation


def _evacuation(
    planner: _Planner, plan: PolicyPlan, streaks: dict[str, int], dry_run: DryRun
) -> None:
    settings, snapshot = planner.settings, planner.snapshot
    selector = (planner.document.get("evacuation") or {}).get("platforms")
    emptied = [n for n, h in snapshot.hosts.items() if host_matches(selector, n, h.labels)]
    if not emptied:
        plan.findings.append("no platform matches the evacuation's selector")
    # nothing is placed on a platform being emptied
    for name in emptied:
        planner.facts[name] = _closed(planner.facts[name])
    for source in emptied:
        vms = sorted(
            (v for v in snapshot.vms.values() if v.platform == source),
            key=lambda v: (-v.facts.memory_mib, -v.facts.vcpus, v.name),
        )
        for vm in vms:
            if len(plan.actions) >= settings.moves_per_run:
                plan.findings.append(f"the plan holds {settings.moves_per_run} moves at most")
                break
            reason = planner.movable(vm) or planner.source_may_move(source)
            if reason:
                plan.findings.append(f"{vm.name} stays on {source}: {reason}")
                continue
            placement, runs = place_vm(
                vm.facts,
                planner.hosts_for(source),
                source=source,
                dry_run=dry_run,
                filters=planner.filters(),
                scores=planner.scores(),
            )
            plan.dry_runs += runs
            if not placement.movable:
                plan.findings.append(f"{vm.name} stays on {source}: {placement.reason}")
                continue
            plan.actions.append(
                Action(
                    kind="migrate",
                    vm=vm.name,
                    source=source,
                    target=placement.target,
                    path=placement.path,
                    reasons=[
                        f"{source} is to be emptied",
                        f"{placement.path}: {placement.path_reason}",
                    ],
                    effect={
                        "moved_gib": round(
                            (vm.facts.disk_allocation_bytes + vm.facts.memory_mib * 1024**2) / GIB,
                            2,
                        )
                    },
                    placement=placement.to_dict(),
                )
            )
            planner.record(vm, placement.target)
    left = {
        n: sum(1 for v in snapshot.vms.values() if planner.placed[v.name] == n) for n in emptied
    }
    plan.efficacy = {"vms_left": left}


def _closed(facts: HostFacts) -> HostFacts:
    from dataclasses import replace

    return replace(facts, maintenance=facts.maintenance or "being emptied by the policy")


# --------------------------------------------------------------------------- vulnerability
#
# Advisories at or above ``min_cvss`` count (an advisory without a score counts for
# none). A platform's exposure is its counted advisories' scores, worst first; one
# platform is less exposed than another when that list is lower, compared worst first
# (a single 7.5 is less than a 9.8; 9.8 alone is less than 9.8 and 7.0). A VM on an
# exposed platform moves only to a platform strictly less exposed. A VM whose own
# applications are exposed is not helped by a move: it is replaced by a clone of its
# profile's newer approved version when that one is not exposed, else its profile's
# authors are told.


def _counted(
    advisories: Sequence[tuple[str, float | None]], min_cvss: float
) -> tuple[tuple[str, float], ...]:
    return tuple(
        sorted(
            (
                (name, float(cvss))
                for name, cvss in advisories
                if cvss is not None and cvss >= min_cvss
            ),
            key=lambda a: (-a[1], a[0]),
        )
    )


def _severity(counted: Sequence[tuple[str, float]]) -> tuple[float, ...]:
    return tuple(cvss for _, cvss in counted)


def _names(counted: Sequence[tuple[str, float]]) -> str:
    return ", ".join(f"{name} ({cvss:g})" for name, cvss in counted) or "none"


def _merged(*lists: Sequence[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    found: dict[str, float] = {}
    for items in lists:
        for name, cvss in items:
            found[name] = max(cvss, found.get(name, cvss))
    return tuple(sorted(found.items(), key=lambda a: (-a[1], a[0])))


def _restart_finding(vm: FleetVM, source: str, stale: Sequence[tuple[str, float]]) -> str:
    return (
        f"restart {vm.name} to pick up QEMU {vm.installed_qemu}: it runs QEMU "
        f"{vm.running_qemu}, older than the one installed on {source}, and stays exposed to "
        f"{_names(stale)} until it is restarted or moved"
    )


def _vulnerability(
    planner: _Planner, plan: PolicyPlan, streaks: dict[str, int], dry_run: DryRun
) -> None:
    settings, snapshot = planner.settings, planner.snapshot
    min_cvss, at_once = settings.min_cvss, settings.approve_at_once_cvss
    exposure = {n: _counted(h.advisories, min_cvss) for n, h in snapshot.hosts.items()}
    # VMs whose QEMU process is older than the installed one, exposed beyond their platform
    stale = {
        v.name: counted
        for v in snapshot.vms.values()
        if v.running_qemu and (counted := _counted(v.qemu_advisories, min_cvss))
    }
    worst: list[float] = []
    fixed: dict[str, list[str]] = {}
    exposed_profiles: dict[str, list[str]] = {}
    replaced = _replace_exposed_vms(planner, plan, worst, fixed, exposed_profiles)
    with_stale = {snapshot.vms[name].platform for name in stale}
    # the most exposed platforms first, then those exposed only through older QEMUs
    sources = sorted(
        (n for n in snapshot.hosts if exposure[n] or n in with_stale),
        key=lambda n: (not exposure[n], tuple(-c for c in _severity(exposure[n])), n),
    )
    for source in sources:
        vms = sorted(
            (
                v
                for v in snapshot.vms.values()
                if v.platform == source and (exposure[source] or v.name in stale)
            ),
            key=lambda v: v.name,
        )
        for vm in vms:
            if not in_scope(planner.document.get("scope"), vm) or vm.name in replaced:
                continue  # a VM replaced in this plan is decommissioned, not moved
            here = _merged(exposure[source], stale.get(vm.name, ()))
            if len(plan.actions) >= settings.moves_per_run:
                plan.findings.append(f"the plan holds {settings.moves_per_run} actions at most")
                if vm.name in stale:
                    plan.findings.append(_restart_finding(vm, source, stale[vm.name]))
                break
            reason = planner.movable(vm) or planner.source_may_move(source)
            if reason:
                plan.findings.append(
                    f"{vm.name} stays on {source} (exposed to {_names(here)}): {reason}"
                )
                if vm.name in stale:
                    plan.findings.append(_restart_finding(vm, source, stale[vm.name]))
                continue
            action = _less_exposed(planner, plan, vm, source, exposure, dry_run, here=here)
            if action is not None:
                fixed[vm.name] = action.effect["advisories_fixed"]
                worst.extend(c for _, c in here)
            elif vm.name in stale:
                plan.findings.append(_restart_finding(vm, source, stale[vm.name]))

    def exposed_after(v: FleetVM) -> bool:
        moved = planner.placed[v.name] != v.platform
        return bool(exposure.get(planner.placed[v.name])) or (v.name in stale and not moved)

    plan.efficacy = {
        "min_cvss": min_cvss,
        "approve_at_once_cvss": at_once,
        "exposure_before": {n: [list(a) for a in exposure[n]] for n in snapshot.hosts},
        "vms_exposed_before": sum(
            1 for v in snapshot.vms.values() if exposure.get(v.platform) or v.name in stale
        ),
        "vms_exposed_after": sum(1 for v in snapshot.vms.values() if exposed_after(v)),
        "advisories_fixed": {vm: ids for vm, ids in sorted(fixed.items())},
        "older_qemu": {
            name: {
                "running": snapshot.vms[name].running_qemu,
                "installed": snapshot.vms[name].installed_qemu,
                "advisories": [a for a, _ in counted],
            }
            for name, counted in sorted(stale.items())
        },
        "exposed_profiles": {p: sorted(set(ids)) for p, ids in sorted(exposed_profiles.items())},
        "worst_cvss": max(worst, default=None),
        "approve_at_once": bool(worst) and max(worst) >= at_once,
    }


def _less_exposed(
    planner: _Planner,
    plan: PolicyPlan,
    vm: FleetVM,
    source: str,
    exposure: Mapping[str, tuple[tuple[str, float], ...]],
    dry_run: DryRun,
    *,
    here: tuple[tuple[str, float], ...],
) -> Action | None:
    """A move of ``vm`` to a platform strictly less exposed than ``here`` (its platform's
    exposure, and what its older QEMU process adds: any move starts a new process)."""

    def less_exposed(facts: VMFacts, host: HostFacts) -> None:
        there = exposure.get(host.name, ())
        if _severity(there) >= _severity(here):
            raise Refused(
                f"{host.name} is not less exposed ({_names(there)}; {source}: {_names(here)})"
            )

    def exposure_score(facts: VMFacts, host: HostFacts, peers: Sequence[HostFacts]) -> float:
        there = exposure.get(host.name, ())
        return round(-5.0 * len(there) - sum(c for _, c in there), 2)

    placement, runs = place_vm(
        vm.facts,
        planner.hosts_for(source),
        source=source,
        dry_run=dry_run,
        filters=planner.filters(("less exposed", less_exposed)),
        scores=planner.scores(("exposure", exposure_score)),
    )
    plan.dry_runs += runs
    if not placement.movable:
        plan.findings.append(
            f"{vm.name} stays on {source} (exposed to {_names(here)}): {placement.reason}"
        )
        return None
    target = placement.target
    there = exposure.get(target, ())
    gone = [name for name, _ in here if name not in {n for n, _ in there}]
    action = Action(
        kind="migrate",
        vm=vm.name,
        source=source,
        target=target,
        path=placement.path,
        reasons=[
            *(
                [
                    f"{vm.name} runs QEMU {vm.running_qemu}, older than the {vm.installed_qemu} "
                    f"installed on {source}: a live migration starts a new QEMU process"
                ]
                if vm.running_qemu
                else []
            ),
            f"{source if here == exposure.get(source) else vm.name} is exposed to {_names(here)} "
            f"(CVSS at or above {planner.settings.min_cvss:g})",
            f"on {target} {vm.name} is no longer exposed to {', '.join(gone) or 'the worst of them'}"
            f"; {target} is exposed to {_names(there)}",
            f"{placement.path}: {placement.path_reason}",
        ],
        effect={
            "exposure_before": [list(a) for a in here],
            "exposure_after": [list(a) for a in there],
            "advisories_fixed": gone,
            "moved_gib": round(
                (vm.facts.disk_allocation_bytes + vm.facts.memory_mib * 1024**2) / GIB, 2
            ),
        },
        placement=placement.to_dict(),
    )
    planner.record(vm, target)
    plan.actions.append(action)
    return action


def _replace_exposed_vms(
    planner: _Planner,
    plan: PolicyPlan,
    worst: list[float],
    fixed: dict[str, list[str]],
    exposed_profiles: dict[str, list[str]],
) -> set[str]:
    """VMs whose own applications are exposed: a clone of the newer approved version
    that is not, or a finding and the profile's authors told. The VMs replaced."""
    settings, snapshot = planner.settings, planner.snapshot
    replaced: set[str] = set()
    for vm in snapshot.vms.values():
        own = _counted(vm.advisories, settings.min_cvss)
        if not own or not vm.managed or not in_scope(planner.document.get("scope"), vm):
            continue
        newer = _counted(vm.replacement_advisories, settings.min_cvss)
        if not vm.replacement or newer:
            exposed_profiles.setdefault(vm.profile, []).extend(name for name, _ in own)
            plan.findings.append(
                f"{vm.name}'s own applications ({vm.profile_version}) are exposed to "
                f"{_names(own)}: a move cannot fix that, and "
                + (
                    f"{vm.replacement} is exposed too ({_names(newer)})"
                    if vm.replacement
                    else "no newer approved version of its profile exists"
                )
                + f"; the authors of {vm.profile} are told"
            )
            continue
        if len(plan.actions) >= settings.moves_per_run:
            plan.findings.append(
                f"{vm.name} waits for a later plan: the plan holds {settings.moves_per_run} actions at most"
            )
            continue
        gone = [name for name, _ in own]
        plan.actions.append(
            Action(
                kind="clone",
                vm=vm.name,
                source=vm.platform,
                target=vm.platform,
                reasons=[
                    f"{vm.name}'s own applications ({vm.profile_version}) are exposed to "
                    f"{_names(own)}: a move cannot fix that",
                    f"{vm.replacement} is not exposed to them: a replacement is cloned from it "
                    f"on {vm.platform}; {vm.name} stays until it is decommissioned",
                ],
                effect={
                    "replacement": vm.replacement,
                    "exposure_before": [list(a) for a in own],
                    "exposure_after": [],
                    "advisories_fixed": gone,
                },
            )
        )
        fixed[vm.name] = gone
        worst.extend(c for _, c in own)
        replaced.add(vm.name)
    return replaced
