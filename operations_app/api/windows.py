"""REST endpoints for maintenance windows: the list and a window (read, create, change,
delete), a window's occurrences, the calendar with its conflicts, and iCalendar export
and import.

Everyone authenticated may read and export; creating, changing, deleting and importing
needs the operators role, checked by the windows service (403 otherwise). Invalid
settings answer 400 with one ``{"path", "message"}`` per problem (``rrule``,
``exdates/1``, ``labels/team``, ``platforms/0``; in an import ``events/<n>/<field or
PROPERTY>``).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser, FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400, OBJECT_404, OPERATORS_403
from operations_app.api.serializers import windows as s
from operations_app.models import MaintenanceWindow
from operations_app.presentation.windows import HORIZON, occurrence_view
from operations_app.selectors import windows as window_selectors
from operations_app.services import windows as window_services
from operations_app.windows import describe, timezone_problem
from vmpersona.api import ApiListView, ApiView
from vmpersona.errors import field_error

ICS_MEDIA_TYPE = "text/calendar"
MAX_ICS_BYTES = 2 * 1024 * 1024
TAGS = ["windows"]

CREATE_EXAMPLE = OpenApiExample(
    "Second Saturday patch night",
    value={
        "name": "payments-patching",
        "kind": "maintenance",
        "timezone": "Europe/Berlin",
        "start_date": "2026-12-01",
        "start_time": "02:00",
        "duration_minutes": 180,
        "rrule": "FREQ=MONTHLY;BYDAY=2SA",
        "exdates": ["2027-01-09"],
        "cutoff_minutes": 30,
        "execution_flags": ["Production"],
        "labels": {"team": "payments"},
        "approval_required": True,
        "approval_kinds": ["migrate"],
    },
    request_only=True,
)


class CalendarParser(BaseParser):
    """A request body that is an .ics file, passed on as bytes."""

    media_type = ICS_MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        data = stream.read(MAX_ICS_BYTES + 1)
        if len(data) > MAX_ICS_BYTES:
            raise exceptions.ParseError("The .ics file is larger than 2 MiB.")
        return data


class CalendarRenderer(BaseRenderer):
    """.ics answers (the export); anything else it is asked to render (an error) as JSON."""

    media_type = ICS_MEDIA_TYPE
    format = "ics"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return JSONRenderer().render(data)


class WindowView(ApiView):
    def window(self, name: str) -> MaintenanceWindow:
        window = window_selectors.window_get(name)
        if window is None:
            raise exceptions.NotFound(f"No maintenance window named '{name}'.")
        return window

    def present(self, window: MaintenanceWindow, code=status.HTTP_200_OK) -> Response:
        fresh = window_selectors.window_get(window.name) or window
        context = {"request": self.request, "now": timezone.now()}
        return Response(s.WindowSerializer(fresh, context=context).data, status=code)


class WindowListView(WindowView, ApiListView):
    @extend_schema(
        operation_id="windows_list",
        tags=TAGS,
        summary="List maintenance windows",
        parameters=[s.WindowListQuerySerializer],
        responses={200: s.WindowSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        filters = self.parse(s.WindowListQuerySerializer, request.query_params)
        return self.paginated(
            window_selectors.window_list(
                enabled=filters.get("enabled"), kind=filters.get("kind", "")
            ),
            s.WindowSerializer,
            now=timezone.now(),
        )

    @extend_schema(
        operation_id="windows_create",
        tags=TAGS,
        summary="Create a maintenance window",
        description="Needs the operators role. The start is local time in `timezone`; the "
        "recurrence is an RFC 5545 RRULE without DTSTART (empty: a one-off). The scope "
        "(`platforms`, `profiles`, `execution_flags`, `labels`) is empty for everything. "
        "With `approval_required`, the jobs scheduled in it (of the `approval_kinds`, "
        "empty: every kind) start only once an approver other than the requester approves "
        "them.",
        request=s.WindowCreateSerializer,
        examples=[CREATE_EXAMPLE],
        responses={201: s.WindowSerializer, 400: ERRORS_400, 403: OPERATORS_403},
    )
    def post(self, request):
        data = self.parse(s.WindowCreateSerializer, request.data)
        window = window_services.window_create(user=request.user, data=data)
        response = self.present(window, status.HTTP_201_CREATED)
        response["Location"] = response.data["links"]["self"]
        return response


class WindowDetailView(WindowView):
    @extend_schema(
        operation_id="windows_retrieve",
        tags=TAGS,
        summary="A maintenance window",
        responses={200: s.WindowSerializer, 404: OBJECT_404},
    )
    def get(self, request, name: str):
        return self.present(self.window(name))

    @extend_schema(
        operation_id="windows_partial_update",
        tags=TAGS,
        summary="Change a maintenance window",
        description="Needs the operators role. Only the settings given change (a list "
        "given replaces the whole list); the change is one history record.",
        request=s.WindowUpdateSerializer,
        responses={
            200: s.WindowSerializer,
            400: ERRORS_400,
            403: OPERATORS_403,
            404: OBJECT_404,
        },
    )
    def patch(self, request, name: str):
        window = self.window(name)
        data = self.parse(s.WindowUpdateSerializer, request.data)
        window = window_services.window_update(user=request.user, window=window, data=data)
        return self.present(window)

    @extend_schema(
        operation_id="windows_destroy",
        tags=TAGS,
        summary="Delete a maintenance window",
        description="Needs the operators role. Its history stays.",
        responses={204: None, 403: OPERATORS_403, 404: OBJECT_404},
    )
    def delete(self, request, name: str):
        window_services.window_delete(user=request.user, window=self.window(name))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WindowOccurrencesView(WindowView):
    @extend_schema(
        operation_id="windows_occurrences",
        tags=TAGS,
        summary="A window's occurrences",
        description="The occurrences that overlap [from, until), in order: each start, "
        "end and last start (the cutoff) in UTC, and as text in the window's zone.",
        parameters=[s.OccurrencesQuerySerializer],
        responses={200: s.OccurrencesSerializer, 400: ERRORS_400, 404: OBJECT_404},
    )
    def get(self, request, name: str):
        window = self.window(name)
        query = self.parse(s.OccurrencesQuerySerializer, request.query_params)
        start = query.get("from") or timezone.now()
        end = query.get("until") or start + HORIZON
        rule = window.rule()
        found = window_selectors.window_occurrences(window, start, end, limit=query["limit"])
        return Response(
            s.OccurrencesSerializer(
                {
                    "window": window.name,
                    "timezone": window.timezone,
                    "when": describe(rule),
                    "occurrences": [
                        s.occurrence_data(occurrence_view(o, rule, start)) for o in found
                    ],
                }
            ).data
        )


class WindowCalendarView(ApiView):
    @extend_schema(
        operation_id="windows_calendar",
        tags=TAGS,
        summary="Every enabled window's occurrences, and the conflicts",
        description="From the start of `from` (a day in `tz`) for `weeks` weeks. A conflict "
        "is a maintenance occurrence that a blackout with an overlapping scope cuts into.",
        parameters=[s.CalendarQuerySerializer],
        responses={200: s.CalendarSerializer, 400: ERRORS_400},
    )
    def get(self, request):
        query = self.parse(s.CalendarQuerySerializer, request.query_params)
        problem = timezone_problem(query["tz"])
        if problem:
            raise field_error("tz", problem)
        zone = ZoneInfo(query["tz"])
        first_day = query.get("from") or timezone.now().astimezone(zone).date()
        start = datetime.combine(first_day, time.min, zone)
        end = datetime.combine(first_day + timedelta(weeks=query["weeks"]), time.min, zone)
        windows = list(window_selectors.window_list(enabled=True))
        rows = window_selectors.calendar(start, end, windows=windows)
        found = window_selectors.window_conflicts(start, end, windows=windows)
        notes: dict[tuple[str, datetime], list[str]] = {}
        for c in found:
            text = c.describe()
            notes.setdefault((c.maintenance.name, c.maintenance_occurrence.start), []).append(text)
            notes.setdefault((c.blackout.name, c.blackout_occurrence.start), []).append(text)
        data: dict[str, Any] = {
            "start": start,
            "end": end,
            "occurrences": [
                {
                    "window": r.name,
                    "kind": r.kind,
                    "timezone": r.timezone,
                    "start": r.occurrence.start,
                    "end": r.occurrence.end,
                    "last_start": r.occurrence.last_start,
                    "text": r.text,
                    "conflicts": notes.get((r.name, r.occurrence.start), []),
                }
                for r in rows
            ],
            "conflicts": [
                {
                    "maintenance": c.maintenance.name,
                    "maintenance_start": c.maintenance_occurrence.start,
                    "blackout": c.blackout.name,
                    "blackout_start": c.blackout_occurrence.start,
                    "text": c.describe(),
                }
                for c in found
            ],
        }
        return Response(s.CalendarSerializer(data).data)


class WindowExportView(ApiView):
    renderer_classes = [JSONRenderer, CalendarRenderer]

    @extend_schema(
        operation_id="windows_export",
        tags=TAGS,
        summary="The windows as an iCalendar (.ics) file",
        description="One VEVENT per window with a VTIMEZONE per zone; the vmpersona "
        "settings (kind, cutoff, scope, enabled, webhook) in CATEGORIES and X- properties, "
        "so an import reads them back unchanged.",
        parameters=[s.ExportQuerySerializer],
        responses={
            (200, ICS_MEDIA_TYPE): OpenApiResponse(OpenApiTypes.STR, description="The .ics file"),
            404: OBJECT_404,
        },
    )
    def get(self, request):
        names = request.query_params.getlist("name")
        windows = window_selectors.window_list()
        if names:
            windows = windows.filter(name__in=names)
            missing = sorted(set(names) - {w.name for w in windows})
            if missing:
                raise exceptions.NotFound(f"No maintenance window named '{missing[0]}'.")
        filename = f"{names[0]}.ics" if len(names) == 1 else "maintenance-windows.ics"
        response = HttpResponse(
            window_services.windows_export_ics(windows),
            content_type=f"{ICS_MEDIA_TYPE}; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class WindowImportView(ApiView):
    parser_classes = [CalendarParser, MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        operation_id="windows_import",
        tags=TAGS,
        summary="Create (or replace) windows from an iCalendar (.ics) file",
        description="Needs the operators role. Send the file as the body (`Content-Type: "
        "text/calendar`, `?replace=true` to update windows of the same name) or as the "
        "multipart field `file` (with `replace`). All or nothing: each problem is reported "
        "with its event, `events/<n>/<PROPERTY or setting>` (n from 0).",
        parameters=[
            OpenApiParameter(
                "replace",
                OpenApiTypes.BOOL,
                description="Update the windows the file names that exist already "
                "(default: refuse them)",
            )
        ],
        request={
            ICS_MEDIA_TYPE: OpenApiTypes.STR,
            "multipart/form-data": s.ImportUploadSerializer,
        },
        responses={201: s.ImportResultSerializer, 400: ERRORS_400, 403: OPERATORS_403},
    )
    def post(self, request):
        content, replace = self._upload(request)
        imported = window_services.windows_import_ics(
            user=request.user, data=content, replace=replace
        )
        fresh = window_selectors.window_list().filter(pk__in=[w.pk for w in imported])
        context = {"request": request, "now": timezone.now()}
        return Response(
            {
                "imported": [w.name for w in imported],
                "windows": s.WindowSerializer(fresh, many=True, context=context).data,
            },
            status=status.HTTP_201_CREATED,
        )

    def _upload(self, request) -> tuple[bytes, bool]:
        replace_text = str(request.query_params.get("replace", "")).lower()
        if isinstance(request.data, bytes):
            content = request.data
        else:
            upload = request.FILES.get("file")
            if upload is None:
                raise ValidationError(
                    [
                        field_error(
                            "file",
                            "send the .ics file as the body (Content-Type: text/calendar) "
                            "or as the multipart field 'file'",
                        )
                    ]
                )
            if upload.size > MAX_ICS_BYTES:
                raise field_error("file", "the .ics file is larger than 2 MiB")
            content = upload.read()
            replace_text = str(request.data.get("replace", replace_text)).lower()
        if not content.strip():
            raise field_error("file", "the file is empty")
        return content, replace_text in ("1", "true", "yes", "on")
