"""How a job's events read in the log on its page."""

from __future__ import annotations

from typing import Any

from operations_app.models import JobEvent


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
    else:
        text = str(payload.get("message", ""))
        level, step = str(payload.get("level") or "info"), str(payload.get("step") or "")
    return {"seq": seq, "at": at, "level": level, "step": step, "text": text}
