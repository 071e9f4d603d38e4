"""What a scheduling policy's settings come to, its defaults and its aggressiveness
filled in: the one place evaluations read them from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# aggressiveness -> (consecutive evaluations a condition must hold, minimum improvement
# in percentage points). 1 waits long and wants a large gain; 5 acts on the first sign.
AGGRESSIVENESS: Mapping[int, tuple[int, float]] = {
    1: (6, 20.0),
    2: (4, 15.0),
    3: (3, 10.0),
    4: (2, 5.0),
    5: (1, 2.0),
}


@dataclass(frozen=True)
class PolicySettings:
    name: str
    trigger: str
    automation: str
    window: str | None
    aggressiveness: int
    consecutive_evaluations: int
    min_improvement_percent: float
    moves_per_run: int
    moves_per_platform: int
    cooldown_minutes: int
    backoff_factor: float
    cooldown_max_minutes: int
    plan_expiry_minutes: int
    metric: str = "cpu"
    trigger_percent: float | None = None
    target_percent: float | None = None
    sample_minutes: int = 15
    min_cvss: float = 7.0
    approve_at_once_cvss: float = 9.0
    horizon_days: int = 90
    min_saving_per_month: float = 0.0
    move_cost_per_gib: float = 0.0

    def cooldown_for(self, recent_moves: int) -> int:
        """Minutes a VM moved ``recent_moves`` times lately (1: just now) stays put."""
        if recent_moves <= 0:
            return 0
        minutes = self.cooldown_minutes * self.backoff_factor ** (recent_moves - 1)
        return int(min(minutes, max(self.cooldown_max_minutes, self.cooldown_minutes)))


def policy_settings(document: Mapping[str, Any]) -> PolicySettings:
    """The settings of a valid scheduling policy document."""
    level = int(document.get("aggressiveness", 3))
    consecutive, improvement = AGGRESSIVENESS[level]
    caps = document.get("caps") or {}
    cooldown = document.get("cooldown") or {}
    use = document.get("utilisation") or {}
    vuln = document.get("vulnerability") or {}
    cost = document.get("cost") or {}
    return PolicySettings(
        name=str(document["name"]),
        trigger=str(document["trigger"]),
        automation=str(document["automation"]),
        window=document.get("window"),
        aggressiveness=level,
        consecutive_evaluations=int(document.get("consecutive_evaluations", consecutive)),
        min_improvement_percent=float(document.get("min_improvement_percent", improvement)),
        moves_per_run=int(caps.get("moves_per_run", 5)),
        moves_per_platform=int(caps.get("moves_per_platform", 1)),
        cooldown_minutes=int(cooldown.get("minutes", 1440)),
        backoff_factor=float(cooldown.get("backoff_factor", 2)),
        cooldown_max_minutes=int(cooldown.get("max_minutes", 10080)),
        plan_expiry_minutes=int(document.get("plan_expiry_minutes", 240)),
        metric=str(use.get("metric", "cpu")),
        trigger_percent=use.get("trigger_percent"),
        target_percent=use.get("target_percent"),
        sample_minutes=int(use.get("sample_minutes", 15)),
        min_cvss=float(vuln.get("min_cvss", 7)),
        approve_at_once_cvss=float(vuln.get("approve_at_once_cvss", 9)),
        horizon_days=int(cost.get("horizon_days", 90)),
        min_saving_per_month=float(cost.get("min_saving_per_month", 0)),
        move_cost_per_gib=float(cost.get("move_cost_per_gib", 0)),
    )
