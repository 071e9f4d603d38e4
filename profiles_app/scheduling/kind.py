"""The scheduling policy as a policy kind: drafts, review, approval, history and diff
come from the generic policy store, exactly as for VPPDs."""

from __future__ import annotations

from typing import Any

from profiles_app.kinds import DocumentKind, register
from profiles_app.scheduling.checks import SEMANTIC_CHECKS
from profiles_app.scheduling.schema import SCHEMA_VERSION, scheduling_schema

KIND = "scheduling"  # PolicyKind.SCHEDULING (this package stays free of Django)

TOP_LEVEL_ORDER = (
    "$schema",
    "schema_version",
    "name",
    "description",
    "trigger",
    "scope",
    "utilisation",
    "vulnerability",
    "cost",
    "evacuation",
    "aggressiveness",
    "consecutive_evaluations",
    "min_improvement_percent",
    "automation",
    "window",
    "caps",
    "cooldown",
    "plan_expiry_minutes",
    "affinity",
    "platform_rules",
)

# A new scheduling policy starts as a cautious CPU balancer that only recommends.
STARTER_DOCUMENT: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION,
    "name": "balance-cpu",
    "description": "Relieve a host whose CPU stays above 80 % by moving VMs to less loaded hosts.",
    "trigger": "utilisation",
    "scope": {"execution_flags": ["Production"]},
    "utilisation": {"metric": "cpu", "trigger_percent": 80, "target_percent": 60},
    "aggressiveness": 2,
    "automation": "recommend",
    "caps": {"moves_per_run": 3, "moves_per_platform": 1},
    "cooldown": {"minutes": 1440, "backoff_factor": 2, "max_minutes": 10080},
    "plan_expiry_minutes": 240,
    "affinity": [],
    "platform_rules": [],
}

SCHEDULING = register(
    DocumentKind(
        kind=KIND,
        schema_loader=scheduling_schema,
        checks=SEMANTIC_CHECKS,
        schema_path="/api/v1/schemas/scheduling/",
        openapi_component="SchedulingPolicy",
        top_level_order=TOP_LEVEL_ORDER,
        starter_document=STARTER_DOCUMENT,
    )
)
