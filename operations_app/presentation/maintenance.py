"""How host maintenance reads on the pages: an evacuation plan as the preview shows it
(each VM's target and path with every host's verdict, the VMs that stay, the hosts'
usage before and after), a maintenance's progress per VM, its window's occurrence in
words, and the maintenance windows offered on the form.

Pure functions from plan dicts (``services.maintenance.evacuation_plan``), maintenance
rows and windows to what the templates show; no queries (the callers pass rows with
their relations loaded) and no writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.timesince import timeuntil

from operations_app.presentation.formatting import UNKNOWN, mib_text, size_text
from operations_app.services.maintenance import VM_STATUS_WORDS
from operations_app.windows import format_occurrence, next_occurrence, occurrence_at
from operations_app.windows.text import clock

# What the services write besides VM_STATUS_WORDS: a VM still waiting when the
# maintenance ended is left where it is.
STATUS_WORDS = {**VM_STATUS_WORDS, "left": "left in place, maintenance ended first"}
# The order the progress table lists VMs in: what needs attention first.
STATUS_ORDER = ("failed", "unmovable", "moving", "waiting", "moved", "left", "gone")
RESOURCES = (("vcpus", "vCPUs"), ("memory", "Memory"), ("storage", "Storage"))


# --------------------------------------------------------------------------- the plan


def _verdict_row(verdict: Mapping[str, Any]) -> dict[str, Any]:
    if verdict.get("chosen"):
        outcome, tone = "chosen", "chosen"
    elif verdict.get("dry_run") == "not needed":
        outcome, tone = "passed, not needed", "passed"
    elif verdict.get("refused_by"):
        outcome, tone = f"refused by {verdict['refused_by']}", "refused"
    else:
        outcome, tone = "passed", "passed"
    scores = verdict.get("scores") or {}
    return {
        "host": verdict.get("host", ""),
        "passed": list(verdict.get("passed") or []),
        "refused_by": verdict.get("refused_by", ""),
        "reason": verdict.get("reason", ""),
        "scores": [(label, f"{value:+.1f}") for label, value in scores.items()],
        "score": f"{verdict['score']:.1f}" if verdict.get("score") is not None else "",
        "dry_run": verdict.get("dry_run", ""),
        "chosen": bool(verdict.get("chosen")),
        "outcome": outcome,
        "tone": tone,
    }


def _verdict_order(row: dict[str, Any]) -> tuple:
    """The chosen host first, then the ones that passed by score, then the refused."""
    rank = {"chosen": 0, "passed": 1, "refused": 2}[row["tone"]]
    return (rank, -float(row["score"] or 0), row["host"])


def placement_row(placement: Mapping[str, Any]) -> dict[str, Any]:
    """One VM of a plan: what it needs, where it goes and how, and each host's verdict."""
    verdicts = sorted(
        (_verdict_row(v) for v in placement.get("verdicts") or []), key=_verdict_order
    )
    disk = placement.get("disk_bytes") or 0
    return {
        "vm": placement.get("vm", ""),
        "target": placement.get("target", ""),
        "path": placement.get("path", ""),
        "path_reason": placement.get("path_reason", ""),
        "reason": placement.get("reason", ""),
        "vcpus": placement.get("vcpus", 0),
        "memory": mib_text(placement.get("memory_mib")),
        "disk": size_text(disk) if disk else UNKNOWN,
        "verdicts": verdicts,
        "refused": sum(1 for v in verdicts if v["tone"] == "refused"),
    }


def _meter(share: float | None) -> dict[str, Any]:
    if share is None:
        return {"percent": None, "bar": 0, "tone": ""}
    pct = round(100.0 * float(share), 1)
    tone = "over" if pct > 100 else "warn" if pct >= 80 else ""
    return {"percent": pct, "bar": min(pct, 100.0), "tone": tone}


def host_rows(
    before: Mapping[str, Mapping[str, float]],
    after: Mapping[str, Mapping[str, float]],
    arriving: Mapping[str, list[str]],
) -> list[dict[str, Any]]:
    """Each other host's committed share of vCPUs, memory and storage before and after
    the moves (0–1 in the plan; shown as percentages and meters), and what arrives."""
    rows = []
    for host in sorted(set(before) | set(after)):
        resources = []
        for key, label in RESOURCES:
            b = (before.get(host) or {}).get(key)
            a = (after.get(host) or {}).get(key, b)
            resources.append(
                {
                    "key": key,
                    "label": label,
                    "before": _meter(b),
                    "after": _meter(a),
                    "changed": a != b,
                }
            )
        rows.append(
            {"host": host, "resources": resources, "arriving": sorted(arriving.get(host, []))}
        )
    return rows


def plan_view(plan: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An evacuation plan as the preview (and a maintenance's record) shows it."""
    if not plan:
        return None
    moves = [placement_row(m) for m in plan.get("moves") or []]
    unmovable = [placement_row(m) for m in plan.get("unmovable") or []]
    arriving: dict[str, list[str]] = {}
    for move in moves:
        arriving.setdefault(move["target"], []).append(move["vm"])
    paths = Counter(m["path"] or "unknown" for m in moves)
    total = len(moves) + len(unmovable)
    if total == 0:
        verdict = "No managed VM to move: the platform is in maintenance as soon as you confirm."
    elif not unmovable:
        how = " and ".join(f"{n} {path}" for path, n in sorted(paths.items()))
        verdict = f"All {total} managed VM{'s' if total != 1 else ''} can move ({how})."
    else:
        verdict = (
            f"{len(unmovable)} of {total} managed VM{'s' if total != 1 else ''} cannot move now; "
            "they stay and are tried again in each occurrence of the window."
        )
    made = plan.get("made_at")
    return {
        "platform": plan.get("platform") or plan.get("source", ""),
        "complete": bool(plan.get("complete", not unmovable)),
        "verdict": verdict,
        "moves": moves,
        "unmovable": unmovable,
        "unmanaged": list(plan.get("unmanaged") or []),
        "hosts": host_rows(plan.get("hosts_before") or {}, plan.get("hosts_after") or {}, arriving),
        "paths": dict(paths),
        "dry_runs": plan.get("dry_runs", 0),
        "parallel": plan.get("parallel"),
        "made_at": parse_datetime(made) if isinstance(made, str) else None,
        "total": total,
    }


# --------------------------------------------------------------------------- windows


def occurrence_text(window: Any, now: datetime) -> dict[str, Any]:
    """The window's open occurrence, else its next one, in words in its own zone:
    ``{"open": bool, "text": ..., "when": "open until 05:00" | "in 2 days" | ""}``."""
    rule = window.rule()
    current = occurrence_at(rule, now)
    if current is not None:
        until = current.end.astimezone(rule.zone)
        return {
            "open": True,
            "text": format_occurrence(current, rule.tz),
            "when": f"open now, until {clock(until)}",
        }
    upcoming = next_occurrence(rule, now)
    if upcoming is None:
        return {"open": False, "text": "", "when": "does not open again"}
    return {
        "open": False,
        "text": format_occurrence(upcoming, rule.tz),
        "when": f"in {timeuntil(upcoming.start, now, depth=1)}",
    }


def window_choice_label(window: Any, now: datetime) -> str:
    """How the form offers a window: its name and its next occurrence in words."""
    occ = occurrence_text(window, now)
    if occ["open"]:
        return f"{window.name} — {occ['when']} ({occ['text']})"
    if not occ["text"]:
        return f"{window.name} — {occ['when']}"
    return f"{window.name} — next {occ['text']} ({occ['when']})"


# --------------------------------------------------------------------------- progress


WAITING_OPEN = "waits to move"


def _words(status: str, *, window_shut: bool) -> str:
    """The status in words; a VM waiting while no window holds it back (none, or its
    occurrence is open) waits for its turn, not for the window."""
    if status == "waiting" and not window_shut:
        return WAITING_OPEN
    return STATUS_WORDS.get(status, status)


def vm_rows(
    vms: Mapping[str, Mapping[str, Any]], *, window_shut: bool = True
) -> list[dict[str, Any]]:
    """A maintenance's VMs (``HostMaintenance.vms``), what needs attention first.
    ``window_shut``: its window exists and is not open now."""
    rows = []
    for name, info in vms.items():
        status = info.get("status", "")
        at = info.get("at")
        rows.append(
            {
                "vm": name,
                "status": status,
                "words": _words(status, window_shut=window_shut),
                "job": info.get("job"),
                "target": info.get("target", ""),
                "path": info.get("path", ""),
                "reason": info.get("reason", ""),
                "at": parse_datetime(at) if isinstance(at, str) else None,
                "back": info.get("back", ""),
                "back_job": info.get("back_job"),
            }
        )
    order = {s: i for i, s in enumerate(STATUS_ORDER)}
    rows.sort(key=lambda r: (order.get(r["status"], len(order)), r["vm"]))
    return rows


def progress_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """ "2 of 3 moved · 1 moving" (each status as its rows word it); "" without VMs."""
    rows = list(rows)
    if not rows:
        return ""
    counts = Counter(r["status"] for r in rows)
    words = {r["status"]: r["words"] for r in rows}
    parts = [f"{counts.get('moved', 0)} of {len(rows)} moved"]
    for status in STATUS_ORDER:
        if status != "moved" and counts.get(status):
            parts.append(f"{counts[status]} {words[status]}")
    return " · ".join(parts)


def maintenance_view(maintenance: Any, now: datetime) -> dict[str, Any]:
    """A maintenance (active or past) as its panel and its page show it. ``maintenance``
    has its window, requester and ender loaded."""
    window = maintenance.window
    occurrence = occurrence_text(window, now) if window is not None else None
    shut = occurrence is not None and not occurrence["open"]
    rows = vm_rows(maintenance.vms or {}, window_shut=shut)
    return {
        "m": maintenance,
        "state": maintenance.state,
        "state_label": maintenance.get_state_display(),
        "active": maintenance.active,
        "window": window,
        "occurrence": occurrence if maintenance.active else None,
        "vms": rows,
        "progress": progress_text(rows),
        "counts": dict(Counter(r["status"] for r in rows)),
        "summary_lines": [line for line in (maintenance.summary or "").splitlines() if line],
        "unmanaged": list((maintenance.plan or {}).get("unmanaged") or []),
    }
