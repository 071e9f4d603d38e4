"""Who made a change and why, for the history django-simple-history keeps of a model."""

from __future__ import annotations

from typing import Any

REASON_LENGTH = 100  # simple-history's change-reason column
_FROM_REQUEST = object()


def attribute_change(instance: Any, *, reason: str, user: Any = _FROM_REQUEST) -> None:
    """Record the next save of ``instance`` as made for ``reason``, by ``user``.

    Without ``user`` the history user is the request's (simple-history's middleware),
    if any; an anonymous user or None records the change as the system's.
    """
    if user is not _FROM_REQUEST:
        authenticated = user is not None and getattr(user, "is_authenticated", False)
        instance._history_user = user if authenticated else None
    instance._change_reason = reason[:REASON_LENGTH]
