"""Maintenance window pages: the list, a window's page (next occurrences, scope,
history, what was sent about recent occurrences), the form with its preview, the
calendar with conflicts, and iCalendar import and export.

Everyone logged in may read and export; creating, changing, deleting and importing
windows needs the operators role, which the windows service checks (others are shown
the pages read-only). The form's "Preview" button re-renders it with the rule in words
and its next occurrences, saving nothing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from operations_app.forms.windows import WindowForm, WindowImportForm, timezone_choices
from operations_app.models import MaintenanceWindow, WindowKind
from operations_app.presentation.windows import (
    approval_text,
    calendar_view,
    history_entries,
    next_occurrences,
    notice_rows,
    rule_preview,
    scope_parts,
    window_row,
)
from operations_app.selectors import scheduling as scheduling_selectors
from operations_app.selectors import windows as window_selectors
from operations_app.services import windows as window_services
from operations_app.views.common import can_operate
from operations_app.windows import describe, occurrence_at, timezone_problem, validate_rule
from operations_app.windows.text import span
from vmpersona.errors import DomainError, NotPermitted, error_list, http_status

PAGE_SIZE = 50
CALENDAR_WEEKS = 4
CALENDAR_MAX_WEEKS = 12
CONFLICT_WEEKS = 12
ICS_TYPE = "text/calendar; charset=utf-8"


def _window_or_404(name: str) -> MaintenanceWindow:
    window = window_selectors.window_get(name)
    if window is None:
        raise Http404(f"No maintenance window named '{name}'.")
    return window


def _window_url(window: MaintenanceWindow) -> str:
    return reverse("operations:window", args=[window.name])


# --------------------------------------------------------------------------- list and page


@login_required
def window_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    kind = kind if kind in WindowKind.values else ""
    enabled_filter = request.GET.get("enabled", "")
    enabled = {"yes": True, "no": False}.get(enabled_filter)
    now = timezone.now()
    page = Paginator(window_selectors.window_list(enabled=enabled, kind=kind), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = urlencode(
        {
            k: v
            for k, v in (("kind", kind), ("enabled", enabled_filter if enabled is not None else ""))
            if v
        }
    )
    return render(
        request,
        "operations_app/windows/list.html",
        {
            "rows": [window_row(w, now) for w in page.object_list],
            "page": page,
            "query": query,
            "kind": kind,
            "kinds": WindowKind.choices,
            "enabled_filter": enabled_filter if enabled is not None else "",
            "filtered": bool(kind or enabled is not None),
            "can_operate": can_operate(request.user),
        },
    )


@login_required
def window_detail(request: HttpRequest, name: str) -> HttpResponse:
    window = _window_or_404(name)
    now = timezone.now()
    rule = window.rule()
    involved = [
        c
        for c in window_selectors.window_conflicts(now, now + timedelta(weeks=CONFLICT_WEEKS))
        if window.name in (c.maintenance.name, c.blackout.name)
    ]
    return render(
        request,
        "operations_app/windows/detail.html",
        {
            "window": window,
            "when": describe(rule),
            "open_now": occurrence_at(rule, now),
            "upcoming": next_occurrences(rule, now, count=10),
            "scope_parts": scope_parts(window.scope()),
            "approval": approval_text(window.approval_required, window.approval_kinds or ()),
            "approval_flags": settings.VMPERSONA_SCHEDULE_APPROVAL_FLAGS,
            "duration": span(window.duration_minutes),
            "cutoff": span(window.cutoff_minutes) if window.cutoff_minutes else "",
            "conflicts": [c.describe() for c in involved],
            "conflict_weeks": CONFLICT_WEEKS,
            "history": history_entries(window_selectors.window_history(window)),
            "notices": notice_rows(window_selectors.window_occurrence_records(window), window),
            "reminder_minutes": settings.VMPERSONA_WINDOW_REMINDER_MINUTES,
            "can_operate": can_operate(request.user),
        },
    )


# --------------------------------------------------------------------------- the form


def _preview(form: WindowForm) -> dict[str, Any] | None:
    """The rule in words and its next occurrences, when the form's rule is valid."""
    rule = form.preview_rule()
    if rule is None or validate_rule(rule):
        return None
    return rule_preview(rule, timezone.now())


def _render_form(
    request: HttpRequest,
    form: WindowForm,
    *,
    window: MaintenanceWindow | None,
    preview: dict[str, Any] | None = None,
    previewed: bool = False,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "operations_app/windows/form.html",
        {
            "form": form,
            "window": window,
            "title": f"Edit {window.name}" if window else "New maintenance window",
            "preview": preview,
            "previewed": previewed,
            "approval_flags": settings.VMPERSONA_SCHEDULE_APPROVAL_FLAGS,
        },
        status=status,
    )


def _form_view(request: HttpRequest, window: MaintenanceWindow | None) -> HttpResponse:
    if request.method != "POST":
        if not can_operate(request.user):
            messages.warning(request, "Changing maintenance windows needs the 'operators' role.")
            return redirect(_window_url(window) if window else "operations:windows")
        form = WindowForm(window=window)
        preview = rule_preview(window.rule(), timezone.now()) if window else None
        return _render_form(request, form, window=window, preview=preview)

    previewing = "preview" in request.POST
    form = WindowForm(request.POST, window=window, previewing=previewing)
    if not form.is_valid():
        return _render_form(
            request,
            form,
            window=window,
            preview=_preview(form),
            previewed=previewing,
            status=200 if previewing else 400,
        )
    preview = _preview(form)
    data = form.service_data()
    if previewing:
        problems = window_services.window_problems(data, window=window)
        form.add_problems(p for p in problems if p != ("name", "required"))
        return _render_form(request, form, window=window, preview=preview, previewed=True)
    try:
        if window is None:
            saved = window_services.window_create(user=request.user, data=data)
        else:
            saved = window_services.window_update(user=request.user, window=window, data=data)
    except ValidationError as exc:
        form.add_problems((e["path"], e["message"]) for e in error_list(exc))
    except DomainError as exc:
        messages.error(request, f"Could not save the window: {exc}")
        return _render_form(request, form, window=window, preview=preview, status=http_status(exc))
    else:
        verb = "created" if window is None else "saved"
        messages.success(request, f"Maintenance window {saved.name} {verb}.")
        return redirect(_window_url(saved))
    return _render_form(request, form, window=window, preview=preview, status=400)


@login_required
def window_create(request: HttpRequest) -> HttpResponse:
    return _form_view(request, None)


@login_required
def window_edit(request: HttpRequest, name: str) -> HttpResponse:
    return _form_view(request, _window_or_404(name))


@login_required
@require_POST
def window_delete(request: HttpRequest, name: str) -> HttpResponse:
    window = _window_or_404(name)
    try:
        window_services.window_delete(user=request.user, window=window)
    except NotPermitted as exc:
        messages.error(request, str(exc))
        return redirect(_window_url(window))
    messages.success(request, f"Maintenance window {name} deleted.")
    return redirect("operations:windows")


# --------------------------------------------------------------------------- the calendar


def scheduled_operations(start: datetime, end: datetime) -> list[Any]:
    """The operations scheduled in ``[start, end)``, for the calendar to list under the
    occurrence each is in: mappings or objects with ``window`` (its name), ``start`` (the
    occurrence's start, aware), ``label`` and optionally ``url`` and ``status``: the jobs
    scheduled for a window (a job asked for at a time belongs to no occurrence)."""
    operations = []
    for row in scheduling_selectors.scheduled_jobs_between(start, end):
        if row.window is None or row.occurrence is None:
            continue
        job = row.job
        operations.append(
            {
                "window": row.window,
                "start": row.occurrence.start,
                "label": f"{job.get_kind_display()} {job.vm_name} (#{job.pk})",
                "url": job.get_absolute_url(),
                "status": "awaits approval" if row.awaits_approval else job.get_status_display(),
            }
        )
    return operations


def _calendar_params(request: HttpRequest, now: datetime) -> tuple[date, int, str, list[str]]:
    """The calendar's zone, first day (default: today there) and number of weeks; a
    value that cannot be read falls back to the default, and says so."""
    problems = []
    tz = request.GET.get("tz") or "UTC"
    if timezone_problem(tz):
        problems.append(f"'{tz}' is not an IANA time zone: times are shown in UTC.")
        tz = "UTC"
    first_day = now.astimezone(ZoneInfo(tz)).date()
    if request.GET.get("start"):
        try:
            first_day = date.fromisoformat(request.GET["start"])
        except ValueError:
            problems.append(f"'{request.GET['start']}' is not a date (YYYY-MM-DD): from today.")
    weeks = CALENDAR_WEEKS
    if request.GET.get("weeks"):
        text = request.GET["weeks"]
        if text.isdigit() and 1 <= int(text) <= CALENDAR_MAX_WEEKS:
            weeks = int(text)
        else:
            problems.append(f"Weeks: 1 to {CALENDAR_MAX_WEEKS}, not '{text}'.")
    return first_day, weeks, tz, problems


@login_required
def window_calendar(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    first_day, weeks, tz, problems = _calendar_params(request, now)
    zone = ZoneInfo(tz)
    start = datetime.combine(first_day, time.min, zone)
    end = datetime.combine(first_day + timedelta(weeks=weeks), time.min, zone)
    windows = list(window_selectors.window_list(enabled=True))
    operations = scheduled_operations(start, end)
    view = calendar_view(
        window_selectors.calendar(start, end, windows=windows),
        window_selectors.window_conflicts(start, end, windows=windows),
        first_day=first_day,
        weeks=weeks,
        zone=zone,
        today=now.astimezone(zone).date(),
        operations=operations,
    )
    step = timedelta(weeks=weeks)

    def link(day: date) -> str:
        return "?" + urlencode({"start": day.isoformat(), "weeks": str(weeks), "tz": tz})

    return render(
        request,
        "operations_app/windows/calendar.html",
        {
            **view,
            "weeks_count": weeks,
            "week_choices": range(1, CALENDAR_MAX_WEEKS + 1),
            "tz": tz,
            "zones": timezone_choices(),
            "problems": problems,
            "operations": operations,
            "window_count": len(windows),
            "previous_url": link(first_day - step),
            "next_url": link(first_day + step),
            "today_url": "?" + urlencode({"weeks": str(weeks), "tz": tz}),
        },
    )


# --------------------------------------------------------------------------- iCalendar


def _ics_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=ICS_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def windows_export(request: HttpRequest) -> HttpResponse:
    return _ics_response(
        window_services.windows_export_ics(window_selectors.window_list()),
        "maintenance-windows.ics",
    )


@login_required
def window_export(request: HttpRequest, name: str) -> HttpResponse:
    window = _window_or_404(name)
    return _ics_response(window_services.windows_export_ics([window]), f"{window.name}.ics")


def _import_problems(exc: ValidationError) -> list[dict[str, str]]:
    """Each problem with the event it is about ("event 2") and the property or setting."""
    rows = []
    for item in error_list(exc):
        parts = item["path"].split("/", 2)
        if len(parts) >= 2 and parts[0] == "events" and parts[1].isdigit():
            event = f"event {int(parts[1]) + 1}"
            where = parts[2] if len(parts) > 2 else ""
        else:
            event, where = "", item["path"]
        rows.append({"event": event, "where": where, "path": item["path"], **item})
    return rows


@login_required
def window_import(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        if not can_operate(request.user):
            messages.warning(request, "Importing maintenance windows needs the 'operators' role.")
            return redirect("operations:windows")
        return render(request, "operations_app/windows/import.html", {"form": WindowImportForm()})
    form = WindowImportForm(request.POST, request.FILES)
    problems: list[dict[str, str]] = []
    status = 400
    if form.is_valid():
        try:
            imported = window_services.windows_import_ics(
                user=request.user,
                data=form.cleaned_data["file"].read(),
                replace=form.cleaned_data["replace"],
            )
        except ValidationError as exc:
            problems = _import_problems(exc)
        except DomainError as exc:
            messages.error(request, f"Could not import: {exc}")
            status = http_status(exc)
        else:
            names = ", ".join(w.name for w in imported)
            messages.success(
                request,
                f"Imported {len(imported)} window{'s' if len(imported) != 1 else ''}: {names}.",
            )
            return redirect("operations:windows")
    return render(
        request,
        "operations_app/windows/import.html",
        {"form": form, "problems": problems},
        status=status,
    )
