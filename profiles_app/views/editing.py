"""The document editor: a new policy, editing a draft, a new draft from a version."""

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
    KindPages,
    can_author,
    is_own_draft,
    kind_pages,
    version_or_404,
)
from profiles_app.views.starters import STARTER, examples, starting_point
from vmpersona.errors import DomainError, http_status


def _render_editor(
    request, pages: KindPages, *, form, title, policy=None, version=None, status=200, **extra
):
    context = {
        "pages": pages,
        "form": form,
        "title": title,
        "policy": policy,
        "version": version,
        "key_notice": KEY_NOTICE,
        "sections": get_kind(pages.kind).section_help(),
        **extra,
    }
    return render(request, "profiles_app/version_form.html", context, status=status)


@login_required
def policy_create(request: HttpRequest, kind: str) -> HttpResponse:
    pages = kind_pages(kind)
    title = f"New {pages.noun}"
    start = None
    if request.method == "POST":
        form = ProfileCreateForm(request.POST, kind=kind)
        if form.is_valid():
            try:
                version = version_services.policy_create(
                    user=request.user,
                    document=form.cleaned_data["document"],
                    name=form.cleaned_data["name"] or None,
                    kind=kind,
                    change_note=form.cleaned_data["change_note"],
                )
            except ValidationError as exc:
                form.add_document_errors(exc)
            except DomainError as exc:
                messages.error(request, f"Could not create the {pages.noun}: {exc}")
                return _render_editor(
                    request, pages, form=form, title=title, status=http_status(exc)
                )
            else:
                messages.success(
                    request,
                    f"{pages.noun.capitalize()} {version.policy.name} created as draft "
                    f"{version.label}.",
                )
                return redirect(pages.version_url(version))
    else:
        if not can_author(request.user):
            messages.warning(request, f"Creating {pages.nouns} needs the 'authors' role.")
            return redirect(pages.url("list"))
        start = starting_point(pages, request.GET.get("example", STARTER))
        form = ProfileCreateForm(
            initial={"document": pretty_json(start.document, kind=kind)}, kind=kind
        )
    return _render_editor(
        request,
        pages,
        form=form,
        title=title,
        examples=examples(pages),
        start=start,
    )


@login_required
def draft_edit(request: HttpRequest, kind: str, name: str, number: int) -> HttpResponse:
    pages = kind_pages(kind)
    version = version_or_404(pages, name, number)
    title = f"Edit draft {version.label}"
    if request.method == "POST":
        form = DocumentForm(request.POST, kind=kind)
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
                return redirect(pages.version_url(version))
            else:
                messages.success(request, f"Draft {version.label} saved.")
                return redirect(pages.version_url(version))
    else:
        if not (can_author(request.user) and is_own_draft(request.user, version)):
            if version.status != VersionStatus.DRAFT:
                why = f"{version.label} is {version.get_status_display().lower()}; only drafts can be edited."
            else:
                why = f"{version.label} is {version.author}'s draft; only its author may edit it."
            messages.warning(request, why)
            return redirect(pages.version_url(version))
        form = DocumentForm(
            initial={
                "document": pretty_json(version.document, kind=kind),
                "change_note": version.change_note,
            },
            kind=kind,
        )
    return _render_editor(
        request, pages, form=form, title=title, policy=version.policy, version=version
    )


@login_required
def draft_new_from(request: HttpRequest, kind: str, name: str, number: int) -> HttpResponse:
    pages = kind_pages(kind)
    parent = version_or_404(pages, name, number)
    title = f"New draft of {parent.policy.name} from v{parent.number}"
    if request.method == "POST":
        form = DocumentForm(request.POST, kind=kind)
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
                return redirect(pages.version_url(parent))
            else:
                messages.success(request, f"Draft {version.label} created from v{parent.number}.")
                return redirect(pages.version_url(version))
    else:
        if not can_author(request.user):
            messages.warning(request, "Creating drafts needs the 'authors' role.")
            return redirect(pages.version_url(parent))
        form = DocumentForm(
            initial={"document": pretty_json(parent.document, kind=kind)}, kind=kind
        )
    return _render_editor(
        request, pages, form=form, title=title, policy=parent.policy, version=None, parent=parent
    )
