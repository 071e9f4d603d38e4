"""Reminders before a maintenance window's occurrence opens, a summary when its work
ended, and the window's webhook.

``window_reminders_tick`` runs every minute after the scheduling tick
(``tasks.start_scheduled_jobs``). For each occurrence of a window with scheduled jobs:

- **Reminder**: ``VMPERSONA_WINDOW_REMINDER_MINUTES`` (60; 0: none) before an enabled
  window's occurrence opens, the requesters of the jobs scheduled in it and the
  administrators (``notifications.administrators``) get one notification (bell and
  email): the operations it will run, with links. A job scheduled later, but before the
  opening, still gets one out (with the minutes left); after the opening, none.
- **Summary**: once the occurrence has ended and none of its jobs is still scheduled in
  it or active (a job still active holds it back at most ``SUMMARY_MAX_WAIT`` after the
  end, then it is listed as still running), one notification to the same people: what
  ran, what failed or rolled back and why, what was skipped, expired, rejected or
  cancelled and why, and what moved to a later occurrence. An occurrence's jobs are
  every job that was ever scheduled in it (from the jobs' history), so the ones the
  scheduling tick moved on count too. Occurrences that ended more than
  ``SUMMARY_LOOKBACK`` ago get none (a worker that was down for days does not flood).
- **Webhook**: when the window has a ``webhook_url``, the same reminder or summary is
  POSTed as JSON, signed (``X-VMPersona-Signature: sha256=<hex HMAC-SHA256 of the
  body>`` with ``webhook_secret()``), 5 s timeout, redirects never followed. A failed
  delivery is logged and kept on the record (``webhook_error``) and tried again at the
  next ticks, ``WEBHOOK_ATTEMPTS`` times in all within ``WEBHOOK_RETRY_FOR``; it never
  raises, and never holds up the notifications.

Each is sent once per occurrence: a ``WindowOccurrenceRecord`` (unique per window and
occurrence start) is claimed with a conditional update in the same transaction as the
notifications, and each webhook attempt is claimed before it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from operations_app.models import (
    ACTIVE_STATUSES,
    JobKind,
    JobStatus,
    MaintenanceWindow,
    OperationJob,
    Severity,
    WindowOccurrenceRecord,
)
from operations_app.services.notifications import administrators, notify
from operations_app.services.schedule_when import schedule_text
from operations_app.windows import MAX_DURATION_MINUTES, Occurrence, format_occurrence
from operations_app.windows import occurrence_at as window_occurrence_at
from operations_app.windows.text import clock, local_moment

logger = logging.getLogger(__name__)

REMINDER, SUMMARY = "window.reminder", "window.summary"
WEBHOOK_ATTEMPTS = 3
WEBHOOK_TIMEOUT_S = 5
WEBHOOK_RETRY_FOR = timedelta(hours=1)
SUMMARY_MAX_WAIT = timedelta(hours=6)
SUMMARY_LOOKBACK = timedelta(days=2)
USER_AGENT = "VMPersona"
SIGNATURE_HEADER = "X-VMPersona-Signature"
EVENT_HEADER = "X-VMPersona-Event"
# Without VMPERSONA_WEBHOOK_SECRET the key is HMAC-SHA256(SECRET_KEY, this label), hex.
SECRET_LABEL = b"vmpersona.window-webhook.v1"
# How many operations a one-line message names before "and N more".
LISTED = 5
ERROR_MAX = 300

# Where each job of an ended occurrence goes in the summary.
RAN, FAILED, NOT_RUN, MOVED, PENDING = "ran", "failed", "not_run", "moved", "pending"
SECTIONS = (
    (RAN, "Ran"),
    (FAILED, "Failed or rolled back"),
    (NOT_RUN, "Skipped, expired, rejected or cancelled"),
    (MOVED, "Moved to a later occurrence"),
    (PENDING, "Still scheduled or running"),
)
_FAILED_STATUSES = (JobStatus.FAILED, JobStatus.ROLLED_BACK, JobStatus.ERRORED)
_NOT_RUN_STATUSES = (
    JobStatus.SKIPPED,
    JobStatus.EXPIRED,
    JobStatus.REJECTED,
    JobStatus.CANCELLED,
)
_PENDING_STATUSES = (JobStatus.SCHEDULED, *ACTIVE_STATUSES)
_RELATED = ("window", "platform", "source_platform", "requested_by")

Key = tuple[int, datetime]


def _key_text(window: MaintenanceWindow, occurrence: Occurrence) -> str:
    return f"{window.name}@{occurrence.start.isoformat()}"


# --------------------------------------------------------------------------- the tick


def window_reminders_tick(now: datetime | None = None) -> dict[str, list[str]]:
    """Send the reminders and summaries due at ``now`` (default: now), then the webhook
    deliveries due; ``window@start`` of each, by what happened."""
    now = now or timezone.now()
    done: dict[str, list[str]] = {"reminded": [], "summarized": [], "delivered": [], "failed": []}
    for window, occurrence, jobs in _due_reminders(now):
        try:
            if _remind(window, occurrence, jobs, now):
                done["reminded"].append(_key_text(window, occurrence))
        except Exception:  # noqa: BLE001 - one window's trouble must not hold up the others
            logger.exception("reminder for %s failed", _key_text(window, occurrence))
    for window, occurrence, jobs in _due_summaries(now):
        try:
            if _summarize(window, occurrence, jobs, now):
                done["summarized"].append(_key_text(window, occurrence))
        except Exception:  # noqa: BLE001
            logger.exception("summary for %s failed", _key_text(window, occurrence))
    for record, event in _pending_deliveries(now):
        try:
            delivered = _deliver(record, event, now)
        except Exception:  # noqa: BLE001 - a webhook never breaks the tick
            logger.exception("webhook delivery for record %s failed", record.pk)
            continue
        if delivered is not None:
            done["delivered" if delivered else "failed"].append(
                f"{record.window.name}@{record.occurrence_start.isoformat()} {event}"
            )
    return done


# --------------------------------------------------------------------------- reminders


def _due_reminders(
    now: datetime,
) -> list[tuple[MaintenanceWindow, Occurrence, list[OperationJob]]]:
    """(window, occurrence, its scheduled jobs) for the enabled windows' occurrences that
    open within the reminder time from ``now`` and were not reminded of yet."""
    minutes = settings.VMPERSONA_WINDOW_REMINDER_MINUTES
    if minutes <= 0:
        return []
    ahead = now + timedelta(minutes=minutes)
    jobs = (
        OperationJob.objects.filter(
            status=JobStatus.SCHEDULED,
            window__isnull=False,
            window__enabled=True,
            not_before__gt=now,
            not_before__lte=ahead + timedelta(minutes=MAX_DURATION_MINUTES),
        )
        .select_related(*_RELATED)
        .order_by("not_before", "pk")
    )
    groups: dict[Key, tuple[MaintenanceWindow, Occurrence, list[OperationJob]]] = {}
    for job in jobs:
        assert job.window is not None and job.not_before is not None
        occurrence = window_occurrence_at(job.window.rule(), job.not_before)
        if occurrence is None or not now < occurrence.start <= ahead:
            continue
        key = (job.window.pk, occurrence.start)
        groups.setdefault(key, (job.window, occurrence, []))[2].append(job)
    sent = _recorded(groups, "reminded_at")
    return [group for key, group in groups.items() if key not in sent]


def _recorded(keys: Iterable[Key], field: str) -> set[Key]:
    """Which of the (window id, occurrence start) pairs have ``field`` set already."""
    keys = list(keys)
    if not keys:
        return set()
    rows = WindowOccurrenceRecord.objects.filter(
        window_id__in={k[0] for k in keys},
        occurrence_start__in={k[1] for k in keys},
        **{f"{field}__isnull": False},
    ).values_list("window_id", "occurrence_start")
    return set(rows)


def _claim(
    window: MaintenanceWindow, occurrence: Occurrence, field: str, now: datetime, payload: dict
) -> bool:
    """Mark the occurrence's ``field`` (``reminded_at`` or ``summarized_at``) sent, if
    nobody did; True when this call did. Run inside the transaction that notifies."""
    record, _ = WindowOccurrenceRecord.objects.get_or_create(
        window=window,
        occurrence_start=occurrence.start,
        defaults={"occurrence_end": occurrence.end},
    )
    payload_field = "reminder_payload" if field == "reminded_at" else "summary_payload"
    claimed = WindowOccurrenceRecord.objects.filter(
        pk=record.pk, **{f"{field}__isnull": True}
    ).update(**{field: now, payload_field: payload})
    return bool(claimed)


def _remind(
    window: MaintenanceWindow, occurrence: Occurrence, jobs: list[OperationJob], now: datetime
) -> bool:
    minutes = max(1, math.ceil((occurrence.start - now).total_seconds() / 60))
    operations = [_operation(job) for job in jobs]
    message = (
        f"Window '{window.name}' opens {local_moment(occurrence.start, window.timezone)} "
        f"(in {minutes} min): {_count(len(jobs), 'operation')} — {_listed(operations)}."
    )
    lines = [f"{format_occurrence(occurrence, window.timezone)}{_cutoff(window, occurrence)}."]
    lines += ["", "Operations:"]
    for job, operation in zip(jobs, operations, strict=True):
        extra = []
        if job.requested_by is not None:
            extra.append(f"requested by {job.requested_by.username}")
        if job.awaits_approval:
            extra.append("awaits approval")
        said = "".join(f", {e}" for e in extra)
        lines.append(f"- {operation}{said}: {_absolute(job.get_absolute_url())}")
    details = "\n".join(lines)
    payload = _payload(REMINDER, window, occurrence, [(job, "") for job in jobs], message, details)
    with transaction.atomic():
        if not _claim(window, occurrence, "reminded_at", now, payload):
            return False
        notify(
            recipients=_recipients(jobs),
            severity=Severity.INFO,
            message=message,
            link=window_link(window),
            details=details,
        )
    return True


def _cutoff(window: MaintenanceWindow, occurrence: Occurrence) -> str:
    if not window.cutoff_minutes:
        return ""
    return (
        f"; new work may start until {clock(occurrence.last_start.astimezone(window.rule().zone))}"
    )


# --------------------------------------------------------------------------- summaries


def _history_model() -> Any:
    return OperationJob.history.model  # type: ignore[attr-defined]


def _due_summaries(
    now: datetime,
) -> list[tuple[MaintenanceWindow, Occurrence, list[OperationJob]]]:
    """(window, occurrence, every job ever scheduled in it) for the occurrences whose
    work ended by ``now`` and that were not summarized yet."""
    earliest = now - SUMMARY_LOOKBACK - timedelta(minutes=MAX_DURATION_MINUTES)
    pairs = set(
        _history_model()
        .objects.filter(window_id__isnull=False, not_before__gte=earliest, not_before__lt=now)
        .order_by()
        .values_list("window_id", "not_before")
        .distinct()
    )
    if not pairs:
        return []
    windows = {w.pk: w for w in MaintenanceWindow.objects.filter(pk__in={p[0] for p in pairs})}
    occurrences: dict[Key, tuple[MaintenanceWindow, Occurrence]] = {}
    for window_id, not_before in pairs:
        window = windows.get(window_id)
        if window is None:
            continue  # deleted
        occurrence = window_occurrence_at(window.rule(), not_before)
        if occurrence is None or not now - SUMMARY_LOOKBACK <= occurrence.end <= now:
            continue
        occurrences[(window.pk, occurrence.start)] = (window, occurrence)
    sent = _recorded(occurrences, "summarized_at")
    due = []
    for key in sorted(k for k in occurrences if k not in sent):
        window, occurrence = occurrences[key]
        jobs = occurrence_jobs(window, occurrence)
        pending = [j for j in jobs if _section(j, window, occurrence) == PENDING]
        if jobs and (not pending or now >= occurrence.end + SUMMARY_MAX_WAIT):
            due.append((window, occurrence, jobs))
    return due


def occurrence_jobs(window: MaintenanceWindow, occurrence: Occurrence) -> list[OperationJob]:
    """Every job that was ever scheduled in the occurrence (its history says so), by id:
    those still in it and those moved on since."""
    ids = set(
        _history_model()
        .objects.filter(
            window_id=window.pk,
            not_before__gte=occurrence.start,
            not_before__lt=occurrence.end,
        )
        .values_list("id", flat=True)
    )
    return list(OperationJob.objects.filter(pk__in=ids).select_related(*_RELATED).order_by("pk"))


def _in_occurrence(job: OperationJob, window: MaintenanceWindow, occurrence: Occurrence) -> bool:
    return (
        job.window_id == window.pk
        and job.not_before is not None
        and occurrence.start <= job.not_before < occurrence.end
    )


def _section(job: OperationJob, window: MaintenanceWindow, occurrence: Occurrence) -> str:
    if not _in_occurrence(job, window, occurrence):
        return MOVED
    if job.status == JobStatus.SUCCEEDED:
        return RAN
    if job.status in _FAILED_STATUSES:
        return FAILED
    if job.status in _NOT_RUN_STATUSES:
        return NOT_RUN
    return PENDING


def _summarize(
    window: MaintenanceWindow, occurrence: Occurrence, jobs: list[OperationJob], now: datetime
) -> bool:
    by_section: dict[str, list[OperationJob]] = {name: [] for name, _ in SECTIONS}
    for job in jobs:
        by_section[_section(job, window, occurrence)].append(job)
    said = []
    for name, verb in (
        (RAN, "ran"),
        (FAILED, "failed"),
        (NOT_RUN, "did not run"),
        (MOVED, "moved on"),
        (PENDING, "still going"),
    ):
        if by_section[name]:
            said.append(f"{verb}: {_listed([_operation(j) for j in by_section[name]])}")
    message = (
        f"Window '{window.name}' ({format_occurrence(occurrence, window.timezone)}) is over; "
        + "; ".join(said)
        + "."
    )
    lines: list[str] = []
    outcomes: list[tuple[OperationJob, str]] = []
    for name, title in SECTIONS:
        section = by_section[name]
        if not section:
            continue
        if lines:
            lines.append("")
        lines.append(f"{title} ({len(section)}):")
        for job in section:
            outcomes.append((job, name))
            url = _absolute(job.get_absolute_url())
            lines.append(f"- {_operation(job)}: {_outcome_text(job, name)} — {url}")
    details = "\n".join(lines)
    if by_section[FAILED]:
        severity = Severity.ERROR
    elif by_section[NOT_RUN] or by_section[MOVED] or by_section[PENDING]:
        severity = Severity.WARNING
    else:
        severity = Severity.SUCCESS
    payload = _payload(SUMMARY, window, occurrence, outcomes, message, details)
    with transaction.atomic():
        if not _claim(window, occurrence, "summarized_at", now, payload):
            return False
        notify(
            recipients=_recipients(jobs),
            severity=severity,
            message=message,
            link=window_link(window),
            details=details,
        )
    return True


def _outcome_text(job: OperationJob, section: str) -> str:
    if section == MOVED:
        if job.status == JobStatus.SCHEDULED:
            return f"now {schedule_text(job)}"
        return f"moved, now {job.get_status_display().lower()}"
    status = job.get_status_display().lower()
    error = _error(job)
    return f"{status}: {error}" if error else status


def _error(job: OperationJob) -> str:
    text = " ".join((job.error or "").split())
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


# --------------------------------------------------------------------------- words and people


def _operation(job: OperationJob) -> str:
    """``migrate web-1 to host-b (#12)``."""
    vm = job.vm_name
    if job.kind == JobKind.MIGRATE:
        what = f"migrate {vm} to {job.platform.name}"
    elif job.kind == JobKind.CLONE:
        what = f"clone {vm} on {job.platform.name}"
    elif job.kind == JobKind.SNAPSHOT:
        what = f"snapshot {vm}"
    elif job.kind == JobKind.DECOMMISSION:
        what = f"decommission {vm}"
    elif job.kind == JobKind.ROLLBACK:
        what = f"roll back {vm} to a snapshot"
    else:
        what = f"{job.kind} {vm}"
    return f"{what} (#{job.pk})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _listed(items: Sequence[str]) -> str:
    if len(items) <= LISTED:
        return ", ".join(items)
    return ", ".join(items[:LISTED]) + f" and {len(items) - LISTED} more"


def _absolute(path: str) -> str:
    return f"{settings.VMPERSONA_BASE_URL.rstrip('/')}{path}"


def window_link(window: MaintenanceWindow) -> str:
    """The window page's occurrences-sent panel."""
    return reverse("operations:window", args=[window.name]) + "#notices"


def _recipients(jobs: Iterable[OperationJob]) -> list:
    """The jobs' requesters (active ones) and the administrators."""
    User = get_user_model()
    requesters = {j.requested_by_id for j in jobs if j.requested_by_id is not None}
    people = list(administrators())
    people += list(User.objects.filter(pk__in=requesters, is_active=True))
    return people


def _payload(
    event: str,
    window: MaintenanceWindow,
    occurrence: Occurrence,
    jobs: Sequence[tuple[OperationJob, str]],
    message: str,
    details: str,
) -> dict[str, Any]:
    """What the webhook receives (and the record keeps)."""
    rows = []
    for job, outcome in jobs:
        row = {
            "id": job.pk,
            "kind": job.kind,
            "vm": job.vm_name,
            "status": job.status,
            "error": job.error or "",
            "url": _absolute(job.get_absolute_url()),
        }
        if outcome:
            row["outcome"] = outcome
        rows.append(row)
    return {
        "event": event,
        "window": window.name,
        "occurrence": {"start": occurrence.start.isoformat(), "end": occurrence.end.isoformat()},
        "jobs": rows,
        "text": f"{message}\n\n{details}",
    }


# --------------------------------------------------------------------------- the webhook


def webhook_secret(setting: str = "VMPERSONA_WEBHOOK_SECRET", label: bytes = SECRET_LABEL) -> bytes:
    """The key webhooks are signed with: the ``setting`` (``VMPERSONA_WEBHOOK_SECRET``), or
    else the hex HMAC-SHA256 of ``label`` keyed with ``SECRET_KEY`` (as text)."""
    configured = getattr(settings, setting, "")
    if configured:
        return configured.encode()
    derived = hmac.new(settings.SECRET_KEY.encode(), label, hashlib.sha256).hexdigest()
    return derived.encode()


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The JSON body exactly as posted (and signed)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_signature(body: bytes, secret: bytes | None = None) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>``, keyed with ``secret`` (default: the
    windows' ``webhook_secret()``)."""
    key = webhook_secret() if secret is None else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx answer is an error, never followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        return None


def webhook_post(url: str, payload: dict[str, Any], *, secret: bytes | None = None) -> str:
    """POST ``payload`` to ``url``, signed with ``secret`` (default: the windows'
    ``webhook_secret()``); "" when it answered 2xx, else what went wrong. One attempt;
    redirects are never followed."""
    if urlsplit(url).scheme not in ("http", "https"):
        return "not an http or https URL"
    body = webhook_body(payload)
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: webhook_signature(body, secret),
            EVENT_HEADER: str(payload.get("event", "")),
        },
    )
    try:
        opener = urllib.request.build_opener(_NoRedirects)
        with opener.open(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        if 300 <= exc.code < 400:
            return f"HTTP {exc.code}: redirects are not followed"
        return f"HTTP {exc.code} {exc.reason}".strip()
    except urllib.error.URLError as exc:
        return f"could not connect: {exc.reason}"
    except (TimeoutError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if not 200 <= status < 300:
        return f"HTTP {status}"
    return ""


def _pending_deliveries(now: datetime) -> list[tuple[WindowOccurrenceRecord, str]]:
    """(record, event) for each reminder or summary sent within ``WEBHOOK_RETRY_FOR``
    that its window's webhook has not taken yet, with attempts left."""
    since = now - WEBHOOK_RETRY_FOR
    records = (
        WindowOccurrenceRecord.objects.select_related("window")
        .exclude(window__webhook_url="")
        .filter(
            Q(
                reminded_at__gte=since,
                reminder_webhook_at__isnull=True,
                reminder_webhook_attempts__lt=WEBHOOK_ATTEMPTS,
            )
            | Q(
                summarized_at__gte=since,
                summary_webhook_at__isnull=True,
                summary_webhook_attempts__lt=WEBHOOK_ATTEMPTS,
            )
        )
        .order_by("occurrence_start", "pk")
    )
    due = []
    for record in records:
        for event, prefix in ((REMINDER, "reminder"), (SUMMARY, "summary")):
            sent_at = record.reminded_at if prefix == "reminder" else record.summarized_at
            if (
                sent_at is not None
                and sent_at >= since
                and getattr(record, f"{prefix}_webhook_at") is None
                and getattr(record, f"{prefix}_webhook_attempts") < WEBHOOK_ATTEMPTS
                and getattr(record, f"{prefix}_payload")
            ):
                due.append((record, event))
    return due


def _deliver(record: WindowOccurrenceRecord, event: str, now: datetime) -> bool | None:
    """One attempt, claimed first (so at most ``WEBHOOK_ATTEMPTS`` in all); True when
    the webhook took it, False when it failed (recorded), None when another tick had
    claimed this attempt."""
    prefix = "reminder" if event == REMINDER else "summary"
    attempts = getattr(record, f"{prefix}_webhook_attempts")
    claimed = WindowOccurrenceRecord.objects.filter(
        pk=record.pk,
        **{f"{prefix}_webhook_attempts": attempts, f"{prefix}_webhook_at__isnull": True},
    ).update(**{f"{prefix}_webhook_attempts": attempts + 1})
    if not claimed:
        return None
    error = webhook_post(record.window.webhook_url, getattr(record, f"{prefix}_payload"))
    if not error:
        WindowOccurrenceRecord.objects.filter(pk=record.pk).update(**{f"{prefix}_webhook_at": now})
        return True
    text = f"{event}, attempt {attempts + 1} of {WEBHOOK_ATTEMPTS}: {error}"
    logger.warning(
        "window webhook for %s@%s failed: %s",
        record.window.name,
        record.occurrence_start.isoformat(),
        text,
    )
    WindowOccurrenceRecord.objects.filter(pk=record.pk).update(
        webhook_error=text[:1000], webhook_error_at=now
    )
    return False
