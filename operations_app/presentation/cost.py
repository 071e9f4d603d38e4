"""The fleet's cost and utilisation as the cost page, ``/api/v1/cost/`` and ``persona
cost`` show them.

A pure function from the rows ``selectors.cost.cost_rows`` read to the figures; no
queries and no writes. Each VM costs what the scheduling policies say it costs
(``FleetVM.monthly_cost``: vCPUs and memory at the platform's hourly rates for 730
hours, its profile's disks at the monthly storage rate), and each platform's capacity is
the one placement decides with (``services.placement.host_facts_of``: the last probe,
the declared overcommit, the vCPUs and memory of the VMs there). Figures are grouped by
currency, and amounts in different currencies are never added. A platform without
rates has no cost to show: it is listed as such, never as costing nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from operations_app.models import ManagedVM, Platform, PolicyPlanAction, VMState
from operations_app.placement.evacuation import HostFacts, VMFacts
from operations_app.policies.fleet import FleetHost, FleetVM, profile_disk_bytes
from operations_app.presentation.bars import BarChart, BarItem, bar_chart
from operations_app.presentation.formatting import mib_text, percent, size_text
from operations_app.selectors.cost import CostRows
from operations_app.services.placement import host_facts_of

GIB = 1024**3
NO_PROFILE = "no profile"


def money(value: float | None, currency: str) -> str:
    """``1,234.56 EUR``; "—" when there is no amount."""
    return "—" if value is None else f"{value:,.2f} {currency}"


def rates_set(platform: Platform) -> bool:
    return bool(
        platform.cost_vcpu_hour or platform.cost_ram_gib_hour or platform.cost_storage_gib_month
    )


@dataclass(frozen=True)
class Capacity:
    """Committed against what the platform has and what it allows (with overcommit)."""

    label: str  # what is counted: vCPUs, Memory, Storage
    committed: float
    capacity: float
    overcommit: float
    text: str  # "6 / 8"
    limit_text: str  # "32 at ×4.0"

    @property
    def limit(self) -> float:
        return self.capacity * self.overcommit

    @property
    def percent(self) -> float | None:
        """Committed in percent of the capacity (above 100 when overcommitted)."""
        return percent(self.committed, self.capacity)

    @property
    def limit_percent(self) -> float | None:
        """Committed in percent of what the overcommit allows."""
        return percent(self.committed, self.limit)

    @property
    def bar(self) -> float:
        return min(self.limit_percent or 0.0, 100.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "committed": self.committed,
            "capacity": self.capacity,
            "overcommit": self.overcommit,
            "limit": self.limit,
            "percent": self.percent,
            "limit_percent": self.limit_percent,
        }


@dataclass(frozen=True)
class InUse:
    """What the VMs used lately, against the platform's own capacity."""

    used: float
    capacity: float
    text: str

    @property
    def percent(self) -> float | None:
        return percent(self.used, self.capacity)

    def to_dict(self) -> dict[str, Any]:
        return {"used": round(self.used, 2), "capacity": self.capacity, "percent": self.percent}


@dataclass(frozen=True)
class PlatformCost:
    name: str
    url: str
    currency: str
    rates_set: bool
    rates: dict[str, float]
    vm_count: int
    running_count: int
    monthly_cost: float | None  # None without rates
    probed: bool
    vcpus: Capacity
    memory: Capacity
    storage: Capacity
    cpu_in_use: InUse
    memory_in_use: InUse
    sampled_vms: int

    @property
    def cost_text(self) -> str:
        return money(self.monthly_cost, self.currency) if self.rates_set else "no rates set"

    @property
    def capacities(self) -> list[Capacity]:
        return [self.vcpus, self.memory, self.storage]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "currency": self.currency,
            "rates_set": self.rates_set,
            "rates": self.rates,
            "monthly_cost": self.monthly_cost,
            "vm_count": self.vm_count,
            "running_count": self.running_count,
            "utilisation": {
                "probed": self.probed,
                "vcpus": self.vcpus.to_dict(),
                "memory_mib": self.memory.to_dict(),
                "storage_bytes": self.storage.to_dict(),
                "cpu_in_use_cores": self.cpu_in_use.to_dict(),
                "memory_in_use_mib": self.memory_in_use.to_dict(),
                "sampled_vms": self.sampled_vms,
            },
        }


@dataclass(frozen=True)
class ProfileCost:
    profile: str  # "" for VMs without a profile
    currency: str
    vm_count: int
    monthly_cost: float

    @property
    def name(self) -> str:
        return self.profile or NO_PROFILE

    @property
    def cost_text(self) -> str:
        return money(self.monthly_cost, self.currency)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "vm_count": self.vm_count,
            "monthly_cost": self.monthly_cost,
        }


@dataclass(frozen=True)
class PlanRef:
    pk: int
    policy: str
    status: str  # proposed, approved
    status_text: str
    url: str


@dataclass(frozen=True)
class Savings:
    """What the open cost plans' actions that have not run yet would change."""

    currency: str
    monthly_saving: float
    move_cost: float
    action_count: int
    plans: list[PlanRef]

    @property
    def saving_text(self) -> str:
        return money(self.monthly_saving, self.currency)

    @property
    def move_cost_text(self) -> str:
        return money(self.move_cost, self.currency)

    @property
    def payback_days(self) -> float | None:
        """The days the saving takes to pay for the moves (as the policies count it)."""
        if self.monthly_saving <= 0:
            return None
        return round(self.move_cost / (self.monthly_saving / 30.0), 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "monthly_saving": self.monthly_saving,
            "move_cost": self.move_cost,
            "payback_days": self.payback_days,
            "actions": self.action_count,
            "plans": [{"id": p.pk, "policy": p.policy, "status": p.status} for p in self.plans],
        }


@dataclass(frozen=True)
class CurrencyGroup:
    """Everything priced in one currency."""

    currency: str
    monthly_cost: float
    vm_count: int
    platforms: list[PlatformCost]
    profiles: list[ProfileCost]
    savings: Savings
    charts: list[BarChart] = field(compare=False)

    @property
    def cost_text(self) -> str:
        return money(self.monthly_cost, self.currency)

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "monthly_cost": self.monthly_cost,
            "vm_count": self.vm_count,
            "platforms": [
                {"name": p.name, "vm_count": p.vm_count, "monthly_cost": p.monthly_cost}
                for p in self.platforms
            ],
            "profiles": [p.to_dict() for p in self.profiles],
            "savings": self.savings.to_dict(),
        }


@dataclass(frozen=True)
class CostReport:
    taken_at: datetime
    currency: str  # the filters
    label: str
    currencies: list[str]  # every platform's currency
    platform_count: int  # before the filters
    sample_minutes: int
    platforms: list[PlatformCost]
    groups: list[CurrencyGroup]
    not_counted: list[dict[str, Any]]  # plan actions between currencies

    @property
    def no_platforms(self) -> bool:
        return self.platform_count == 0

    @property
    def unrated(self) -> list[PlatformCost]:
        return [p for p in self.platforms if not p.rates_set]

    @property
    def no_rates(self) -> bool:
        """Platforms to show, none with rates: there is no cost to tell."""
        return bool(self.platforms) and not any(p.rates_set for p in self.platforms)

    @property
    def vm_count(self) -> int:
        return sum(p.vm_count for p in self.platforms)

    @property
    def running_count(self) -> int:
        return sum(p.running_count for p in self.platforms)

    @property
    def filtered(self) -> bool:
        return bool(self.currency or self.label)

    def to_dict(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at.isoformat(),
            "filters": {"currency": self.currency, "label": self.label},
            "currencies": self.currencies,
            "sample_minutes": self.sample_minutes,
            "vm_count": self.vm_count,
            "running_count": self.running_count,
            "totals": [g.to_dict() for g in self.groups],
            "platforms": [p.to_dict() for p in self.platforms],
            "unrated_platforms": [p.name for p in self.unrated],
            "not_counted": self.not_counted,
        }


def _capacity(label: str, committed: float, capacity: float, overcommit: float, fmt) -> Capacity:
    return Capacity(
        label=label,
        committed=committed,
        capacity=capacity,
        overcommit=overcommit,
        text=f"{fmt(committed)} / {fmt(capacity)}" if capacity else f"{fmt(committed)} / ?",
        limit_text=f"{fmt(capacity * overcommit)} at ×{overcommit:g}" if capacity else "—",
    )


def _count(value: float) -> str:
    return f"{value:g}"


def _platform(
    platform: Platform, vms: list[ManagedVM], use: dict[int, dict[str, Any]]
) -> tuple[PlatformCost, list[tuple[FleetVM, float]]]:
    host: HostFacts = host_facts_of(
        platform,
        used_vcpus=sum(v.vcpus for v in vms),
        used_memory_mib=sum(v.memory_mib for v in vms),
    )
    fleet_host = FleetHost(
        facts=host,
        cost_vcpu_hour=float(platform.cost_vcpu_hour),
        cost_ram_gib_hour=float(platform.cost_ram_gib_hour),
        cost_storage_gib_month=float(platform.cost_storage_gib_month),
        currency=platform.currency,
    )
    priced = []
    cores = memory = 0.0
    sampled = 0
    for row in vms:
        disk = profile_disk_bytes(row.profile_version.document if row.profile_version else None)
        sample = use.get(row.pk) or {}
        if sample:
            sampled += 1
        vm = FleetVM(
            facts=VMFacts(
                name=row.name,
                vcpus=row.vcpus,
                memory_mib=row.memory_mib,
                disk_bytes=disk,
                disk_allocation_bytes=disk,
                running=row.state == VMState.RUNNING,
            ),
            platform=platform.name,
            # host CPUs it used lately, as the policies' snapshot counts them
            cpu_cores=(sample.get("cpu") or 0.0) / 100.0 * max(row.vcpus, 1),
            memory_used_mib=float(sample.get("memory") or 0.0),
            profile=row.profile_version.policy.name if row.profile_version else "",
        )
        cores += vm.cpu_cores
        memory += vm.memory_used_mib
        priced.append((vm, vm.monthly_cost(fleet_host)))
    rated = rates_set(platform)
    total = round(sum(cost for _, cost in priced), 2) if rated else None
    return (
        PlatformCost(
            name=platform.name,
            url=platform.get_absolute_url(),
            currency=platform.currency,
            rates_set=rated,
            rates={
                "vcpu_hour": float(platform.cost_vcpu_hour),
                "ram_gib_hour": float(platform.cost_ram_gib_hour),
                "storage_gib_month": float(platform.cost_storage_gib_month),
            },
            vm_count=len(vms),
            running_count=sum(1 for v in vms if v.state == VMState.RUNNING),
            monthly_cost=total,
            probed=bool(host.cpu_count or host.memory_mib),
            vcpus=_capacity("vCPUs", host.used_vcpus, host.cpu_count, host.cpu_overcommit, _count),
            memory=_capacity(
                "Memory", host.used_memory_mib, host.memory_mib, host.memory_overcommit, mib_text
            ),
            storage=_capacity(
                "Storage",
                host.used_storage_bytes,
                host.storage_capacity_bytes,
                host.storage_overcommit,
                size_text,
            ),
            cpu_in_use=InUse(
                used=cores,
                capacity=host.cpu_count,
                text=f"{cores:.1f} of {host.cpu_count} CPUs" if host.cpu_count else f"{cores:.1f}",
            ),
            memory_in_use=InUse(
                used=memory,
                capacity=host.memory_mib,
                text=f"{mib_text(memory)} of {mib_text(host.memory_mib)}"
                if host.memory_mib
                else mib_text(memory),
            ),
            sampled_vms=sampled,
        ),
        priced if rated else [],
    )


def _uncountable(action: PolicyPlanAction) -> str:
    """Why the saving of ``action`` cannot be added up ("" when it can): the platforms
    price in different currencies, or one of them has no rates (it only looks free)."""
    source, target = action.source, action.target
    if source.currency != target.currency:
        return f"{source.name} prices in {source.currency}, {target.name} in {target.currency}"
    unrated = [p.name for p in (source, target) if not rates_set(p)]
    if unrated:
        return f"no rates set on {' and '.join(unrated)}"
    return ""


def _savings(currency: str, actions: list[PolicyPlanAction]) -> Savings:
    plans: dict[int, PlanRef] = {}
    saving = move_cost = 0.0
    for action in actions:
        saving += float((action.effect or {}).get("monthly_saving") or 0.0)
        move_cost += float((action.effect or {}).get("move_cost") or 0.0)
        plan = action.plan
        plans.setdefault(
            plan.pk,
            PlanRef(
                pk=plan.pk,
                policy=plan.policy.name,
                status=plan.status,
                status_text=plan.get_status_display().lower(),
                url=plan.get_absolute_url(),
            ),
        )
    return Savings(
        currency=currency,
        monthly_saving=round(saving, 2),
        move_cost=round(move_cost, 2),
        action_count=len(actions),
        plans=list(plans.values()),
    )


def _charts(currency: str, platforms: list[PlatformCost], profiles: list[ProfileCost]):
    def vms(n: int) -> str:
        return f"{n} VM" if n == 1 else f"{n} VMs"

    return [
        bar_chart(
            f"Monthly cost by platform, {currency}",
            [
                BarItem(
                    label=p.name,
                    value=p.monthly_cost or 0.0,
                    text=money(p.monthly_cost, currency),
                    title=f"{p.name}: {money(p.monthly_cost, currency)} a month, {vms(p.vm_count)}",
                    url=p.url,
                )
                for p in platforms
            ],
        ),
        bar_chart(
            f"Monthly cost by profile, {currency}",
            [
                BarItem(
                    label=p.name,
                    value=p.monthly_cost,
                    text=money(p.monthly_cost, currency),
                    title=f"{p.name}: {money(p.monthly_cost, currency)} a month, {vms(p.vm_count)}",
                )
                for p in profiles
            ],
            empty_text="No VMs on these platforms.",
        ),
    ]


def cost_report(rows: CostRows) -> CostReport:
    """The figures of ``rows``: per platform, per currency (by platform and by profile,
    with what the open cost plans would save) and each platform's utilisation."""
    by_platform: dict[int, list[ManagedVM]] = defaultdict(list)
    for vm in rows.vms:
        by_platform[vm.platform_id].append(vm)
    platforms: list[PlatformCost] = []
    priced: dict[str, list[tuple[FleetVM, float]]] = defaultdict(list)
    for platform in rows.platforms:
        row, costs = _platform(platform, by_platform.get(platform.pk, []), rows.use)
        platforms.append(row)
        if row.rates_set:
            priced[row.currency].extend(costs)

    actions: dict[str, list[PolicyPlanAction]] = defaultdict(list)
    not_counted = []
    for action in rows.actions:
        reason = _uncountable(action)
        if reason:
            not_counted.append(
                {
                    "plan": action.plan_id,
                    "vm": action.vm_name,
                    "source": action.source.name,
                    "target": action.target.name,
                    "reason": reason,
                }
            )
        else:
            actions[action.source.currency].append(action)

    groups = []
    for currency in sorted(set(priced) | {p.currency for p in platforms if p.rates_set}):
        rated = sorted(
            (p for p in platforms if p.rates_set and p.currency == currency),
            key=lambda p: (-(p.monthly_cost or 0.0), p.name),
        )
        per_profile: dict[str, list[float]] = defaultdict(list)
        for fleet_vm, cost in priced[currency]:
            per_profile[fleet_vm.profile].append(cost)
        profiles = sorted(
            (
                ProfileCost(
                    profile=name,
                    currency=currency,
                    vm_count=len(costs),
                    monthly_cost=round(sum(costs), 2),
                )
                for name, costs in per_profile.items()
            ),
            key=lambda p: (-p.monthly_cost, p.profile == "", p.profile),
        )
        groups.append(
            CurrencyGroup(
                currency=currency,
                monthly_cost=round(sum(p.monthly_cost or 0.0 for p in rated), 2),
                vm_count=sum(p.vm_count for p in rated),
                platforms=rated,
                profiles=profiles,
                savings=_savings(currency, actions.get(currency, [])),
                charts=_charts(currency, rated, profiles),
            )
        )
    return CostReport(
        taken_at=rows.taken_at,
        currency=rows.currency,
        label=rows.label,
        currencies=rows.currencies,
        platform_count=rows.platform_count,
        sample_minutes=rows.sample_minutes,
        platforms=platforms,
        groups=groups,
        not_counted=not_counted,
    )
