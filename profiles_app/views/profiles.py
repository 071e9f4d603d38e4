"""The list of one kind's policies, and a policy's page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from profiles_app import selectors
from profiles_app.kinds import get_kind
from profiles_app.models import VersionStatus
from profiles_app.views.common import can_approve, can_author, kind_pages, policy_or_404


@login_required
def policy_list(request: HttpRequest, kind: str) -> HttpResponse:
    pages = kind_pages(kind)
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    flag = request.GET.get("flag", "")
    if status not in VersionStatus.values:
        status = ""
    flags = get_kind(kind).flag_choices
    if flag not in flags:
        flag = ""
    policies = selectors.profile_list(kind=kind, search=search, status=status, flag=flag)
    approver = can_approve(request.user)
    return render(
        request,
        "profiles_app/profile_list.html",
        {
            "pages": pages,
            "profiles": policies,
            "search": search,
            "status": status,
            "flag": flag,
            "status_choices": [
                (s, label)
                for s, label in VersionStatus.choices
                if s in (VersionStatus.DRAFT, VersionStatus.PENDING, VersionStatus.APPROVED)
            ],
            "flag_choices": flags,
            "filtered": bool(search or status or flag),
            "can_create": can_author(request.user),
            "pending": list(selectors.pending_versions().filter(policy__kind=kind))
            if approver
            else None,
        },
    )


@login_required
def policy_detail(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    pages = kind_pages(kind)
    policy = policy_or_404(pages, name)
    versions = list(selectors.version_list(policy=policy))
    approved = next((v for v in versions if v.status == VersionStatus.APPROVED), None)
    base = approved or (versions[0] if versions else None)
    return render(
        request,
        "profiles_app/profile_detail.html",
        {
            "pages": pages,
            "policy": policy,
            "versions": versions,
            "version_numbers": {v.number for v in versions},
            "approved": approved,
            "draft_base": base,
            "timeline": selectors.profile_timeline(policy=policy),
            "can_author": can_author(request.user),
        },
    )
