"""Domain errors shared by every app. Views map them to clear responses."""


class DomainError(Exception):
    """An operation that cannot be done as asked; the message is for the user."""


class StateConflict(DomainError):
    """The object is not in a state that allows the operation (HTTP 409)."""


class NotPermitted(DomainError):
    """The user's roles do not allow the operation (HTTP 403)."""


class NotFoundError(DomainError):
    """The named object does not exist (HTTP 404)."""
