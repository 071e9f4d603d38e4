"""Taking a snapshot of a VM and rolling it back, from the VM page.

Both are POSTs that call one service (``job_request_snapshot``, ``job_request_rollback``)
and go to the new job's page. The services check roles and states; a refusal renders
the VM page again with the reason in its Snapshots panel (on the description field when
its path names it) and the status that fits it: 400, 403 or 409, never an error page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from operations_app.forms.snapshots import SnapshotForm
from operations_app.selectors import snapshots as snapshot_selectors
from operations_app.services import snapshots as snapshot_services
from operations_app.views.common import vm_or_404
from operations_app.views.vms import vm_page
from vmpersona.errors import DomainError, error_text, http_status


@login_required
@require_POST
def vm_snapshot_take(request: HttpRequest, pk: int) -> HttpResponse:
    vm = vm_or_404(pk)
    form = SnapshotForm(request.POST)
    form.is_valid()  # a free-text field: the service decides what it accepts
    try:
        job = snapshot_services.job_request_snapshot(
            user=request.user, vm=vm, description=form.cleaned_data.get("description", "")
        )
    except ValidationError as exc:
        form.add_service_error(exc)
        return vm_page(request, vm, snapshot_form=form, status=400)
    except DomainError as exc:
        return vm_page(
            request, vm, snapshot_form=form, snapshot_errors=[str(exc)], status=http_status(exc)
        )
    messages.success(request, f"Snapshot of {vm.name} queued (job #{job.pk}).")
    return redirect(job)


@login_required
@require_POST
def vm_snapshot_rollback(request: HttpRequest, pk: int, sid: int) -> HttpResponse:
    vm = vm_or_404(pk)
    snapshot = snapshot_selectors.snapshot_get(pk=sid)
    if snapshot is None:
        raise Http404(f"No snapshot {sid}.")
    try:
        job = snapshot_services.job_request_rollback(user=request.user, vm=vm, snapshot=snapshot)
    except (ValidationError, DomainError) as exc:
        return vm_page(
            request,
            vm,
            snapshot_errors=[
                f"Could not roll {vm.name} back to {snapshot.name}: {error_text(exc)}"
            ],
            status=http_status(exc),
        )
    messages.success(
        request,
        f"Rollback of {vm.name} to {snapshot.name} queued (job #{job.pk}); "
        "its current state is kept first as a before-rollback snapshot.",
    )
    return redirect(job)
