"""Notifications of the review of profile and policy versions.

Connected (``apps.OperationsAppConfig.ready``) to ``profiles_app.signals.version_reviewed``,
which the policy store sends inside the review's transaction:

- **submitted**: the approvers who may approve it get a review request (bell and email),
  never its author(s) (separation of duties; the same for every kind of policy);
- **approved / rejected**: its author(s) get the decision with the reviewer's comment;
- **retired** (an active, approved version): its author(s) are told.

Each links to the version's page. The one who acted is never told of their own step.

**Webhook**: with ``VMPERSONA_REVIEW_WEBHOOK_URL`` set, each step is also POSTed there as
JSON after commit, by a worker task: signed like the windows' webhook
(``X-VMPersona-Signature: sha256=<hex HMAC-SHA256 of the body>`` keyed with
``VMPERSONA_REVIEW_WEBHOOK_SECRET``, or a key derived from ``SECRET_KEY``), 5 s timeout,
redirects never followed, at most ``WEBHOOK_ATTEMPTS`` attempts. A failure is logged; it
never holds up or undoes the review.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction

from operations_app.models import Severity
from operations_app.services.notifications import approvers, notify
from operations_app.services.window_notices import WEBHOOK_ATTEMPTS, webhook_post, webhook_secret
from profiles_app.models import PolicyKind, PolicyVersion, VersionStatus
from profiles_app.signals import APPROVED, REJECTED, RETIRED, SUBMITTED
from vmpersona.accounts.models import NotificationKind

logger = logging.getLogger(__name__)

# Without VMPERSONA_REVIEW_WEBHOOK_SECRET the key is HMAC-SHA256(SECRET_KEY, this label), hex.
SECRET_LABEL = b"vmpersona.review-webhook.v1"
# Seconds to wait before the second and the third attempt.
RETRY_DELAYS_S: tuple[float, ...] = (2.0, 10.0)
EVENT_PREFIX = "version."


def _noun(version: PolicyVersion) -> str:
    return "Profile" if version.policy.kind == PolicyKind.VPPD else "Scheduling policy"


def _writers(version: PolicyVersion) -> list:
    """The version's author and everyone who wrote any of its content, active ones."""
    people = {u.pk: u for u in version.authors.filter(is_active=True)}
    if version.author.is_active:
        people.setdefault(version.author_id, version.author)
    return list(people.values())


def _quoted(comment: str) -> str:
    return f": “{comment.strip()}”" if comment and comment.strip() else "."


def review_notice(
    version: PolicyVersion, *, action: str, user, comment: str, previous_status: str
) -> tuple[list, str, str, str, str] | None:
    """(recipients, severity, message, details, kind) for a review step, or None when
    nobody is told (retiring a version that was no longer active)."""
    label, noun, actor = version.label, _noun(version), user.username
    details = ""
    if action == SUBMITTED:
        writers = {u.pk for u in _writers(version)} | {version.author_id}
        people = [u for u in approvers() if u.pk not in writers]
        message = f"{noun} {label} by {version.author.username} waits for your review."
        if version.change_note:
            details = f"Change note: {version.change_note}"
        return people, Severity.INFO, message, details, NotificationKind.REVIEW_REQUESTS
    if action == APPROVED:
        severity, message = Severity.SUCCESS, f"{actor} approved {noun.lower()} {label}"
    elif action == REJECTED:
        severity, message = Severity.WARNING, f"{actor} rejected {noun.lower()} {label}"
    elif action == RETIRED and previous_status == VersionStatus.APPROVED:
        severity = Severity.WARNING
        message = f"{actor} retired {noun.lower()} {label}; it may no longer be used"
    else:
        return None
    people = [u for u in _writers(version) if u.pk != user.pk]
    return people, severity, message + _quoted(comment), details, NotificationKind.REVIEW_DECISIONS


def version_reviewed_notify(
    sender: Any,
    *,
    version: PolicyVersion,
    action: str,
    user,
    comment: str = "",
    previous_status: str = "",
    **kwargs: Any,
) -> None:
    """Receiver of ``version_reviewed``: the bell and email now (in a savepoint of the
    review's transaction, so a failure here leaves the review intact), the webhook
    after commit."""
    notice = None
    try:
        with transaction.atomic():
            notice = review_notice(
                version, action=action, user=user, comment=comment, previous_status=previous_status
            )
            if notice is not None:
                people, severity, message, details, kind = notice
                notify(
                    recipients=people,
                    severity=severity,
                    message=message,
                    link=version.get_absolute_url(),
                    details=details,
                    kind=kind,
                )
    except Exception:
        logger.exception("notifications of %s %s failed", action, version.label)
    url = getattr(settings, "VMPERSONA_REVIEW_WEBHOOK_URL", "")
    if url:
        text = notice[2] if notice is not None else f"{user.username} {action} {version.label}."
        payload = review_payload(version, action=action, user=user, comment=comment, text=text)
        transaction.on_commit(lambda: review_webhook_enqueue(payload))


def review_payload(
    version: PolicyVersion, *, action: str, user, comment: str, text: str
) -> dict[str, Any]:
    """What the webhook receives."""
    base = settings.VMPERSONA_BASE_URL.rstrip("/")
    return {
        "event": f"{EVENT_PREFIX}{action}",
        "kind": version.policy.kind,
        "policy": version.policy.name,
        "version": version.number,
        "label": version.label,
        "status": version.status,
        "actor": user.username,
        "author": version.author.username,
        "authors": sorted(version.authors.values_list("username", flat=True)),
        "comment": comment or "",
        "url": f"{base}{version.get_absolute_url()}",
        "text": text,
    }


def review_webhook_enqueue(payload: dict[str, Any]) -> None:
    """Hand the delivery to a worker (never raises: a queue that cannot be reached is
    logged, and the review stands)."""
    from django_q.tasks import async_task

    try:
        async_task(
            "operations_app.tasks.deliver_review_webhook",
            payload,
            task_name=f"review-webhook-{payload.get('label', '')}",
            group="review-webhook",
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure only loses the webhook
        logger.warning("review webhook for %s not queued: %s", payload.get("label"), exc)


def review_webhook_deliver(payload: dict[str, Any]) -> str:
    """POST ``payload`` to ``VMPERSONA_REVIEW_WEBHOOK_URL``, at most ``WEBHOOK_ATTEMPTS``
    times; "" once delivered, else the last error (logged; never raised)."""
    url = getattr(settings, "VMPERSONA_REVIEW_WEBHOOK_URL", "")
    if not url:
        return ""
    secret = webhook_secret("VMPERSONA_REVIEW_WEBHOOK_SECRET", SECRET_LABEL)
    error = ""
    for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
        error = webhook_post(url, payload, secret=secret)
        if not error:
            return ""
        logger.warning(
            "review webhook %s, attempt %d of %d: %s",
            payload.get("event"),
            attempt,
            WEBHOOK_ATTEMPTS,
            error,
        )
        if attempt < WEBHOOK_ATTEMPTS:
            time.sleep(RETRY_DELAYS_S[min(attempt - 1, len(RETRY_DELAYS_S) - 1)])
    return error
