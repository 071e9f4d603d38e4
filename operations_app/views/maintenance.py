"""Host maintenance pages: the form that puts a platform into maintenance (with the
evacuation plan previewed first), ending it, and the record of one maintenance.

The form posts to itself with one of two buttons: "preview" calls ``evacuation_plan``
(reads the hosts, changes nothing) and shows the plan under the form with a Confirm
button; "start" calls ``maintenance_start`` with the plan that was shown and goes back
to the platform page. Ending is a POST of its own (``maintenance_end``). Everyone
logged in sees the state; the services check the operators role, and a refusal comes
back on the page (beside its field, or at the top) with the status that fits it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from operations_app.forms.maintenance import MaintenanceStartForm
from operations_app.models import Platform, WindowKind
from operations_app.presentation.maintenance import maintenance_view, plan_view
from operations_app.selectors import maintenance as maintenance_selectors
from operations_app.selectors import windows as window_selectors
from operations_app.services import maintenance as maintenance_services
from operations_app.views.common import can_operate, platform_or_404
from operations_app.views.platforms import platform_page
from vmpersona.errors import DomainError, error_text, http_status

# The plan the operator confirms travels from the preview to the confirmation in a
# signed hidden field rather than being worked out again on confirm. Working it out
# again would record (and ask the operator to stand by) a plan they never saw, and
# needs every host to answer a second time, so a host that stops answering in between
# would refuse a confirmation of a plan already shown. Signed (salted, bound to the
# platform and the user, and only for PLAN_MAX_AGE) it cannot be forged or replayed
# onto another platform, and a preview left open too long must be made again. It is
# the record of what was shown, not an order: each VM's target is chosen again from the
# hosts as they are when its move starts.
PLAN_SALT = "operations.maintenance.plan"
PLAN_MAX_AGE = 15 * 60


class PlanExpired(Exception):
    """The signed plan is missing, altered, for another platform or user, or too old."""


def sign_plan(plan: dict[str, Any], *, platform: Platform, user) -> str:
    return signing.dumps(
        {"platform": platform.name, "user": user.pk, "plan": plan}, salt=PLAN_SALT, compress=True
    )


def unsign_plan(value: str, *, platform: Platform, user) -> dict[str, Any]:
    try:
        data = signing.loads(value or "", salt=PLAN_SALT, max_age=PLAN_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise PlanExpired(
            f"The plan preview is more than {PLAN_MAX_AGE // 60} minutes old: preview it "
            "again, then confirm."
        ) from exc
    except signing.BadSignature as exc:
        raise PlanExpired("There is no plan preview to confirm: preview the plan first.") from exc
    if data.get("platform") != platform.name or data.get("user") != user.pk:
        raise PlanExpired("That plan preview is not for this platform: preview it again.")
    return data["plan"]


def _form(platform: Platform, data=None) -> MaintenanceStartForm:
    """The form, offering the enabled maintenance windows (those covering the platform
    first)."""
    windows = window_selectors.window_list(enabled=True, kind=WindowKind.MAINTENANCE)
    covering = [w.name for w in window_selectors.windows_for(platform=platform)]
    return MaintenanceStartForm(data, windows=windows, covering=covering, now=timezone.now())


def _render(
    request: HttpRequest,
    platform: Platform,
    form: MaintenanceStartForm,
    *,
    plan: dict[str, Any] | None = None,
    signed_plan: str = "",
    status: int = 200,
) -> HttpResponse:
    current = maintenance_selectors.maintenance_of(platform)
    return render(
        request,
        "operations_app/maintenance_form.html",
        {
            "platform": platform,
            "form": form,
            "current": maintenance_view(current, timezone.now()) if current else None,
            "is_operator": can_operate(request.user),
            "plan": plan_view(plan) if plan is not None else None,
            "signed_plan": signed_plan,
            "when_text": form.when_text() if plan is not None else "",
            "parallel": maintenance_services.parallel_moves(),
        },
        status=status,
    )


@login_required
def platform_maintenance(request: HttpRequest, name: str) -> HttpResponse:
    platform = platform_or_404(name)
    if request.method != "POST":
        form = _form(platform)
        if not can_operate(request.user):
            return _render(request, platform, form, status=403)
        busy = maintenance_selectors.maintenance_of(platform) is not None
        return _render(request, platform, form, status=409 if busy else 200)
    form = _form(platform, request.POST)
    if not form.is_valid():
        return _render(request, platform, form, status=400)
    if request.POST.get("action") == "start":
        return _start(request, platform, form)
    current = maintenance_selectors.maintenance_of(platform)
    if current is not None and can_operate(request.user):
        # The service would refuse to start it again: no plan to work out and show.
        form.add_error(None, f"{platform.name} is already {current.get_state_display().lower()}.")
        return _render(request, platform, form, status=409)
    try:
        plan = maintenance_services.evacuation_plan(user=request.user, platform=platform)
    except ValidationError as exc:
        form.add_service_error(exc)
        return _render(request, platform, form, status=400)
    except DomainError as exc:
        form.add_error(None, str(exc))
        return _render(request, platform, form, status=http_status(exc))
    signed = sign_plan(plan, platform=platform, user=request.user)
    return _render(request, platform, form, plan=plan, signed_plan=signed)


def _start(request: HttpRequest, platform: Platform, form: MaintenanceStartForm) -> HttpResponse:
    try:
        plan = unsign_plan(request.POST.get("plan", ""), platform=platform, user=request.user)
    except PlanExpired as exc:
        if not can_operate(request.user):  # say the real reason, with its status
            form.add_error(None, "Putting platforms into maintenance needs the 'operators' role.")
            return _render(request, platform, form, status=403)
        form.add_error(None, str(exc))
        return _render(request, platform, form, status=400)
    signed = request.POST.get("plan", "")
    data = form.cleaned_data
    try:
        maintenance = maintenance_services.maintenance_start(
            user=request.user,
            platform=platform,
            window=data["window"],
            move_back=data["move_back"],
            reason=data["reason"],
            plan=plan,
        )
    except ValidationError as exc:
        form.add_service_error(exc)
        return _render(request, platform, form, plan=plan, signed_plan=signed, status=400)
    except DomainError as exc:
        form.add_error(None, str(exc))
        return _render(
            request, platform, form, plan=plan, signed_plan=signed, status=http_status(exc)
        )
    if maintenance.state == "in_maintenance":
        text = f"{platform.name} is in maintenance: it had no managed VM to move."
    else:
        when = f"inside window '{maintenance.window.name}'" if maintenance.window else "from now on"
        count = len(maintenance.vms)
        text = (
            f"{platform.name} is entering maintenance: no new VMs are placed there; its "
            f"{count} managed VM{'s' if count != 1 else ''} move away {when}."
        )
    messages.success(request, text)
    return redirect(f"{platform.get_absolute_url()}#maintenance")


@login_required
@require_POST
def platform_maintenance_end(request: HttpRequest, name: str) -> HttpResponse:
    platform = platform_or_404(name)
    # An unticked box posts nothing: the form always shows it, set to the request's choice.
    move_back = request.POST.get("move_back") in ("on", "true", "1")
    try:
        maintenance = maintenance_services.maintenance_end(
            user=request.user, platform=platform, move_back=move_back
        )
    except (ValidationError, DomainError) as exc:
        messages.error(
            request, f"Could not end the maintenance of {platform.name}: {error_text(exc)}"
        )
        return platform_page(request, platform, status=http_status(exc))
    back = [i["back_job"] for i in maintenance.vms.values() if i.get("back_job")]
    failed = [n for n, i in maintenance.vms.items() if i.get("back")]
    text = f"{platform.name} is back in service."
    if back:
        jobs = ", ".join(f"#{j}" for j in back)
        verb = "VMs move" if len(back) != 1 else "VM moves"
        text += f" {len(back)} {verb} back (job{'s' if len(back) != 1 else ''} {jobs})."
    messages.success(request, text)
    if failed:
        messages.warning(
            request, f"Not moved back: {', '.join(sorted(failed))} (see the maintenance record)."
        )
    return redirect(f"{platform.get_absolute_url()}#maintenance")


@login_required
def maintenance_detail(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    platform = platform_or_404(name)
    maintenance = maintenance_selectors.maintenance_list(platform=platform).filter(pk=pk).first()
    if maintenance is None:
        raise Http404(f"No maintenance #{pk} of {platform.name}.")
    return render(
        request,
        "operations_app/maintenance_detail.html",
        {
            "platform": platform,
            "crumb": f"Maintenance #{maintenance.pk}",
            "mv": maintenance_view(maintenance, timezone.now()),
            "plan": plan_view(maintenance.plan),
            "history": maintenance_selectors.maintenance_history(maintenance),
            "can_operate": can_operate(request.user),
        },
    )
