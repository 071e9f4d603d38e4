"""The clone form: an approved profile version onto a platform as a new VM.

It posts to itself and calls ``job_request_clone``, then goes to the new job's page; a
refusal comes back on the form with the status that fits it. ``?profile=NAME&version=N``
(and ``&platform=NAME``) preselect the form, as the profile pages link to it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from operations_app.forms.clone import CloneForm
from operations_app.models import JobStatus, WindowKind
from operations_app.selectors import clone as clone_selectors
from operations_app.selectors import windows as window_selectors
from operations_app.services import clones as clone_services
from operations_app.services.schedule_when import schedule_text
from operations_app.views.common import can_clone
from profiles_app.models import VersionStatus
from vmpersona.errors import DomainError, http_status
from vmpersona.roles import OPERATORS, has_role


def _initial_version(request: HttpRequest) -> tuple[int | None, str]:
    """The version named by ``?profile=NAME&version=N`` (default: the approved one), or
    why it cannot be preselected."""
    name = request.GET.get("profile", "").strip()
    if not name:
        return None, ""
    number = request.GET.get("version", "").strip()
    version = clone_selectors.profile_version(
        profile=name, number=int(number) if number.isdigit() else None
    )
    if version is None:
        what = f"{name}@{number}" if number.isdigit() else f"profile {name}"
        return None, f"There is no approved version of {what}."
    if version.status != VersionStatus.APPROVED:
        return None, (
            f"{version.label} is {version.get_status_display().lower()}; "
            "only approved versions can be cloned."
        )
    return version.pk, ""


def _form(data=None, **kwargs) -> CloneForm:
    """The form, offering every enabled maintenance window (the service checks that the
    one chosen covers the new VM)."""
    windows = window_selectors.window_list(enabled=True, kind=WindowKind.MAINTENANCE)
    return CloneForm(data, windows=windows, **kwargs)


def _render_clone(request, form: CloneForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "operations_app/clone_form.html",
        {
            "form": form,
            "can_clone": can_clone(request.user),
            "is_operator": has_role(request.user, OPERATORS),
            "schedule_help": {
                "windows_help": "The enabled maintenance windows; the one chosen must "
                "cover the new VM (its platform, profile and flags)",
                "no_windows": "No maintenance window is enabled",
                "approval_flags": settings.VMPERSONA_SCHEDULE_APPROVAL_FLAGS,
            },
        },
        status=status,
    )


@login_required
def clone_form(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = _form(request.POST)
        if not form.is_valid():
            return _render_clone(request, form, status=400)
        version = form.selected_version()
        try:
            job = clone_services.job_request_clone(
                user=request.user,
                version=version,
                platform=form.cleaned_data["platform"],
                vm_name=form.cleaned_data["vm_name"],
                **form.schedule_arguments(),
            )
        except ValidationError as exc:
            form.add_service_error(exc)
            return _render_clone(request, form, status=400)
        except DomainError as exc:
            form.add_error(None, str(exc))
            return _render_clone(request, form, status=http_status(exc))
        placement = (job.params or {}).get("placement")
        where = f"{job.platform.name} (chosen by placement)" if placement else job.platform.name
        what = f"Clone of {version.label} to {where} as {job.vm_name}"
        if job.status == JobStatus.SCHEDULED:
            messages.success(request, f"{what} scheduled (job #{job.pk}): {schedule_text(job)}.")
        else:
            messages.success(request, f"{what} queued (job #{job.pk}).")
        return redirect(job)
    initial: dict[str, Any] = {}
    version_pk, problem = _initial_version(request)
    if version_pk is not None:
        initial["version"] = version_pk
    if problem:
        messages.warning(request, problem)
    platform = request.GET.get("platform", "").strip()
    if platform:
        initial["platform"] = platform
    return _render_clone(request, _form(initial=initial))
