"""What the profile pages share: lookups that answer 404, error text, role checks."""

from __future__ import annotations

from django.http import Http404

from profiles_app import selectors
from profiles_app.models import Policy, PolicyKind, PolicyVersion, VersionStatus
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


def can_author(user) -> bool:
    return has_role(user, AUTHORS)


def can_approve(user) -> bool:
    return has_role(user, APPROVERS)


def is_own_draft(user, version: PolicyVersion) -> bool:
    return version.status == VersionStatus.DRAFT and (
        version.author_id == user.pk or user.is_superuser
    )
