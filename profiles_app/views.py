"""Server-rendered pages for profiles.

Each view parses the request, calls one selector or service, and renders. Rules about
who may do what live in the services; the pages only hide buttons a user cannot use,
and turn any refusal into a message instead of an error page.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from profiles_app import selectors
from profiles_app.diff import document_diff, side_by_side
from profiles_app.documents import REDACTED, error_list, pretty_json
from profiles_app.forms import KEY_NOTICE, DocumentForm, ProfileCreateForm, ReviewForm
from profiles_app.models import Policy, PolicyVersion, VersionStatus
from profiles_app.services import versions as version_services
from profiles_app.vppd.validation import ENVIRONMENT_FLAGS, SCHEMA_VERSION, load_vppd_schema
from vmpersona.errors import DomainError, NotPermitted, StateConflict
from vmpersona.roles import APPROVERS, AUTHORS, has_role

# The document a new profile starts from in the editor: valid, and showing the shape of
# the sections most profiles use.
STARTER_DOCUMENT: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION,
    "name": "new-profile",
    "description": "What this VM is for.",
    "base_image_id": "debian-12",
    "application_manifest": [
        {
            "name": "nginx",
            "version": "1.22",
            "install": {"method": "package", "manager": "apt", "package": "nginx"},
            "verify": {"process": "nginx"},
        }
    ],
    "data_volume_definitions": [
        {
            "name": "data",
            "size_gib": 10,
            "mount_point": "/srv/data",
            "filesystem": "ext4",
            "encryption": {"enabled": True, "generate": True},
        }
    ],
    "network_configuration": {
        "interfaces": [{"name": "eth0", "network": "default", "ipv4": {"dhcp": True}}],
        "firewall_rules": [
            {
                "direction": "in",
                "protocol": "tcp",
                "port": 22,
                "action": "accept",
                "comment": "ssh",
            },
            {
                "direction": "in",
                "protocol": "tcp",
                "port": 80,
                "action": "accept",
                "comment": "http",
            },
        ],
        "default_policy": "drop",
    },
    "resource_allocation": {"vcpus": 2, "memory_mib": 2048, "storage_gib": 20},
    "security_profile": {
        "users": [{"name": "deploy", "groups": ["adm"], "shell": "/bin/bash", "sudo": "nopasswd"}],
        "intrusion_detection": {"enabled": False},
    },
    "runtime_environment": [],
    "monitoring_agents": [],
    "execution_flags": ["Development"],
    "fixes": [],
}


@functools.cache
def vppd_section_help() -> list[tuple[str, str]]:
    """(field, first sentence of its description) of each top-level VPPD field."""
    properties = load_vppd_schema().get("properties", {})
    return [
        (key, str(spec.get("description") or spec.get("title", "")).split(". ")[0].rstrip("."))
        for key, spec in properties.items()
        if not key.startswith("$")
    ]


# --- helpers --------------------------------------------------------------------------


def _policy_or_404(name: str) -> Policy:
    try:
        return selectors.profile_get(name=name)
    except selectors.NotFound as exc:
        raise Http404(str(exc)) from exc


def _version_or_404(name: str, number: int) -> PolicyVersion:
    try:
        return selectors.version_get(name=name, number=number)
    except selectors.NotFound as exc:
        raise Http404(str(exc)) from exc


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{e['path']}: {e['message']}"
            if e["path"] and e["path"].startswith("/")
            else e["message"]
            for e in error_list(exc)
        )
    return str(exc)


def _status_for(exc: Exception) -> int:
    if isinstance(exc, NotPermitted):
        return 403
    if isinstance(exc, StateConflict):
        return 409
    return 400


def _can_author(user) -> bool:
    return has_role(user, AUTHORS)


def _can_approve(user) -> bool:
    return has_role(user, APPROVERS)


def _is_own_draft(user, version: PolicyVersion) -> bool:
    return version.status == VersionStatus.DRAFT and (
        version.author_id == user.pk or user.is_superuser
    )


def version_actions(user, version: PolicyVersion) -> dict[str, bool]:
    """Which buttons to show; the services decide again when a button is used."""
    author = _can_author(user)
    approver = _can_approve(user)
    own_draft = author and _is_own_draft(user, version)
    return {
        "edit": own_draft,
        "discard": own_draft,
        "submit": own_draft,
        "review": approver
        and version.status == VersionStatus.PENDING
        and version.author_id != user.pk,
        "retire": approver and version.status in (VersionStatus.APPROVED, VersionStatus.SUPERSEDED),
        "new_draft": author,
    }


# --- list, detail, version ------------------------------------------------------------


@login_required
def profile_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    flag = request.GET.get("flag", "")
    if status not in VersionStatus.values:
        status = ""
    if flag not in ENVIRONMENT_FLAGS:
        flag = ""
    profiles = selectors.profile_list(search=search, status=status, flag=flag)
    approver = _can_approve(request.user)
    return render(
        request,
        "profiles_app/profile_list.html",
        {
            "profiles": profiles,
            "search": search,
            "status": status,
            "flag": flag,
            "status_choices": [
                (s, label)
                for s, label in VersionStatus.choices
                if s in (VersionStatus.DRAFT, VersionStatus.PENDING, VersionStatus.APPROVED)
            ],
            "flag_choices": ENVIRONMENT_FLAGS,
            "filtered": bool(search or status or flag),
            "can_create": _can_author(request.user),
            "pending": list(selectors.pending_versions()) if approver else None,
        },
    )


@login_required
def profile_detail(request: HttpRequest, name: str) -> HttpResponse:
    policy = _policy_or_404(name)
    versions = list(selectors.version_list(policy=policy))
    approved = next((v for v in versions if v.status == VersionStatus.APPROVED), None)
    base = approved or (versions[0] if versions else None)
    return render(
        request,
        "profiles_app/profile_detail.html",
        {
            "policy": policy,
            "versions": versions,
            "version_numbers": {v.number for v in versions},
            "approved": approved,
            "draft_base": base,
            "timeline": selectors.profile_timeline(policy=policy),
            "can_author": _can_author(request.user),
        },
    )


@login_required
def version_detail(request: HttpRequest, name: str, number: int) -> HttpResponse:
    version = _version_or_404(name, number)
    others = [v for v in selectors.version_list(policy=version.policy) if v.pk != version.pk]
    return render(
        request,
        "profiles_app/version_detail.html",
        {
            "policy": version.policy,
            "version": version,
            "document": version.document,
            "raw_json": pretty_json(version.document),
            "actions": version_actions(request.user, version),
            "other_versions": others,
            "approved": next((v for v in others if v.status == VersionStatus.APPROVED), None),
        },
    )


# --- state changes --------------------------------------------------------------------


@dataclass(frozen=True)
class _Action:
    run: Any
    done: str
    comment: bool = False


ACTIONS: dict[str, _Action] = {
    "submit": _Action(version_services.version_submit, "submitted for approval"),
    "approve": _Action(version_services.version_approve, "approved", comment=True),
    "reject": _Action(version_services.version_reject, "rejected", comment=True),
    "retire": _Action(version_services.version_retire, "retired", comment=True),
    "discard": _Action(version_services.version_discard_draft, "discarded"),
}


@login_required
@require_POST
def version_action(request: HttpRequest, name: str, number: int, action: str) -> HttpResponse:
    version = _version_or_404(name, number)
    spec = ACTIONS[action]
    kwargs: dict[str, Any] = {"user": request.user, "version": version}
    if spec.comment:
        form = ReviewForm(request.POST)
        if not form.is_valid():
            problems = "; ".join(str(e) for errors in form.errors.values() for e in errors)
            messages.error(request, f"Could not {action} {version.label}: {problems}")
            return redirect(version)
        kwargs["comment"] = form.cleaned_data["comment"].strip()
    label = version.label
    try:
        spec.run(**kwargs)
    except (ValidationError, DomainError) as exc:
        messages.error(request, f"Could not {action} {label}: {_error_text(exc)}")
        return redirect(version)
    messages.success(request, f"{label} {spec.done}.")
    if action == "discard":
        return redirect(version.policy)
    return redirect(version)


# --- editing --------------------------------------------------------------------------


def _render_editor(request, *, form, title, policy=None, version=None, status=200, **extra):
    context = {
        "form": form,
        "title": title,
        "policy": policy,
        "version": version,
        "key_notice": KEY_NOTICE,
        "vppd_sections": vppd_section_help(),
        **extra,
    }
    return render(request, "profiles_app/version_form.html", context, status=status)


@login_required
def profile_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProfileCreateForm(request.POST)
        if form.is_valid():
            try:
                version = version_services.policy_create(
                    user=request.user,
                    document=form.cleaned_data["document"],
                    name=form.cleaned_data["name"] or None,
                    change_note=form.cleaned_data["change_note"],
                )
            except ValidationError as exc:
                form.add_document_errors(exc)
            except DomainError as exc:
                messages.error(request, f"Could not create the profile: {exc}")
                return _render_editor(
                    request, form=form, title="New profile", status=_status_for(exc)
                )
            else:
                messages.success(
                    request, f"Profile {version.policy.name} created as draft {version.label}."
                )
                return redirect(version)
    else:
        if not _can_author(request.user):
            messages.warning(request, "Creating profiles needs the 'authors' role.")
            return redirect("profiles:list")
        form = ProfileCreateForm(initial={"document": pretty_json(STARTER_DOCUMENT)})
    return _render_editor(request, form=form, title="New profile")


@login_required
def draft_edit(request: HttpRequest, name: str, number: int) -> HttpResponse:
    version = _version_or_404(name, number)
    title = f"Edit draft {version.label}"
    if request.method == "POST":
        form = DocumentForm(request.POST)
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
        if not (_can_author(request.user) and _is_own_draft(request.user, version)):
            if version.status != VersionStatus.DRAFT:
                why = f"{version.label} is {version.get_status_display().lower()}; only drafts can be edited."
            else:
                why = f"{version.label} is {version.author}'s draft; only its author may edit it."
            messages.warning(request, why)
            return redirect(version)
        form = DocumentForm(
            initial={"document": pretty_json(version.document), "change_note": version.change_note}
        )
    return _render_editor(request, form=form, title=title, policy=version.policy, version=version)


@login_required
def draft_new_from(request: HttpRequest, name: str, number: int) -> HttpResponse:
    parent = _version_or_404(name, number)
    title = f"New draft of {parent.policy.name} from v{parent.number}"
    if request.method == "POST":
        form = DocumentForm(request.POST)
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
        if not _can_author(request.user):
            messages.warning(request, "Creating drafts needs the 'authors' role.")
            return redirect(parent)
        form = DocumentForm(initial={"document": pretty_json(parent.document)})
    return _render_editor(
        request, form=form, title=title, policy=parent.policy, version=None, parent=parent
    )


# --- diff -----------------------------------------------------------------------------


def _number(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise Http404("A version number is a whole number.") from exc


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return pretty_json(value)
    return json.dumps(value, ensure_ascii=False)


def _has_secret(value: Any) -> bool:
    if value == REDACTED:
        return True
    if isinstance(value, dict):
        return any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


DIFF_CONTEXT = 3


@dataclass(frozen=True)
class _Fold:
    """Unchanged lines left out of the side-by-side view."""

    count: int
    kind: str = "skip"


def fold_unchanged(rows: list, context: int = DIFF_CONTEXT) -> list:
    """Keep changed rows and ``context`` rows around them; fold longer unchanged runs."""
    if all(row.kind == "equal" for row in rows):
        return rows
    out: list = []
    i = 0
    while i < len(rows):
        if rows[i].kind != "equal":
            out.append(rows[i])
            i += 1
            continue
        j = i
        while j < len(rows) and rows[j].kind == "equal":
            j += 1
        run = rows[i:j]
        head = context if i > 0 else 0
        tail = context if j < len(rows) else 0
        if len(run) > head + tail + 1:
            out.extend(run[:head])
            out.append(_Fold(len(run) - head - tail))
            out.extend(run[len(run) - tail :])
        else:
            out.extend(run)
        i = j
    return out


@login_required
def profile_diff(request: HttpRequest, name: str) -> HttpResponse:
    policy = _policy_or_404(name)
    versions = list(selectors.version_list(policy=policy))
    by_number = {v.number: v for v in versions}
    a_no, b_no = _number(request.GET.get("a")), _number(request.GET.get("b"))
    if b_no is None and versions:
        b_no = versions[0].number
    b = by_number.get(b_no) if b_no is not None else None
    if b is None:
        raise Http404(f"No version {b_no} of profile '{name}'.")
    if a_no is None:
        fallback = b.parent or next(
            (v for v in versions if v.status == VersionStatus.APPROVED and v != b), None
        )
        a_no = fallback.number if fallback else b.number
    a = by_number.get(a_no)
    if a is None:
        raise Http404(f"No version {a_no} of profile '{name}'.")
    changes = [
        {
            "pointer": c.pointer or "/",
            "kind": c.kind,
            "secret": _has_secret(c.old) or _has_secret(c.new),
            "old": _display(c.old),
            "new": _display(c.new),
        }
        for c in document_diff(a.document, b.document)
    ]
    rows = side_by_side(a.document, b.document)
    full = request.GET.get("full") == "1"
    return render(
        request,
        "profiles_app/diff.html",
        {
            "policy": policy,
            "a": a,
            "b": b,
            "versions": versions,
            "rows": rows if full else fold_unchanged(rows),
            "full": full,
            "line_count": len(rows),
            "changes": changes,
            "diff_url": reverse("profiles:diff", kwargs={"name": policy.name}),
        },
    )
