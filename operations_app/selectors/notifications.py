"""Reads of a user's notifications: the list page, the API and the bell menu."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from operations_app.models import Notification


@dataclass
class Inbox:
    unread: int = 0
    latest: list[Notification] = field(default_factory=list)


def notification_list(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    if user is None or not user.is_authenticated:
        return Notification.objects.none()
    qs = Notification.objects.filter(recipient=user).select_related("job")
    if unread_only:
        qs = qs.filter(read=False)
    return qs.order_by("-created_at", "-pk")


def notification_unread_count(*, user) -> int:
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read=False).count()


def notification_inbox(*, user, limit: int = 10) -> Inbox:
    """The unread count and the newest ``limit`` notifications: two queries."""
    if user is None or not user.is_authenticated:
        return Inbox()
    latest = list(
        Notification.objects.filter(recipient=user).order_by("-created_at", "-pk")[:limit]
    )
    return Inbox(unread=notification_unread_count(user=user), latest=latest)
