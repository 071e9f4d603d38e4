"""Pages for jobs, the clone form, decommissioning and notifications.

Each view parses the request, calls one selector or service and renders. The job page
is rendered with everything up to the job's newest event; static/js/job_live.js then
follows the job from there over a websocket (``ws/jobs/<id>/?after=<seq>``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from operations_app import selectors_jobs as selectors
from operations_app.forms_jobs import CloneForm
from operations_app.migration_display import MIGRATION_RESULT_KEYS, job_migration
from operations_app.models import (
    ACTIVE_STATUSES,
    JobEvent,
    JobKind,
    JobStatus,
    ManagedVM,
    OperationJob,
    Platform,
)
from operations_app.services import clones as clone_services
from operations_app.services import decommissions as decommission_services
from operations_app.services import jobs as job_services
from operations_app.services import notifications as notification_services
from profiles_app.documents import error_list
from profiles_app.models import PolicyVersion, VersionStatus
from vmpersona.errors import DomainError, NotFoundError, NotPermitted, StateConflict
from vmpersona.roles import AUTHORS, OPERATORS, has_role

JOBS_PER_PAGE = 50
NOTIFICATIONS_PER_PAGE = 50
LOG_LINES = 1000


# --- helpers --------------------------------------------------------------------------


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f}s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def log_line(event: JobEvent | dict) -> dict[str, Any]:
    """How an event shows in the job's log; job_live.js formats live events the same way."""
    if isinstance(event, JobEvent):
        seq, kind, payload, at = event.seq, event.kind, event.payload or {}, event.created_at
    else:
        seq, kind, payload, at = event["seq"], event["kind"], event["payload"] or {}, event["at"]
    if kind == "status":
        status = payload.get("status", "")
        reason = payload.get("reason") or ""
        text = f"status → {status}" + (f" ({reason})" if reason and reason != status else "")
        level, step = "status", ""
    elif kind == "cancel_requested":
        who = payload.get("by") or ""
        text = "cancel requested" + (f" by {who}" if who else "")
        level, step = "warning", ""
    else:
        text = str(payload.get("message", ""))
        level, step = str(payload.get("level") or "info"), str(payload.get("step") or "")
    return {"seq": seq, "at": at, "level": level, "step": step, "text": text}


def _job_or_404(user, pk: int) -> OperationJob:
    try:
        return selectors.job_get(user=user, pk=pk)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


def _can_cancel(user, job: OperationJob) -> bool:
    return job.status in ACTIVE_STATUSES and (
        has_role(user, OPERATORS)
        or (job.requested_by_id is not None and job.requested_by_id == user.pk)
    )


def _can_clone(user) -> bool:
    return has_role(user, OPERATORS) or has_role(user, AUTHORS)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{e['path']}: {e['message']}" if e["path"] else e["message"] for e in error_list(exc)
        )
    return str(exc)


def _status_for(exc: Exception) -> int:
    if isinstance(exc, NotPermitted):
        return 403
    if isinstance(exc, StateConflict):
        return 409
    return 400


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# --- jobs -----------------------------------------------------------------------------


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
    jobs = selectors.job_list(
        user=request.user, kind=kind, status=status, platform=platform, vm_name=vm_name, mine=mine
    )
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {"job": job, "duration": duration_text(selectors.job_duration_s(job))}
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
            "platform_choices": list(
                Platform.objects.order_by("name").values_list("name", flat=True)
            ),
            "filtered": bool(kind or status or platform or vm_name or mine),
            "sees_all": selectors.sees_all_jobs(request.user),
            "can_clone": _can_clone(request.user),
        },
    )


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(request.user, pk)
    # Everything below is rendered up to this sequence number; the page's script asks
    # the websocket for what comes after it, so nothing is missed or shown twice.
    last_seq = job.event_seq
    steps = selectors.job_steps(job=job)
    checks = selectors.job_checks(job=job)
    log_events, log_omitted = selectors.job_log_events(job=job, upto=last_seq, limit=LOG_LINES)
    result = selectors.job_result(job=job, upto=last_seq)
    migration = None
    if job.kind == JobKind.MIGRATE:
        transfer = selectors.job_latest_payload(job=job, kind="transfer", upto=last_seq)
        migration = job_migration(job, transfer=transfer)
        result = {k: v for k, v in result.items() if k not in MIGRATION_RESULT_KEYS}
    return render(
        request,
        "operations_app/job_detail.html",
        {
            "job": job,
            "last_seq": last_seq,
            "duration": duration_text(selectors.job_duration_s(job)),
            "steps": [{"step": s, "duration": duration_text(s.duration_s)} for s in steps],
            "checks": checks,
            "summary": selectors.check_summary(checks),
            "log": [log_line(e) for e in log_events],
            "log_omitted": log_omitted,
            "result": result,
            "migration": migration,
            "can_cancel": _can_cancel(request.user, job),
            "terminal_statuses": [str(s) for s in JobStatus if s not in ACTIVE_STATUSES],
        },
    )


@login_required
def job_report(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(request.user, pk)
    checks = selectors.job_checks(job=job)
    sections: dict[str, list] = {}
    for check in checks:
        sections.setdefault(check.section or "other", []).append(check)
    return render(
        request,
        "operations_app/job_report.html",
        {
            "job": job,
            "checks": checks,
            "summary": selectors.check_summary(checks),
            "sections": [
                {"name": name, "checks": items, "summary": selectors.check_summary(items)}
                for name, items in sections.items()
            ],
            "duration": duration_text(selectors.job_duration_s(job)),
        },
    )


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(request.user, pk)
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


# --- clone and decommission -----------------------------------------------------------


def _initial_version(request: HttpRequest) -> tuple[int | None, str]:
    """The version named by ``?profile=NAME&version=N`` (default: the approved one)."""
    name = request.GET.get("profile", "").strip()
    if not name:
        return None, ""
    qs = PolicyVersion.objects.select_related("policy").filter(policy__name=name)
    number = request.GET.get("version", "").strip()
    if number.isdigit():
        version = qs.filter(number=int(number)).first()
    else:
        version = qs.filter(status=VersionStatus.APPROVED).first()
    if version is None:
        what = f"{name}@{number}" if number.isdigit() else f"profile {name}"
        return None, f"There is no approved version of {what}."
    if version.status != VersionStatus.APPROVED:
        return None, (
            f"{version.label} is {version.get_status_display().lower()}; "
            "only approved versions can be cloned."
        )
    return version.pk, ""


def _render_clone(request, form: CloneForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "operations_app/clone_form.html",
        {
            "form": form,
            "can_clone": _can_clone(request.user),
            "is_operator": has_role(request.user, OPERATORS),
        },
        status=status,
    )


@login_required
def clone_form(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = CloneForm(request.POST)
        if not form.is_valid():
            return _render_clone(request, form, status=400)
        version = form.selected_version()
        try:
            job = clone_services.job_request_clone(
                user=request.user,
                version=version,
                platform=form.cleaned_data["platform"],
                vm_name=form.cleaned_data["vm_name"],
            )
        except ValidationError as exc:
            form.add_service_error(exc)
            return _render_clone(request, form, status=400)
        except DomainError as exc:
            form.add_error(None, str(exc))
            return _render_clone(request, form, status=_status_for(exc))
        messages.success(
            request,
            f"Clone of {version.label} to {job.platform.name} as {job.vm_name} queued (job #{job.pk}).",
        )
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
    return _render_clone(request, CloneForm(initial=initial))


@login_required
@require_POST
def vm_decommission(request: HttpRequest, pk: int) -> HttpResponse:
    vm = ManagedVM.objects.select_related("platform", "profile_version").filter(pk=pk).first()
    if vm is None:
        raise Http404(f"No VM {pk} in the inventory.")
    back = reverse("operations:vm", kwargs={"pk": vm.pk})
    try:
        job = decommission_services.job_request_decommission(user=request.user, vm=vm)
    except (ValidationError, DomainError) as exc:
        messages.error(request, f"Could not decommission {vm.name}: {_error_text(exc)}")
        return redirect(back)
    messages.success(request, f"Decommission of {vm.name} queued (job #{job.pk}).")
    return redirect(job)


# --- notifications --------------------------------------------------------------------


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    notes = selectors.notification_list(user=request.user, unread_only=unread_only)
    page = Paginator(notes, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "operations_app/job_notifications.html",
        {"page": page, "notes": page.object_list, "unread_only": unread_only},
    )


@login_required
@require_POST
def notifications_mark_read(request: HttpRequest) -> HttpResponse:
    marked = notification_services.notification_mark_read(user=request.user)
    if marked:
        messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read.")
    return redirect(_safe_next(request, reverse("operations:notifications")))
