"""Reads for the account page, and whom a kind of notification is not emailed to."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.utils import timezone
from knox.models import AuthToken

from vmpersona.accounts.models import NotificationKind, NotificationPreference


def api_token_list(*, user) -> QuerySet[AuthToken]:
    """``user``'s tokens still in force, newest first."""
    now = timezone.now()
    return AuthToken.objects.filter(Q(expiry__isnull=True) | Q(expiry__gt=now), user=user).order_by(
        "-created"
    )


def notification_email_choices(*, user) -> dict[str, bool]:
    """Every notification kind, and whether ``user`` gets it by email (default: yes)."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "email"))
    return {kind: chosen.get(kind, True) for kind in NotificationKind.values}


def email_muted(*, user_ids: Iterable[int], kind: str) -> set[int]:
    """Which of ``user_ids`` chose not to get ``kind`` notifications by email."""
    return set(
        NotificationPreference.objects.filter(
            user_id__in=list(user_ids), kind=kind, email=False
        ).values_list("user_id", flat=True)
    )
