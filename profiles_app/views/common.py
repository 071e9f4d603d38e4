"""What the profile pages share: lookups that answer 404, error text, role checks."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404

from profiles_app import selectors
from profiles_app.documents import error_list
from profiles_app.models import Policy, PolicyKind, PolicyVersion, VersionStatus
from vmpersona.errors import NotPermitted, StateConflict
from vmpersona.roles import APPROVERS, AUTHORS, has_role

KIND = PolicyKind.VPPD  # the profile pages serve VPPDs


def policy_or_404(name: str) -> Policy:
    try:
        return selectors.profile_get(kind=KIND, name=name)
    except selectors.NotFound as exc:
        raise Http404(str(exc)) from exc


def version_or_404(name: str, number: int) -> PolicyVersion:
    try:
        return selectors.version_get(kind=KIND, name=name, number=number)
    except selectors.NotFound as exc:
        raise Http404(str(exc)) from exc


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{e['path']}: {e['message']}"
            if e["path"] and e["path"].startswith("/")
            else e["message"]
            for e in error_list(exc)
        )
    return str(exc)


def status_for(exc: Exception) -> int:
    if isinstance(exc, NotPermitted):
        return 403
    if isinstance(exc, StateConflict):
        return 409
    return 400


def can_author(user) -> bool:
    return has_role(user, AUTHORS)


def can_approve(user) -> bool:
    return has_role(user, APPROVERS)


def is_own_draft(user, version: PolicyVersion) -> bool:
    return version.status == VersionStatus.DRAFT and (
        version.author_id == user.pk or user.is_superuser
    )
