"""Reads for the fleet's cost and utilisation (the cost page, ``/api/v1/cost/`` and
``persona cost``).

``cost_rows`` reads everything in a fixed number of queries whatever the fleet's size:
the platforms (narrowed by currency and label selector), the currencies in use, the VMs
not gone on them with their profile versions, their recent utilisation averaged per
VM, and the actions of the open cost plans that have not run yet.
``presentation.cost`` turns them into the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg
from django.utils import timezone

from operations_app.models import (
    OPEN_PLANS,
    ActionStatus,
    ManagedVM,
    Platform,
    PolicyPlanAction,
    VMMetricSample,
    VMState,
)
from operations_app.selectors.labels import labels_filter

# What the policies average a VM's use over when a policy does not say.
SAMPLE_MINUTES = 15
# Actions of an open plan that have not changed the fleet yet.
PENDING_ACTIONS = (ActionStatus.PROPOSED, ActionStatus.SCHEDULED)


@dataclass(frozen=True)
class CostRows:
    """The rows the cost figures are made of."""

    platforms: list[Platform]
    vms: list[ManagedVM]
    use: dict[int, dict[str, Any]]  # VM id -> {"cpu": percent, "memory": MiB}
    actions: list[PolicyPlanAction]
    currencies: list[str]  # every platform's currency, for the filter
    taken_at: datetime
    currency: str = ""
    label: str = ""
    sample_minutes: int = SAMPLE_MINUTES
    platform_count: int = 0  # platforms before the filters


def cost_rows(
    *,
    currency: str = "",
    label: str = "",
    now: datetime | None = None,
    sample_minutes: int = SAMPLE_MINUTES,
) -> CostRows:
    """The platforms that match ``currency`` (an ISO code) and ``label`` (a label
    selector; invalid input at ``label``), what runs there and what the open cost plans
    would change. Five queries."""
    now = now or timezone.now()
    every = Platform.objects.order_by("name")
    every_currency = list(every.values_list("currency", flat=True))
    platforms_qs = every
    if currency:
        platforms_qs = platforms_qs.filter(currency=currency)
    if label:
        platforms_qs = labels_filter(platforms_qs, label)
    platforms = list(platforms_qs)
    ids = [p.pk for p in platforms]
    vms = list(
        ManagedVM.objects.filter(platform_id__in=ids)
        .exclude(state=VMState.GONE)
        .select_related("platform", "profile_version__policy")
        .order_by("name", "pk")
    )
    use = {
        row["vm_id"]: dict(row)
        for row in VMMetricSample.objects.filter(
            vm__platform_id__in=ids, at__gte=now - timedelta(minutes=sample_minutes)
        )
        .values("vm_id")
        .annotate(cpu=Avg("cpu_percent"), memory=Avg("memory_used_mib"))
    }
    actions = list(
        PolicyPlanAction.objects.filter(
            plan__status__in=OPEN_PLANS,
            plan__policy_version__document__trigger="cost",
            status__in=PENDING_ACTIONS,
            source_id__in=ids,
        )
        .select_related("plan__policy", "source", "target")
        .order_by("plan_id", "index")
    )
    return CostRows(
        platforms=platforms,
        vms=vms,
        use=use,
        actions=actions,
        currencies=sorted(set(every_currency)),
        taken_at=now,
        currency=currency,
        label=label,
        sample_minutes=sample_minutes,
        platform_count=len(every_currency),
    )
