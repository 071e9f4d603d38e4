"""API tokens (django-rest-knox): created, revoked one by one or all at once; and the
choice, per kind of notification, of whether it also comes by email.

knox stores a SHA-512 digest of each token, never the token itself, so the key is
returned once, by ``api_token_create``, and cannot be shown again.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from knox.models import AuthToken

from vmpersona.accounts.models import NotificationKind, NotificationPreference
from vmpersona.accounts.selectors import notification_email_choices
from vmpersona.errors import NotFoundError, NotPermitted, field_error

MAX_TOKEN_DAYS = 365


def _require_active(user, action: str = "manage API tokens") -> None:
    if user is None or not user.is_authenticated or not user.is_active:
        raise NotPermitted(f"Log in to {action}.")


@transaction.atomic
def api_token_create(*, user, days: int | None = None) -> tuple[AuthToken, str]:
    """A new token for ``user``; returns the row and the key (shown once)."""
    _require_active(user)
    if days is None:
        ttl = settings.VMPERSONA_API_TOKEN_TTL
    elif 1 <= days <= MAX_TOKEN_DAYS:
        ttl = timedelta(days=days)
    else:
        raise field_error("days", f"a token lasts from 1 to {MAX_TOKEN_DAYS} days")
    return AuthToken.objects.create(user=user, expiry=ttl)


@transaction.atomic
def api_token_revoke(*, user, digest: str) -> None:
    """Revoke one of ``user``'s own tokens."""
    _require_active(user)
    deleted, _ = AuthToken.objects.filter(user=user, digest=digest).delete()
    if not deleted:
        raise NotFoundError("No such token among yours (already revoked or expired?).")


@transaction.atomic
def api_token_revoke_all(*, user) -> int:
    """Revoke every token of ``user``; returns how many there were."""
    _require_active(user)
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def notification_preferences_set(*, user, email: dict[str, bool]) -> dict[str, bool]:
    """Record whether ``user`` gets each kind in ``email`` by email (kinds left out keep
    their choice); returns every kind's choice. The bell shows them all regardless."""
    _require_active(user, "change notification preferences")
    unknown = sorted(set(email) - set(NotificationKind.values))
    if unknown:
        raise field_error("email", f"unknown notification kind(s): {', '.join(unknown)}")
    for kind, wanted in email.items():
        NotificationPreference.objects.update_or_create(
            user=user, kind=kind, defaults={"email": bool(wanted)}
        )
    return notification_email_choices(user=user)
