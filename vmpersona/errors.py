"""Domain errors shared by every app. Views map them to clear responses."""

from django.core.exceptions import ValidationError


class DomainError(Exception):
    """An operation that cannot be done as asked; the message is for the user."""


class StateConflict(DomainError):
    """The object is not in a state that allows the operation (HTTP 409)."""


class NotPermitted(DomainError):
    """The user's roles do not allow the operation (HTTP 403)."""


class NotFoundError(DomainError):
    """The named object does not exist (HTTP 404)."""


def field_error(path: str, message: str, code: str = "invalid") -> ValidationError:
    """Invalid input at ``path`` (a field, or a pointer below one): pages, the API and the
    CLI show ``message`` with that path."""
    return ValidationError(
        "%(path)s: %(message)s", code=code, params={"path": path, "message": message}
    )
