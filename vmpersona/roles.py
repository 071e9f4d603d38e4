"""Roles are Django groups. Superusers hold every role.

Services check roles; views only hide buttons a user cannot use.
"""

from __future__ import annotations

from vmpersona.errors import NotPermitted

AUTHORS = "authors"
APPROVERS = "approvers"
OPERATORS = "operators"
VIEWERS = "viewers"
ALL_ROLES = (AUTHORS, APPROVERS, OPERATORS, VIEWERS)

ROLE_DESCRIPTIONS = {
    AUTHORS: "write profiles: create and edit drafts, submit them for approval",
    APPROVERS: "review versions: approve, reject and retire them",
    OPERATORS: "run operations: clone, migrate and decommission VMs",
    VIEWERS: "read everything, change nothing",
}


def has_role(user, role: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cache = getattr(user, "_vmpersona_roles", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._vmpersona_roles = cache
    return role in cache


# The execution flag of the profiles only operators may clone (authors may clone the
# Development and Testing ones).
PRODUCTION = "Production"


def may_clone(user, *, environment: str) -> bool:
    """Whether ``user`` may ask for a clone of a profile version flagged ``environment``:
    operators any, authors any but a Production one. The clone service decides with this;
    the pages use it to offer the clone only to those it will not refuse."""
    return has_role(user, OPERATORS) or (environment != PRODUCTION and has_role(user, AUTHORS))


def require_role(user, role: str, action: str) -> None:
    if not has_role(user, role):
        name = getattr(user, "username", "anonymous") or "anonymous"
        raise NotPermitted(f"{name} may not {action}: this needs the '{role}' role.")
