"""How a job's events read in the log on its page, which jobs show a verification, and
how a job's health watch reads on the page and in the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from operations_app.models import JobEvent, JobKind, OperationJob
from operations_app.presentation.formatting import duration_text
from operations_app.services.watch import EXTEND_MINUTES_MAX, watch_latest_end

# The minutes the page, the API and the CLI extend a watch by when not told otherwise.
WATCH_EXTEND_MINUTES = 15

# The kinds whose job verifies the VM against its profile, check by check (its "verify"
# step records VerificationCheck rows); the others have no verification to show.
VERIFIED_KINDS = frozenset({JobKind.CLONE, JobKind.MIGRATE})


def job_verifies(job: OperationJob, *, has_checks: bool = False) -> bool:
    """Whether ``job``'s page shows a Verification section (and links its report): when
    it has checks, or will have (a kind that verifies, not ended: one that ended before
    verifying, cancelled or failed early, has none to show)."""
    return has_checks or (job.kind in VERIFIED_KINDS and not job.is_terminal)


def log_line(event: JobEvent | dict) -> dict[str, Any]:
    """How an event shows in the job's log; job_live.js formats live events the same way."""
    if isinstance(event, JobEvent):
        seq, kind, payload, at = event.seq, event.kind, event.payload or {}, event.created_at
    else:
        seq, kind, payload, at = event["seq"], event["kind"], event["payload"] or {}, event["at"]
    if kind == "status":
        status = payload.get("status", "")
        reason = payload.get("reason") or ""
        text = f"status → {status}" + (f" ({reason})" if reason and reason != status else "")
        level, step = "status", ""
    elif kind == "cancel_requested":
        who = payload.get("by") or ""
        text = "cancel requested" + (f" by {who}" if who else "")
        level, step = "warning", ""
    elif kind == "watch":
        text, level, step = watch_text(payload), "status", ""
    else:
        text = str(payload.get("message", ""))
        level, step = str(payload.get("level") or "info"), str(payload.get("step") or "")
    return {"seq": seq, "at": at, "level": level, "step": step, "text": text}


# --------------------------------------------------------------------------- health watch


def watch_text(payload: dict) -> str:
    """A ``watch`` event (someone confirmed or extended the watch), without its time:
    "watch confirmed by ana", "watch extended by 15 min by ana"."""
    who = payload.get("by") or ""
    by = f" by {who}" if who else ""
    if payload.get("action") == "extend":
        minutes = payload.get("minutes")
        return f"watch extended{f' by {minutes} min' if minutes is not None else ''}{by}"
    if payload.get("action") == "confirm":
        return f"watch confirmed{by}"
    return f"watch {payload.get('action') or 'changed'}{by}"


def health_text(payload: dict) -> str:
    """A ``health`` event (one probe round): "health round 3: 4/4 passed", or with the
    failed probes named and how many rounds in a row failed."""
    checks = [c for c in payload.get("checks") or [] if isinstance(c, dict)]
    failed = [str(name) for name in payload.get("failed") or []]
    total = len(checks) or len(failed)
    passed = sum(1 for c in checks if c.get("passed")) if checks else 0
    text = f"health round {payload.get('round', '?')}: {passed}/{total} passed"
    if failed:
        text += "; failed: " + ", ".join(failed)
        streak = payload.get("consecutive_failures")
        if isinstance(streak, int) and streak > 0:
            text += f" ({streak} round{'s' if streak != 1 else ''} in a row)"
    return text


def countdown_text(seconds: float) -> str:
    """Time left in whole seconds, as every duration is written (42 s, 4 min 5 s,
    1 h 2 min); "now" once it is up."""
    if int(seconds) <= 0:
        return "now"
    return duration_text(seconds, whole=True)


def remaining_text(seconds: float) -> str:
    """How long a watch has left, for "... until 12:04:05 (in 4 min 5 s)"."""
    left = countdown_text(seconds)
    return "ending now" if left == "now" else f"in {left}"


def watch_revert_text(job: OperationJob) -> str:
    """What a failed watch does to ``job``, and what a passed one does."""
    if job.kind == JobKind.MIGRATE:
        source = job.source_platform.name if job.source_platform is not None else "its source"
        return (
            f"If the probes keep failing, the VM moves back to {source} (kept stopped until "
            "then) and administrators are notified; when the watch passes the job succeeds "
            "and the source copy is removed."
        )
    if job.kind == JobKind.CLONE:
        return (
            "If the probes keep failing, the clone is rolled back and administrators are "
            "notified; when the watch passes the job succeeds."
        )
    return (
        "If the probes keep failing, the operation is reverted and administrators are "
        "notified; when the watch passes the job succeeds."
    )


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            return None
    return None


def watch_view(job: OperationJob, health: dict | None, *, now: datetime | None = None) -> dict:
    """The health-watch panel of ``job``: until when, how long is left, its last probe
    round (``health``, the newest ``health`` event's payload, if any), and how far it may
    be extended (the service has the last word)."""
    now = now or timezone.now()
    until = job.watch_until
    round_ = None
    if isinstance(health, dict):
        checks = [c for c in health.get("checks") or [] if isinstance(c, dict)]
        passed = sum(1 for c in checks if c.get("passed"))
        round_ = {
            "number": health.get("round"),
            "passed": bool(health.get("passed")),
            "checks": checks,
            "passed_count": passed,
            "total": len(checks),
            "failed": [str(name) for name in health.get("failed") or []],
            "consecutive_failures": health.get("consecutive_failures") or 0,
            "text": health_text(health),
        }
        until = until or _as_datetime(health.get("until"))
    latest = watch_latest_end(job)
    room = int((latest - max(until or now, now)).total_seconds() // 60)
    extend_max = max(1, min(EXTEND_MINUTES_MAX, room))
    return {
        "until": until,
        "remaining": remaining_text((until - now).total_seconds()) if until else "",
        "round": round_,
        "revert": watch_revert_text(job),
        "latest": latest,
        "can_extend": room >= 1,
        "extend_minutes": min(WATCH_EXTEND_MINUTES, extend_max),
        "extend_max": extend_max,
    }
