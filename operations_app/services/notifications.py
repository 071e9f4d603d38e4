"""Notifications: the bell menu, its live push, and email.

Every notification has a kind (``vmpersona.accounts.models.NotificationKind``): the bell
always shows it; it is emailed unless its recipient chose not to get that kind by email
("Your account" page).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q

from operations_app.models import Notification, OperationJob, Severity
from operations_app.services.events import push, user_group
from vmpersona.accounts.models import NotificationKind
from vmpersona.accounts.selectors import email_muted
from vmpersona.roles import APPROVERS, OPERATORS

logger = logging.getLogger(__name__)


def administrators():
    """Superusers and operators: the people told about failures and rollbacks."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=OPERATORS))
        .distinct()
    )


def approvers():
    """Superusers and approvers: the people who may approve a scheduled job (its
    requester aside; ``services.scheduling`` checks that)."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=APPROVERS))
        .distinct()
    )


def notify(
    *,
    recipients: Iterable,
    severity: str,
    message: str,
    link: str = "",
    job: OperationJob | None = None,
    details: str = "",
    kind: str | None = None,
) -> list[Notification]:
    """One bell notification per recipient (pushed live), and one email after commit to
    those with an address who did not turn ``kind`` off for email: ``message``, then
    ``details`` (email only: longer text, e.g. a list with links), then the link.

    ``kind`` defaults to job outcomes for a notification about a job, else to
    maintenance and windows."""
    if kind is None:
        kind = NotificationKind.JOB_OUTCOMES if job is not None else NotificationKind.MAINTENANCE
    people = {u.pk: u for u in recipients}
    muted = email_muted(user_ids=people, kind=kind) if people else set()
    made = []
    emails = []
    for user in people.values():
        note = Notification.objects.create(
            recipient=user, severity=severity, message=message, link=link, job=job
        )
        made.append(note)
        push(
            user_group(user.pk),
            {
                "kind": "notification",
                "id": note.pk,
                "severity": severity,
                "message": message,
                "link": link,
            },
        )
        if user.email and user.pk not in muted:
            emails.append(user.email)
    if emails:
        subject = f"[VM Persona] {Severity(severity).label}: {message[:80]}"
        body = message + (f"\n\n{details}" if details else "")
        body += f"\n\n{settings.VMPERSONA_BASE_URL.rstrip('/')}{link}" if link else ""

        def send() -> None:
            try:
                send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, emails, fail_silently=False)
            except Exception:
                logger.warning("notification email failed", exc_info=True)

        transaction.on_commit(send)
    return made


def notify_job_outcome(*, job: OperationJob, severity: str, message: str) -> list[Notification]:
    recipients = list(administrators())
    if job.requested_by is not None:
        recipients.append(job.requested_by)
    return notify(
        recipients=recipients,
        severity=severity,
        message=message,
        link=job.get_absolute_url(),
        job=job,
    )


def notification_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=user, read=False)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read=True)
