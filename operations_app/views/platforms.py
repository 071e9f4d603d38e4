"""Platform pages: the list, a platform's page (with its labels), the add and edit forms,
and the refresh and inventory sync buttons.

Everyone logged in may read; changing a platform, refreshing its capabilities or
syncing its inventory needs the operators role, which the services check. A refusal
becomes a message, never an error page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from operations_app.forms.labels import LabelsForm
from operations_app.forms.platforms import PlatformForm
from operations_app.hypervisor import redact_uri
from operations_app.models import Platform
from operations_app.presentation.maintenance import maintenance_view
from operations_app.presentation.platforms import (
    capability_sizes,
    constraint_effect,
    constraint_help,
    declared_constraints,
    platform_costs,
    utilisation,
    vlan_rows,
)
from operations_app.selectors import maintenance as maintenance_selectors
from operations_app.selectors import platforms as platform_selectors
from operations_app.selectors import vms as vm_selectors
from operations_app.services import inventory as inventory_services
from operations_app.services import platforms as platform_services
from operations_app.views.common import can_operate, platform_or_404
from vmpersona.errors import DomainError, NotPermitted, error_text


@login_required
def platform_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    enabled_filter = request.GET.get("enabled", "")
    enabled = {"yes": True, "no": False}.get(enabled_filter)
    label = request.GET.get("label", "").strip()
    label_error = ""
    try:
        platforms = list(
            platform_selectors.platform_list(search=search, enabled=enabled, label=label)
        )
    except ValidationError as exc:
        label_error = error_text(exc)
        platforms = []
    utilisations = platform_selectors.platform_utilisations(platforms)
    maintenances = maintenance_selectors.maintenance_active_by_platform()
    rows = [
        {
            "platform": p,
            "uri": redact_uri(p.uri),
            "util": utilisation(utilisations[p.pk]),
            "maintenance": maintenances.get(p.pk),
        }
        for p in platforms
    ]
    return render(
        request,
        "operations_app/platform_list.html",
        {
            "rows": rows,
            "search": search,
            "enabled_filter": enabled_filter if enabled is not None else "",
            "label": label,
            "label_error": label_error,
            "filtered": bool(search or enabled is not None or label),
            "can_operate": can_operate(request.user),
        },
        status=400 if label_error else 200,
    )


@login_required
def platform_detail(request: HttpRequest, name: str) -> HttpResponse:
    return platform_page(request, platform_or_404(name))


def platform_page(
    request: HttpRequest,
    platform: Platform,
    *,
    labels_form: LabelsForm | None = None,
    labels_errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The platform page. The labels view renders it again with the refused form or the
    refusal (and its status), so an error shows beside the labels."""
    caps = platform.capabilities or {}
    effective = platform_selectors.platform_effective_capabilities(platform)
    vms = list(vm_selectors.vm_list(platform=platform.name, latest_sample=True))
    return render(
        request,
        "operations_app/platform_detail.html",
        {
            "platform": platform,
            "uri": redact_uri(platform.uri),
            "migration_uri": redact_uri(platform.migration_uri) if platform.migration_uri else "",
            "caps": caps,
            "sizes": capability_sizes(caps),
            "effective": effective,
            "constraint_rows": constraint_effect(caps, platform.constraints or {}, effective)
            if caps
            else [],
            "costs": platform_costs(platform),
            "declared": declared_constraints(platform.constraints or {}),
            "vlans": vlan_rows(platform.vlan_networks),
            "vms": vms,
            "util": utilisation(platform_selectors.platform_utilisation(platform=platform)),
            "can_operate": can_operate(request.user),
            "labels_form": labels_form or LabelsForm.for_labels(platform.labels),
            "labels_errors": labels_errors or [],
            **_maintenance_context(request, platform, vms),
        },
        status=status,
    )


def _maintenance_context(request: HttpRequest, platform: Platform, vms: list) -> dict[str, Any]:
    """The Maintenance panel: the current maintenance with its progress, the VMs it
    leaves alone (not managed by VM Persona), and the last ones that ended."""
    current = maintenance_selectors.maintenance_of(platform)
    return {
        "maintenance": maintenance_view(current, timezone.now()) if current else None,
        "maintenance_past": list(
            maintenance_selectors.maintenance_list(platform=platform, active=False)[:5]
        ),
        "maintenance_unmanaged": [
            v.name
            for v in vms
            if v.state != "gone" and (not v.managed or v.profile_version_id is None)
        ],
    }


def _render_form(request, form: PlatformForm, *, platform: Platform | None = None, status=200):
    return render(
        request,
        "operations_app/platform_form.html",
        {
            "form": form,
            "platform": platform,
            "title": f"Edit {platform.name}" if platform else "Add platform",
            "constraint_help": constraint_help(),
        },
        status=status,
    )


@login_required
def platform_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = PlatformForm(request.POST)
        if form.is_valid():
            try:
                platform = platform_services.platform_create(
                    user=request.user, name=form.cleaned_data["name"], **form.settings()
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            except DomainError as exc:
                messages.error(request, f"Could not add the platform: {exc}")
                return _render_form(
                    request, form, status=403 if isinstance(exc, NotPermitted) else 400
                )
            else:
                messages.success(
                    request,
                    f"Platform {platform.name} added. Refresh its capabilities to check that it is reachable.",
                )
                return redirect(platform)
        return _render_form(request, form, status=400)
    if not can_operate(request.user):
        messages.warning(request, "Adding platforms needs the 'operators' role.")
        return redirect("operations:platforms")
    return _render_form(request, PlatformForm())


@login_required
def platform_edit(request: HttpRequest, name: str) -> HttpResponse:
    platform = platform_or_404(name)
    if request.method == "POST":
        form = PlatformForm(request.POST, platform=platform)
        if form.is_valid():
            changed = form.changed_settings()
            try:
                platform = platform_services.platform_update(
                    user=request.user, platform=platform, **changed
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            except DomainError as exc:
                messages.error(request, f"Could not save {platform.name}: {exc}")
                return _render_form(
                    request,
                    form,
                    platform=platform,
                    status=403 if isinstance(exc, NotPermitted) else 400,
                )
            else:
                if changed:
                    names = ", ".join(str(form.fields[k].label or k) for k in changed)
                    messages.success(request, f"Platform {platform.name} saved ({names}).")
                else:
                    messages.info(request, f"Nothing changed on {platform.name}.")
                return redirect(platform)
        return _render_form(request, form, platform=platform, status=400)
    if not can_operate(request.user):
        messages.warning(request, "Changing platforms needs the 'operators' role.")
        return redirect(platform)
    return _render_form(request, PlatformForm(platform=platform), platform=platform)


@login_required
@require_POST
def platform_refresh(request: HttpRequest, name: str) -> HttpResponse:
    platform = platform_or_404(name)
    try:
        platform = platform_services.platform_refresh(platform=platform, user=request.user)
    except NotPermitted as exc:
        messages.error(request, str(exc))
        return redirect(_next_url(request, platform))
    if platform.status == "ok":
        messages.success(request, f"{platform.name}: capabilities refreshed.")
    else:
        messages.error(request, f"{platform.name} is unreachable: {platform.last_error}")
    return redirect(_next_url(request, platform))


@login_required
@require_POST
def platform_sync(request: HttpRequest, name: str) -> HttpResponse:
    platform = platform_or_404(name)
    try:
        result = inventory_services.inventory_sync(platform=platform, user=request.user)
    except NotPermitted as exc:
        messages.error(request, str(exc))
        return redirect(_next_url(request, platform))
    if result.reachable:
        parts = [f"{result.seen} domain{'s' if result.seen != 1 else ''}"]
        if result.added:
            parts.append("new: " + ", ".join(result.added))
        if result.gone:
            parts.append("gone: " + ", ".join(result.gone))
        if result.held:
            parts.append("left to the jobs working on them: " + ", ".join(result.held))
        if result.secrets_supplied:
            parts.append(f"volume secrets supplied again: {len(result.secrets_supplied)}")
        for problem in result.secret_problems:
            messages.warning(request, problem)
        messages.success(request, f"{platform.name}: inventory synced; " + "; ".join(parts) + ".")
    else:
        messages.error(request, f"{platform.name} is unreachable: {result.error}")
    return redirect(_next_url(request, platform))


def _next_url(request: HttpRequest, platform: Platform) -> str:
    """Back to the platform list when the button was pressed there, else to the platform."""
    if request.POST.get("next") == "list":
        return "operations:platforms"
    return platform.get_absolute_url()
