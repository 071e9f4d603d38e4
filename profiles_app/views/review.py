"""State changes of a version: submit, approve, reject, retire, discard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from profiles_app.forms import ReviewForm
from profiles_app.services import versions as version_services
from profiles_app.views.common import kind_pages, version_or_404
from vmpersona.errors import DomainError, error_text


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
def version_action(
    request: HttpRequest, kind: str, name: str, number: int, action: str
) -> HttpResponse:
    pages = kind_pages(kind)
    version = version_or_404(pages, name, number)
    spec = ACTIONS[action]
    kwargs: dict[str, Any] = {"user": request.user, "version": version}
    if spec.comment:
        form = ReviewForm(request.POST)
        if not form.is_valid():
            problems = "; ".join(str(e) for errors in form.errors.values() for e in errors)
            messages.error(request, f"Could not {action} {version.label}: {problems}")
            return redirect(pages.version_url(version))
        kwargs["comment"] = form.cleaned_data["comment"].strip()
    label = version.label
    try:
        spec.run(**kwargs)
    except (ValidationError, DomainError) as exc:
        messages.error(
            request, f"Could not {action} {label}: {error_text(exc, pointers_only=True)}"
        )
        return redirect(pages.version_url(version))
    messages.success(request, f"{label} {spec.done}.")
    if action == "discard":
        return redirect(pages.policy_url(version.policy))
    return redirect(pages.version_url(version))
