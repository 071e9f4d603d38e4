"""Reads for the account page."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone
from knox.models import AuthToken


def api_token_list(*, user) -> QuerySet[AuthToken]:
    """``user``'s tokens still in force, newest first."""
    now = timezone.now()
    return AuthToken.objects.filter(Q(expiry__isnull=True) | Q(expiry__gt=now), user=user).order_by(
        "-created"
    )
