"""Choosing the platform of a new VM (a clone requested without one): the product's one
placement (``evacuation.place_vm``: filter, score, then the check asked of the
best-scored candidates first), with every candidate's verdict and a sentence saying why
the chosen one won. Pure: the service gathers the hosts, the rules and the check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .evacuation import (
    HOST_FILTERS,
    SCORES,
    DryRun,
    HostFacts,
    HostFilter,
    Score,
    VMFacts,
    VMPlacement,
    place_vm,
)

# What the best value of each score means, said of the platform that has it.
SCORE_WORDS = {
    "memory headroom": "most memory headroom",
    "CPU headroom": "most CPU headroom",
    "running cost": "cheapest to run",
    "platform preference": "preferred by the scheduling policies' rules",
}
CHECK_LABEL = "profile fits"


def choose_platform(
    vm: VMFacts,
    hosts: Mapping[str, HostFacts],
    *,
    check: DryRun,
    filters: Sequence[tuple[str, HostFilter]] = HOST_FILTERS,
    scores: Sequence[tuple[str, Score]] = SCORES,
) -> VMPlacement:
    """Where ``vm`` goes among ``hosts``: ``filters`` refuse, ``scores`` rank, and
    ``check`` (whether the profile fits the platform) is asked in score order until one
    says yes. Each verdict names ``CHECK_LABEL`` where placement names its dry run."""
    placement, _ = place_vm(
        vm,
        hosts,
        source="",
        dry_run=check,
        filters=filters,
        scores=scores,
        check_label=CHECK_LABEL,
    )
    if not placement.target:
        placement.reason = refusals_text(placement)
    return placement


def refusals_text(placement: VMPlacement) -> str:
    """Why no platform takes the VM: each platform with the reason it was refused."""
    if not placement.verdicts:
        return "there is no platform"
    return "no platform can take it: " + "; ".join(
        f"{v.host}: {v.reason}" for v in placement.verdicts
    )


def summary(placement: VMPlacement) -> str:
    """One sentence for the job's log: "placed on host-b: most memory headroom, most CPU
    headroom (score 71.3; host-a 52.0); 1 of 3 platforms refused (host-c: disabled)"."""
    verdicts = placement.verdicts
    chosen = next((v for v in verdicts if v.chosen), None)
    if chosen is None:
        return placement.reason
    scored = [v for v in verdicts if v.score is not None]
    best = []  # the scores where it beats another candidate and none beats it
    for label, value in chosen.scores.items():
        values = [v.scores.get(label, value) for v in scored]
        if value >= max(values) and value > min(values):
            best.append(SCORE_WORDS.get(label, f"best {label}"))
    others = sorted(
        (v for v in scored if v is not chosen), key=lambda v: (-(v.score or 0.0), v.host)
    )
    why = ", ".join(best) or "the only platform that passed"
    if others:
        runner = others[0]
        why += f" (score {chosen.score:g}; next {runner.host} {runner.score:g}"
        if runner.dry_run == "refused":
            why += f", refused: {runner.reason}"
        why += ")"
    else:
        why += f" (score {chosen.score:g})"
    refused = [v for v in verdicts if v.refused_by]
    if refused:
        shown = "; ".join(f"{v.host}: {v.reason}" for v in refused[:3])
        more = f"; {len(refused) - 3} more" if len(refused) > 3 else ""
        why += f"; {len(refused)} of {len(verdicts)} platforms refused ({shown}{more})"
    return f"placed on {chosen.host}: {why}"


def record(placement: VMPlacement, *, at: str) -> dict[str, Any]:
    """What the job keeps of the choice (``params["placement"]``)."""
    return {
        "mode": "auto",
        "chosen": placement.target,
        "summary": summary(placement),
        "decided_at": at,
        "verdicts": [v.to_dict() for v in placement.verdicts],
    }
