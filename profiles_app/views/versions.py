"""A version's page, with the buttons its viewer may use."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from profiles_app import selectors
from profiles_app.documents import pretty_json
from profiles_app.models import PolicyKind, PolicyVersion, VersionStatus
from profiles_app.views.common import (
    can_approve,
    can_author,
    is_own_draft,
    kind_pages,
    version_or_404,
)
from vmpersona.roles import may_clone


def version_actions(user, version: PolicyVersion) -> dict[str, bool]:
    """Which buttons to show; the services decide again when a button is used."""
    author = can_author(user)
    approver = can_approve(user)
    own_draft = author and is_own_draft(user, version)
    wrote_it = any(a.pk == user.pk for a in version.authors.all()) or version.author_id == user.pk
    return {
        "edit": own_draft,
        "discard": own_draft,
        "submit": own_draft,
        "review": approver and version.status == VersionStatus.PENDING and not wrote_it,
        "retire": approver and version.status in (VersionStatus.APPROVED, VersionStatus.SUPERSEDED),
        "new_draft": author,
        # A clone of an approved VM profile, offered to those the clone service accepts.
        "clone": version.status == VersionStatus.APPROVED
        and version.policy.kind == PolicyKind.VPPD
        and may_clone(user, environment=version.environment),
    }


@login_required
def version_detail(request: HttpRequest, kind: str, name: str, number: int) -> HttpResponse:
    pages = kind_pages(kind)
    version = version_or_404(pages, name, number)
    others = [v for v in selectors.version_list(policy=version.policy) if v.pk != version.pk]
    return render(
        request,
        "profiles_app/version_detail.html",
        {
            "pages": pages,
            "policy": version.policy,
            "version": version,
            "document": version.document,
            "raw_json": pretty_json(version.document, kind=version.policy.kind),
            "actions": version_actions(request.user, version),
            "authors": sorted(a.username for a in version.authors.all()),
            "other_versions": others,
            "approved": next((v for v in others if v.status == VersionStatus.APPROVED), None),
        },
    )
