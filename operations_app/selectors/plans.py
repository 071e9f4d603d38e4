"""Reading scheduling policies' plans."""

from __future__ import annotations

from django.db.models import QuerySet

from operations_app.models import PolicyPlan, PolicyPlanAction
from profiles_app.models import Policy, PolicyKind


def plan_list(*, policy: str = "", status: str = "") -> QuerySet[PolicyPlan]:
    rows = PolicyPlan.objects.select_related("policy", "policy_version", "decided_by")
    if policy:
        rows = rows.filter(policy__name=policy)
    if status:
        rows = rows.filter(status=status)
    return rows


def plan_get(pk: int) -> PolicyPlan | None:
    return (
        PolicyPlan.objects.select_related("policy", "policy_version", "decided_by", "requested_by")
        .filter(pk=pk)
        .first()
    )


def plan_actions(plan: PolicyPlan) -> list[PolicyPlanAction]:
    return list(plan.actions.select_related("source", "target", "job", "vm"))


def scheduling_policies() -> QuerySet[Policy]:
    return Policy.objects.filter(kind=PolicyKind.SCHEDULING).order_by("name")
