"""The document editor: a new profile, editing a draft, a new draft from a version."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from profiles_app.documents import pretty_json
from profiles_app.forms import KEY_NOTICE, DocumentForm, ProfileCreateForm
from profiles_app.kinds import get_kind
from profiles_app.models import VersionStatus
from profiles_app.services import versions as version_services
from profiles_app.views.common import (
    KIND,
    can_author,
    is_own_draft,
    version_or_404,
)
from vmpersona.errors import DomainError, http_status


def _render_editor(request, *, form, title, policy=None, version=None, status=200, **extra):
    kind = policy.kind if policy is not None else KIND
    context = {
        "form": form,
        "title": title,
        "policy": policy,
        "version": version,
        "key_notice": KEY_NOTICE,
        "vppd_sections": get_kind(kind).section_help(),
        **extra,
    }
    return render(request, "profiles_app/version_form.html", context, status=status)


@login_required
def profile_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProfileCreateForm(request.POST, kind=KIND)
        if form.is_valid():
            try:
                version = version_services.policy_create(
                    user=request.user,
                    document=form.cleaned_data["document"],
                    name=form.cleaned_data["name"] or None,
                    kind=KIND,
                    change_note=form.cleaned_data["change_note"],
                )
            except ValidationError as exc:
                form.add_document_errors(exc)
            except DomainError as exc:
                messages.error(request, f"Could not create the profile: {exc}")
                return _render_editor(
                    request, form=form, title="New profile", status=http_status(exc)
                )
            else:
                messages.success(
                    request, f"Profile {version.policy.name} created as draft {version.label}."
                )
                return redirect(version)
    else:
        if not can_author(request.user):
            messages.warning(request, "Creating profiles needs the 'authors' role.")
            return redirect("profiles:list")
        form = ProfileCreateForm(
            initial={"document": pretty_json(get_kind(KIND).starter(), kind=KIND)}, kind=KIND
        )
    return _render_editor(request, form=form, title="New profile")


@login_required
def draft_edit(request: HttpRequest, name: str, number: int) -> HttpResponse:
    version = version_or_404(name, number)
    title = f"Edit draft {version.label}"
    if request.method == "POST":
        form = DocumentForm(request.POST, kind=version.policy.kind)
        if form.is_valid():
            try:
                version_services.version_update_draft(
                    user=request.user,
                    version=version,
                    document=form.cleaned_data["document"],
                    change_note=form.cleaned_data["change_note"],
                )
            except ValidationError as exc:
                form.add_document_errors(exc)
            except DomainError as exc:
                messages.error(request, f"Could not save {version.label}: {exc}")
                return redirect(version)
            else:
                messages.success(request, f"Draft {version.label} saved.")
                return redirect(version)
    else:
        if not (can_author(request.user) and is_own_draft(request.user, version)):
            if version.status != VersionStatus.DRAFT:
                why = f"{version.label} is {version.get_status_display().lower()}; only drafts can be edited."
            else:
                why = f"{version.label} is {version.author}'s draft; only its author may edit it."
            messages.warning(request, why)
            return redirect(version)
        form = DocumentForm(
            initial={
                "document": pretty_json(version.document, kind=version.policy.kind),
                "change_note": version.change_note,
            },
            kind=version.policy.kind,
        )
    return _render_editor(request, form=form, title=title, policy=version.policy, version=version)


@login_required
def draft_new_from(request: HttpRequest, name: str, number: int) -> HttpResponse:
    parent = version_or_404(name, number)
    title = f"New draft of {parent.policy.name} from v{parent.number}"
    if request.method == "POST":
        form = DocumentForm(request.POST, kind=parent.policy.kind)
        if form.is_valid():
            try:
                version = version_services.version_create_draft(
                    user=request.user,
                    policy=parent.policy,
                    document=form.cleaned_data["document"],
                    parent=parent,
                    change_note=form.cleaned_data["change_note"],
                )
            except ValidationError as exc:
                form.add_document_errors(exc)
            except DomainError as exc:
                messages.error(request, f"Could not create the draft: {exc}")
                return redirect(parent)
            else:
                messages.success(request, f"Draft {version.label} created from v{parent.number}.")
                return redirect(version)
    else:
        if not can_author(request.user):
            messages.warning(request, "Creating drafts needs the 'authors' role.")
            return redirect(parent)
        form = DocumentForm(
            initial={"document": pretty_json(parent.document, kind=parent.policy.kind)},
            kind=parent.policy.kind,
        )
    return _render_editor(
        request, form=form, title=title, policy=parent.policy, version=None, parent=parent
    )
