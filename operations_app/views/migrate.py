"""Pages for moving a VM to another platform.

The migrate form posts to itself with one of two buttons: "preview" calls
``migration_preview`` (a dry run that reads both hosts and changes nothing) and shows its
plan under the form; "migrate" calls ``job_request_migrate`` (now, or scheduled for a
maintenance window or a time, as "When" says) and goes to the new job's page. The services check roles and states; a refusal comes back on the form, on the
field its path names, never as an error page. ``job_migration_section`` renders the
Migration section of a migrate job's page on its own, for job_live.js to refresh it as
the job reaches the steps that fill it in.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from operations_app.forms.migrate import MigrateForm
from operations_app.models import JobKind, JobStatus, ManagedVM, WindowKind
from operations_app.presentation.migration import job_migration, preview_view, vm_migratable
from operations_app.selectors import jobs as job_selectors
from operations_app.selectors import windows as window_selectors
from operations_app.services import migrations as migration_services
from operations_app.services.migrations import migration_preview
from operations_app.services.schedule_when import schedule_text
from operations_app.views.common import job_or_404, vm_or_404
from vmpersona.errors import DomainError, http_status
from vmpersona.roles import OPERATORS, has_role


def _form(vm: ManagedVM, data=None, **kwargs) -> MigrateForm:
    """The form, offering the maintenance windows that cover the VM."""
    windows = [w for w in window_selectors.windows_for(vm=vm) if w.kind == WindowKind.MAINTENANCE]
    return MigrateForm(data, vm=vm, windows=windows, **kwargs)


def _render(
    request: HttpRequest,
    vm: ManagedVM,
    form: MigrateForm,
    *,
    preview: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "operations_app/migrate_form.html",
        {
            "vm": vm,
            "platform": vm.platform,
            "form": form,
            "preview": preview_view(preview) if preview is not None else None,
            "is_operator": has_role(request.user, OPERATORS),
            "migratable": vm_migratable(vm),
            "schedule_help": {
                "windows_help": "The maintenance windows that cover this VM",
                "no_windows": "No maintenance window covers this VM",
                "approval_flags": settings.VMPERSONA_SCHEDULE_APPROVAL_FLAGS,
            },
        },
        status=status,
    )


@login_required
def vm_migrate(request: HttpRequest, pk: int) -> HttpResponse:
    vm = vm_or_404(pk)
    if request.method != "POST":
        form = _form(vm, initial={"target": request.GET.get("target", "").strip()})
        if not has_role(request.user, OPERATORS):
            return _render(request, vm, form, status=403)
        return _render(request, vm, form, status=200 if vm_migratable(vm) else 409)
    form = _form(vm, request.POST)
    if not form.is_valid():
        return _render(request, vm, form, status=400)
    target, mode = form.cleaned_data["target"], form.cleaned_data["mode"]
    migrate = request.POST.get("action") == "migrate"
    try:
        if migrate:
            job = migration_services.job_request_migrate(
                user=request.user, vm=vm, target=target, mode=mode, **form.schedule_arguments()
            )
        else:
            preview = migration_preview(user=request.user, vm=vm, target=target, mode=mode)
    except ValidationError as exc:
        form.add_service_error(exc)
        return _render(request, vm, form, status=400)
    except DomainError as exc:
        form.add_error(None, str(exc))
        return _render(request, vm, form, status=http_status(exc))
    if migrate:
        what = f"Migration of {vm.name} from {vm.platform.name} to {target.name} ({mode})"
        if job.status == JobStatus.SCHEDULED:
            messages.success(request, f"{what} scheduled (job #{job.pk}): {schedule_text(job)}.")
        else:
            messages.success(request, f"{what} queued (job #{job.pk}).")
        return redirect(job)
    return _render(request, vm, form, preview=preview)


@login_required
def job_migration_section(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_or_404(request.user, pk)
    if job.kind != JobKind.MIGRATE:
        raise Http404(f"Job #{pk} is not a migration.")
    transfer = job_selectors.job_latest_payload(job=job, kind="transfer", upto=job.event_seq)
    return render(
        request,
        "operations_app/job_migration.html",
        {"job": job, "migration": job_migration(job, transfer=transfer)},
    )
