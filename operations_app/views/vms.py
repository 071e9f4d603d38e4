"""VM pages: the inventory list, a VM's page (metrics, snapshots, labels, the power bar,
the migrate and decommission buttons), decommissioning and power changes.

A decommission is a POST that calls ``job_request_decommission`` and goes to the new
job's page; a refusal goes back to the VM page as a message. A power change (start,
shut down, reboot, force off) is a POST that calls ``job_request_power`` and goes to the
new job's page; a refusal renders the VM page again with the reason in its power bar and
the status that fits it (400, 403 or 409).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from operations_app.forms.labels import LabelsForm
from operations_app.forms.snapshots import SnapshotForm
from operations_app.models import ManagedVM, VMState
from operations_app.presentation.charts import sample_rows, vm_charts
from operations_app.presentation.migration import vm_migratable
from operations_app.presentation.power import power_bar
from operations_app.presentation.snapshots import snapshot_panel, vm_snapshottable
from operations_app.selectors import advisories as advisory_selectors
from operations_app.selectors import jobs as job_selectors
from operations_app.selectors import platforms as platform_selectors
from operations_app.selectors import vms as vm_selectors
from operations_app.services import decommissions as decommission_services
from operations_app.services import power as power_services
from operations_app.services import snapshots as snapshot_services
from operations_app.views.common import can_operate, vm_or_404
from vmpersona.errors import DomainError, error_text, http_status

VMS_PER_PAGE = 100
CHART_SAMPLES = 60
MAX_CHART_SAMPLES = 1000
TABLE_SAMPLES = 20

MANAGED_FILTERS = {"managed": True, "unmanaged": False}


@login_required
def vm_list(request: HttpRequest) -> HttpResponse:
    platform = request.GET.get("platform", "").strip()
    state = request.GET.get("state", "")
    if state not in VMState.values:
        state = ""
    managed_filter = request.GET.get("managed", "")
    managed = MANAGED_FILTERS.get(managed_filter)
    search = request.GET.get("q", "").strip()
    label = request.GET.get("label", "").strip()
    label_error = ""
    try:
        vms = vm_selectors.vm_list(
            platform=platform,
            state=state,
            managed=managed,
            search=search,
            label=label,
            latest_sample=True,
        )
    except ValidationError as exc:
        label_error = error_text(exc)
        vms = vm_selectors.vm_list().none()
    page = Paginator(vms, VMS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "operations_app/vm_list.html",
        {
            "page": page,
            "vms": page.object_list,
            "platform": platform,
            "state": state,
            "managed": managed_filter if managed is not None else "",
            "search": search,
            "label": label,
            "label_error": label_error,
            "query": query.urlencode(),
            "platform_choices": platform_selectors.platform_names(),
            "state_choices": VMState.choices,
            "filtered": bool(platform or state or managed is not None or search or label),
        },
        status=400 if label_error else 200,
    )


@login_required
def vm_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return vm_page(request, vm_or_404(pk))


def vm_page(
    request: HttpRequest,
    vm: ManagedVM,
    *,
    snapshot_form: SnapshotForm | None = None,
    snapshot_errors: list[str] | None = None,
    labels_form: LabelsForm | None = None,
    labels_errors: list[str] | None = None,
    power_errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The VM page. The snapshot, labels and power views render it again, with the
    refused form or the refusal (and its status), so an error shows where the button was."""
    try:
        limit = max(2, min(int(request.GET.get("limit", CHART_SAMPLES)), MAX_CHART_SAMPLES))
    except ValueError:
        limit = CHART_SAMPLES
    samples = vm_selectors.vm_metrics(vm=vm, limit=limit)
    can_migrate = can_operate(request.user) and vm_migratable(vm)
    can_snapshot = can_operate(request.user) and vm_snapshottable(vm)
    return render(
        request,
        "operations_app/vm_detail.html",
        {
            "can_migrate": can_migrate,
            "migration_targets": list(platform_selectors.platform_migration_targets(vm=vm))
            if can_migrate
            else [],
            "vm": vm,
            "platform": vm.platform,
            "older_qemu": advisory_selectors.vm_qemu_exposure(vm),
            "samples": samples,
            "latest": samples[-1] if samples else None,
            "charts": vm_charts(vm, samples),
            "rows": sample_rows(samples, TABLE_SAMPLES),
            "limit": limit,
            "snapshots": snapshot_panel(
                vm,
                snapshot_services.vm_snapshots(vm=vm, include_removed=True),
                can_snapshot=can_snapshot,
                retention=settings.VMPERSONA_SNAPSHOT_RETENTION,
            ),
            "snapshot_form": snapshot_form or SnapshotForm(),
            "snapshot_errors": snapshot_errors or [],
            "can_label": can_operate(request.user),
            "labels_form": labels_form or LabelsForm.for_labels(vm.labels),
            "labels_errors": labels_errors or [],
            "power": power_bar(
                vm,
                can_power=can_operate(request.user),
                active_job=job_selectors.vm_active_job(vm_name=vm.name),
            ),
            "power_errors": power_errors or [],
        },
        status=status,
    )


@login_required
@require_POST
def vm_decommission(request: HttpRequest, pk: int) -> HttpResponse:
    vm = vm_or_404(pk)
    back = reverse("operations:vm", kwargs={"pk": vm.pk})
    try:
        job = decommission_services.job_request_decommission(user=request.user, vm=vm)
    except (ValidationError, DomainError) as exc:
        messages.error(request, f"Could not decommission {vm.name}: {error_text(exc)}")
        return redirect(back)
    messages.success(request, f"Decommission of {vm.name} queued (job #{job.pk}).")
    return redirect(job)


@login_required
@require_POST
def vm_power(request: HttpRequest, pk: int) -> HttpResponse:
    vm = vm_or_404(pk)
    action = request.POST.get("action", "")
    try:
        job = power_services.job_request_power(user=request.user, vm=vm, action=action)
    except (ValidationError, DomainError) as exc:
        return vm_page(
            request,
            vm,
            power_errors=[f"Could not {_verb(action)} {vm.name}: {error_text(exc)}"],
            status=http_status(exc),
        )
    label = power_services.PowerAction(action).label
    messages.success(request, f"{label} of {vm.name} queued (job #{job.pk}).")
    return redirect(job)


def _verb(action: str) -> str:
    """``shut down``, ``force off``...: the action as typed, in words (any text read safely)."""
    if action in power_services.PowerAction.values:
        return power_services.PowerAction(action).label.lower()
    return "change the power of"
