"""Job pages: the list, a job's page, its verification report, cancelling, confirming
or extending a job's health watch, and moving, approving or rejecting a scheduled job.

The job page is rendered with everything up to the job's newest event;
static/js/job_live.js then follows the job from there over a websocket
(``ws/jobs/<id>/?after=<seq>``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from operations_app.forms.base import form_errors_text, service_errors_text
from operations_app.forms.scheduling import ScheduleMoveForm
from operations_app.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    JobKind,
    JobStatus,
    OperationJob,
    WindowKind,
)
from operations_app.presentation.formatting import duration_text
from operations_app.presentation.jobs import job_verifies, log_line, watch_view
from operations_app.presentation.migration import MIGRATION_RESULT_KEYS, job_migration
from operations_app.presentation.scheduling import schedule_view
from operations_app.selectors import jobs as job_selectors
from operations_app.selectors import platforms as platform_selectors
from operations_app.selectors import windows as window_selectors
from operations_app.services import jobs as job_services
from operations_app.services import scheduling as scheduling_services
from operations_app.services import watch as watch_services
from operations_app.services.schedule_when import schedule_text, scope_vm
from operations_app.views.common import can_clone, job_or_404
from vmpersona.errors import DomainError, error_text
from vmpersona.roles import OPERATORS, has_role

JOBS_PER_PAGE = 50
LOG_LINES = 1000


def _can_cancel(user, job: OperationJob) -> bool:
    """Whether to offer Cancel (while scheduled or active); and, while the job is
    active, Confirm and Extend for its health watch (the page shows them once it
    watches). The services check again."""
    return job.status in (JobStatus.SCHEDULED, *ACTIVE_STATUSES) and (
        has_role(user, OPERATORS)
        or (job.requested_by_id is not None and job.requested_by_id == user.pk)
    )


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in JobKind.values:
        kind = ""
    status = request.GET.get("status", "")
    if status not in JobStatus.values and status != "active":
        status = ""
    platform = request.GET.get("platform", "").strip()
    vm_name = request.GET.get("vm", "").strip()
    mine = request.GET.get("mine") == "1"
    jobs = job_selectors.job_list(
        user=request.user, kind=kind, status=status, platform=platform, vm_name=vm_name, mine=mine
    )
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {"job": job, "duration": duration_text(job_selectors.job_duration_s(job))}
        for job in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "operations_app/job_list.html",
        {
            "page": page,
            "rows": rows,
            "kind": kind,
            "status": status,
            "platform": platform,
            "vm_name": vm_name,
            "mine": mine,
            "query": query.urlencode(),
            "kind_choices": JobKind.choices,
            "status_choices": [("active", "Active (any)"), *JobStatus.choices],
            "platform_choices": platform_selectors.platform_names(),
            "filtered": bool(kind or status or platform or vm_name or mine),
            "sees_all": job_selectors.sees_all_jobs(request.user),
            "can_clone": can_clone(request.user),
        },
    )


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_or_404(request.user, pk)
    # Everything below is rendered up to this sequence number; the page's script asks
    # the websocket for what comes after it, so nothing is missed or shown twice.
    last_seq = job.event_seq
    steps = job_selectors.job_steps(job=job)
    checks = job_selectors.job_checks(job=job)
    log_events, log_omitted = job_selectors.job_log_events(job=job, upto=last_seq, limit=LOG_LINES)
    result = job_selectors.job_result(job=job, upto=last_seq)
    migration = None
    if job.kind == JobKind.MIGRATE:
        transfer = job_selectors.job_latest_payload(job=job, kind="transfer", upto=last_seq)
        migration = job_migration(job, transfer=transfer)
        result = {k: v for k, v in result.items() if k not in MIGRATION_RESULT_KEYS}
    # The watch panel is there (hidden) while the job is active, so the page's script
    # can show it when the job starts watching.
    watch = None
    if job.is_active:
        health = None
        if job.status == JobStatus.WATCHING:
            health = job_selectors.job_latest_payload(job=job, kind="health", upto=last_seq)
        watch = watch_view(job, health)
    move_form = None
    if job.status == JobStatus.SCHEDULED and scheduling_services.may_edit_schedule(
        request.user, job
    ):
        move_form = _move_form(job)
    return render(
        request,
        "operations_app/job_detail.html",
        {
            "job": job,
            "schedule": schedule_view(job),
            "can_approve": scheduling_services.may_approve(request.user, job),
            "move_form": move_form,
            "schedule_help": {
                "windows_help": "The maintenance windows that cover its VM",
                "no_windows": "No maintenance window covers its VM",
            },
            "last_seq": last_seq,
            "duration": duration_text(job_selectors.job_duration_s(job)),
            "steps": [{"step": s, "duration": duration_text(s.duration_s)} for s in steps],
            "checks": checks,
            "summary": job_selectors.check_summary(checks),
            "verifies": job_verifies(job, has_checks=bool(checks)),
            "log": [log_line(e) for e in log_events],
            "log_omitted": log_omitted,
            "result": result,
            "migration": migration,
            "can_cancel": _can_cancel(request.user, job),
            "watch": watch,
            "terminal_statuses": [str(s) for s in TERMINAL_STATUSES],
        },
    )


@login_required
def job_report(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_or_404(request.user, pk)
    checks = job_selectors.job_checks(job=job)
    sections: dict[str, list] = {}
    for check in checks:
        sections.setdefault(check.section or "other", []).append(check)
    return render(
        request,
        "operations_app/job_report.html",
        {
            "job": job,
            "checks": checks,
            "summary": job_selectors.check_summary(checks),
            "sections": [
                {"name": name, "checks": items, "summary": job_selectors.check_summary(items)}
                for name, items in sections.items()
            ],
            "duration": duration_text(job_selectors.job_duration_s(job)),
        },
    )


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_or_404(request.user, pk)
    try:
        job = job_services.job_cancel(user=request.user, job=job)
    except DomainError as exc:
        messages.error(request, f"Could not cancel job #{pk}: {exc}")
        return redirect(job)
    if job.status == JobStatus.CANCELLED:
        messages.success(request, f"Job #{pk} cancelled before it started.")
    else:
        messages.info(
            request, f"Cancel requested: job #{pk} stops and rolls back after its current step."
        )
    return redirect(job)


def _watch_until(job: OperationJob) -> str:
    if job.watch_until is None:
        return "-"
    return timezone.localtime(job.watch_until).strftime("%H:%M:%S %Z")


@login_required
@require_POST
def job_watch_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_or_404(request.user, pk)
    try:
        job = watch_services.job_watch_confirm(user=request.user, job=job)
    except DomainError as exc:
        messages.error(request, f"Could not confirm the health watch of job #{pk}: {exc}")
        return redirect(job)
    messages.success(
        request,
        f"Health watch confirmed: job #{pk} ends as passed after the probe round in progress.",
    )
    return redirect(job)


@login_required
@require_POST
def job_watch_extend(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_or_404(request.user, pk)
    raw = request.POST.get("minutes", "").strip()
    # Anything but a whole number goes to the service as typed: it refuses it, naming the
    # field, as it does for the API and the CLI.
    minutes: Any = raw
    try:
        minutes = int(raw)
    except ValueError:
        pass
    try:
        job = watch_services.job_watch_extend(user=request.user, job=job, minutes=minutes)
    except (DomainError, ValidationError) as exc:
        messages.error(
            request, f"Could not extend the health watch of job #{pk}: {error_text(exc)}"
        )
        return redirect(job)
    messages.success(
        request,
        f"Health watch of job #{pk} extended by {minutes} min: until {_watch_until(job)}.",
    )
    return redirect(job)


# --------------------------------------------------------------------------- scheduled jobs


def _move_form(job: OperationJob, data=None) -> ScheduleMoveForm:
    """Move a scheduled job: the maintenance windows that cover its VM are offered."""
    windows = [
        w
        for w in window_selectors.windows_for(vm=scope_vm(job))
        if w.kind == WindowKind.MAINTENANCE
    ]
    initial = {"on_miss": job.on_miss}
    if job.window is not None:
        initial["window"] = job.window.name
    return ScheduleMoveForm(data, windows=windows, initial=initial)


@login_required
@require_POST
def job_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_or_404(request.user, pk)
    form = _move_form(job, request.POST)
    if not form.is_valid():
        messages.error(request, f"Could not move job #{pk}: {form_errors_text(form)}")
        return redirect(job)
    try:
        job = scheduling_services.job_schedule_update(
            user=request.user, job=job, **form.move_arguments()
        )
    except ValidationError as exc:
        messages.error(request, f"Could not move job #{pk}: {service_errors_text(form, exc)}")
        return redirect(job)
    except DomainError as exc:
        messages.error(request, f"Could not move job #{pk}: {exc}")
        return redirect(job)
    messages.success(request, f"Job #{pk} moved: it starts {schedule_text(job)}.")
    return redirect(job)


@login_required
@require_POST
def job_approve(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_or_404(request.user, pk)
    try:
        job = scheduling_services.job_schedule_approve(
            user=request.user, job=job, comment=request.POST.get("comment", "")
        )
    except (DomainError, ValidationError) as exc:
        messages.error(request, f"Could not approve job #{pk}: {error_text(exc)}")
        return redirect(job)
    messages.success(request, f"Job #{pk} approved: it starts {schedule_text(job)}.")
    return redirect(job)


@login_required
@require_POST
def job_reject(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_or_404(request.user, pk)
    try:
        job = scheduling_services.job_schedule_reject(
            user=request.user, job=job, comment=request.POST.get("comment", "")
        )
    except (DomainError, ValidationError) as exc:
        messages.error(request, f"Could not reject job #{pk}: {error_text(exc)}")
        return redirect(job)
    messages.success(request, f"Job #{pk} rejected; its requester is told why.")
    return redirect(job)
