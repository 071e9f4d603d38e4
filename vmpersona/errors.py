"""Domain errors shared by every app, and how pages, the API and the CLI show them: each
problem with the path of its field, and the HTTP status that fits a refusal."""

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


def error_list(exc: ValidationError) -> list[dict[str, str]]:
    """``[{"path": ..., "message": ...}]`` for pages, API and CLI alike."""
    items = []
    for err in (
        exc.error_list
        if not hasattr(exc, "error_dict")
        else [e for errs in exc.error_dict.values() for e in errs]
    ):
        params = err.params or {}
        message = params.get("message")
        if message is None:
            message = err.message % params if params else err.message
        items.append({"path": params.get("path", ""), "message": str(message)})
    return items


def error_text(exc: Exception, *, pointers_only: bool = False) -> str:
    """One line: a ``ValidationError``'s errors as ``path: message``, joined by "; ".

    With ``pointers_only`` a path is shown only when it points into a document
    (``/...``): a form shows its own fields' errors beside them."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{e['path']}: {e['message']}"
            if e["path"] and (e["path"].startswith("/") or not pointers_only)
            else e["message"]
            for e in error_list(exc)
        )
    return str(exc)


def http_status(exc: Exception) -> int:
    """403 for a missing role, 409 for a state that does not allow it, else 400."""
    if isinstance(exc, NotPermitted):
        return 403
    if isinstance(exc, StateConflict):
        return 409
    return 400
