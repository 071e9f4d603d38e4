"""Who made a change and why, for the history django-simple-history keeps of a model.

A change names a person: the one who asked for it. Pages and the API have a request
(simple-history's middleware gives its user); a service acting for someone names them
(``attribute_change(..., user=...)``); a worker running a job acts for the job's
requester (``acting_for``), so what it saves while it works is theirs in the history too,
not "None". Only what nobody asked for (a periodic sync, a window's tick) is the
system's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

REASON_LENGTH = 100  # simple-history's change-reason column
_FROM_REQUEST = object()

# The person a worker acts for (the job's requester), while it runs their job.
_acting_for: ContextVar[Any] = ContextVar("vmpersona_history_acting_for", default=None)


def _person(user: Any) -> Any:
    """``user`` when it is a signed-in person, else None."""
    return user if user is not None and getattr(user, "is_authenticated", False) else None


@contextmanager
def acting_for(user: Any) -> Iterator[None]:
    """Within the block, a change no request and no service names a person for is
    ``user``'s (a worker running ``user``'s job)."""
    token = _acting_for.set(_person(user))
    try:
        yield
    finally:
        _acting_for.reset(token)


def acting_user() -> Any:
    """The person the current worker acts for, or None."""
    return _acting_for.get()


def request_user() -> Any:
    """The signed-in person of the request being answered (simple-history's
    middleware), or None (no request: a worker, a periodic task, the CLI)."""
    from simple_history.models import HistoricalRecords

    request = getattr(HistoricalRecords.context, "request", None)
    return _person(getattr(request, "user", None))


def attribute_change(
    instance: Any, *, reason: str, user: Any = _FROM_REQUEST, on_behalf_of: Any = None
) -> None:
    """Record the next save of ``instance`` as made for ``reason``, by ``user``.

    Without ``user`` the history user is the request's person; with no request, the
    person a worker acts for (``acting_for``), else ``on_behalf_of`` (e.g. a job's
    requester, for a change to their job). An anonymous user or None records the change
    as the system's (as that person's inside ``acting_for``).
    """
    if user is not _FROM_REQUEST:
        instance._history_user = _person(user)
    elif request_user() is None:
        person = acting_user() or _person(on_behalf_of)
        if person is not None:
            instance._history_user = person
    instance._change_reason = reason[:REASON_LENGTH]


def fill_history_user(sender: Any, history_instance: Any, **kwargs: Any) -> None:
    """simple-history's ``pre_create_historical_record``: a row saved with no person
    named (no request, no ``user``) inside ``acting_for`` is that person's change."""
    if getattr(history_instance, "history_user_id", None) is None:
        person = acting_user()
        if person is not None:
            history_instance.history_user = person
