"""A refusal as a page shows it: its text and the HTTP status that fits it."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from profiles_app.documents import error_list
from vmpersona.errors import NotPermitted, StateConflict


def error_text(exc: Exception) -> str:
    """One line: a ``ValidationError``'s errors as ``path: message``, joined by "; "."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{e['path']}: {e['message']}" if e["path"] else e["message"] for e in error_list(exc)
        )
    return str(exc)


def status_for(exc: Exception) -> int:
    """403 for a missing role, 409 for a state that does not allow it, else 400."""
    if isinstance(exc, NotPermitted):
        return 403
    if isinstance(exc, StateConflict):
        return 409
    return 400
