"""Maintenance windows: how they read, the bodies that create and change them, and the
queries of their occurrences and of the calendar. The windows service checks every
setting; a bad one answers 400 at its path (``rrule``, ``exdates/1``, ``labels/team``,
``platforms/0``, ``approval_kinds/1``)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from operations_app.api.serializers.common import NamedChoiceField, api_url
from operations_app.api.serializers.labels import LabelsField
from operations_app.models import MaintenanceWindow, WindowKind
from operations_app.presentation.windows import OccurrenceView, next_occurrences
from operations_app.services.windows import EDITABLE_FIELDS, KIND_NAMES
from operations_app.windows import MAX_DURATION_MINUTES, describe

MAX_WEEKS = 12
MAX_OCCURRENCES = 500


class OccurrenceSerializer(serializers.Serializer):
    """One opening of a window: ``[start, end)``; no new work starts from ``last_start``."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    last_start = serializers.DateTimeField(help_text="end less the cutoff")
    text = serializers.CharField(
        help_text="In the window's own zone, e.g. 'Sat 12 Dec 2026 02:00–05:00 CET'"
    )


def occurrence_data(view: OccurrenceView) -> dict[str, Any]:
    o = view.occurrence
    return {"start": o.start, "end": o.end, "last_start": o.last_start, "text": view.text}


class WindowLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    occurrences = serializers.URLField()
    export = serializers.URLField()


class WindowSerializer(serializers.Serializer):
    """A window as stored, with its rule in words and its next (or open) occurrence."""

    name = serializers.CharField(read_only=True)
    kind = NamedChoiceField(WindowKind, read_only=True)
    description = serializers.CharField(read_only=True)
    timezone = serializers.CharField(read_only=True, help_text="IANA zone of the start")
    start_date = serializers.DateField(read_only=True, help_text="The first start's local date")
    start_time = serializers.TimeField(read_only=True, help_text="Local time of each start")
    duration_minutes = serializers.IntegerField(read_only=True)
    rrule = serializers.CharField(read_only=True, help_text="RFC 5545 RRULE; empty: once")
    exdates = serializers.ListField(
        child=serializers.DateField(), read_only=True, help_text="Local dates skipped"
    )
    cutoff_minutes = serializers.IntegerField(read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    webhook_url = serializers.CharField(read_only=True)
    platforms = serializers.SerializerMethodField()
    profiles = serializers.SerializerMethodField()
    execution_flags = serializers.ListField(child=serializers.CharField(), read_only=True)
    labels = LabelsField(read_only=True)
    approval_required = serializers.BooleanField(
        read_only=True,
        help_text="Scheduled jobs in this window start only once an approver other than "
        "the requester approves them",
    )
    approval_kinds = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The job kinds the approval is about; empty: every kind",
    )
    when = serializers.SerializerMethodField(
        help_text="The rule in words, e.g. 'Second Saturday of every month, 02:00–05:00 "
        "Europe/Berlin'"
    )
    open_now = serializers.SerializerMethodField()
    next_occurrence = serializers.SerializerMethodField(
        help_text="The occurrence open now, else the next one; null when none is ahead"
    )
    created_by = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    links = serializers.SerializerMethodField()

    def _upcoming(self, window: MaintenanceWindow) -> list[OccurrenceView]:
        """The open or next occurrence (worked out once per window)."""
        cache = self.context.setdefault("upcoming", {})
        if window.pk not in cache:
            now = self.context.get("now") or timezone.now()
            cache[window.pk] = next_occurrences(window.rule(), now, count=1)
        return cache[window.pk]

    def get_platforms(self, window: MaintenanceWindow) -> list[str]:
        return sorted(p.name for p in window.platforms.all())

    def get_profiles(self, window: MaintenanceWindow) -> list[str]:
        return sorted(p.name for p in window.profiles.all())

    def get_when(self, window: MaintenanceWindow) -> str:
        return describe(window.rule())

    def get_open_now(self, window: MaintenanceWindow) -> bool:
        upcoming = self._upcoming(window)
        return bool(upcoming and upcoming[0].is_open)

    @extend_schema_field(OccurrenceSerializer(allow_null=True))
    def get_next_occurrence(self, window: MaintenanceWindow) -> dict | None:
        upcoming = self._upcoming(window)
        return OccurrenceSerializer(occurrence_data(upcoming[0])).data if upcoming else None

    def get_created_by(self, window: MaintenanceWindow) -> str | None:
        return window.created_by.get_username() if window.created_by else None

    @extend_schema_field(WindowLinksSerializer)
    def get_links(self, window: MaintenanceWindow) -> dict:
        request = self.context.get("request")
        return {
            "self": api_url(request, "window-detail", name=window.name),
            "occurrences": api_url(request, "window-occurrences", name=window.name),
            "export": api_url(request, "window-export") + f"?name={window.name}",
        }


# --------------------------------------------------------------------------- writes


class WindowWriteSerializer(serializers.Serializer):
    """A window's settings. The service checks them together (the rule, the scope's
    names, the labels) and answers every problem with its path."""

    name = serializers.CharField(
        required=False, max_length=100, help_text="Lowercase letters, digits and dashes"
    )
    kind = NamedChoiceField(WindowKind, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    timezone = serializers.CharField(
        required=False, max_length=64, help_text="IANA zone, e.g. Europe/Berlin"
    )
    start_date = serializers.DateField(required=False, help_text="Local date of the first start")
    start_time = serializers.TimeField(required=False, help_text="Local time, e.g. 02:00")
    duration_minutes = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_DURATION_MINUTES, help_text="Elapsed minutes"
    )
    rrule = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="RFC 5545 RRULE without DTSTART, e.g. FREQ=MONTHLY;BYDAY=2SA; empty: once",
    )
    exdates = serializers.ListField(
        child=serializers.DateField(), required=False, help_text="Local dates to skip"
    )
    cutoff_minutes = serializers.IntegerField(
        required=False, min_value=0, help_text="No new work in the last N minutes"
    )
    enabled = serializers.BooleanField(required=False)
    webhook_url = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="https:// or http://"
    )
    platforms = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Platform names; empty: any"
    )
    profiles = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="VPPD profile names (their VMs); empty: any",
    )
    execution_flags = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="VMs with any of these, e.g. Production; empty: any",
    )
    labels = LabelsField(required=False)
    approval_required = serializers.BooleanField(
        required=False,
        help_text="Scheduled jobs in this window start only once an approver other than "
        "the requester approves them (default false)",
    )
    approval_kinds = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=f"Job kinds the approval is about ({KIND_NAMES}); empty: every kind",
    )

    def validate(self, attrs):
        unknown = [
            key for key in getattr(self, "initial_data", {}) or {} if key not in EDITABLE_FIELDS
        ]
        if unknown:
            raise serializers.ValidationError({key: "not a window setting" for key in unknown})
        return attrs


class WindowCreateSerializer(WindowWriteSerializer):
    name = serializers.CharField(max_length=100, help_text="Lowercase letters, digits and dashes")
    timezone = serializers.CharField(max_length=64, help_text="IANA zone, e.g. Europe/Berlin")
    start_date = serializers.DateField(help_text="Local date of the first start")
    start_time = serializers.TimeField(help_text="Local time, e.g. 02:00")
    duration_minutes = serializers.IntegerField(
        min_value=1, max_value=MAX_DURATION_MINUTES, help_text="Elapsed minutes"
    )


class WindowUpdateSerializer(WindowWriteSerializer):
    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs:
            raise serializers.ValidationError("Give at least one setting to change.")
        return attrs


class WindowListQuerySerializer(serializers.Serializer):
    kind = NamedChoiceField(WindowKind, required=False)
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)


# --------------------------------------------------------------------------- occurrences


class OccurrencesQuerySerializer(serializers.Serializer):
    """``from`` and ``until`` (``from`` is a Python keyword: the fields are added below)."""

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(
            required=False, help_text="Occurrences that end after this (default: now)"
        )
        fields["until"] = serializers.DateTimeField(
            required=False,
            help_text="...and start before this (default: ten years after 'from')",
        )
        fields["limit"] = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=MAX_OCCURRENCES,
            default=10,
            help_text=f"At most this many (1 to {MAX_OCCURRENCES}, default 10)",
        )
        return fields

    def validate(self, attrs):
        if "from" in attrs and "until" in attrs and attrs["until"] <= attrs["from"]:
            raise serializers.ValidationError({"until": "must be after 'from'"})
        return attrs


class OccurrencesSerializer(serializers.Serializer):
    window = serializers.CharField()
    timezone = serializers.CharField()
    when = serializers.CharField()
    occurrences = OccurrenceSerializer(many=True)


# --------------------------------------------------------------------------- calendar


class CalendarQuerySerializer(serializers.Serializer):
    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(
            required=False, help_text="The first day (default: today in 'tz')"
        )
        fields["weeks"] = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=MAX_WEEKS,
            default=4,
            help_text=f"How many weeks (1 to {MAX_WEEKS}, default 4)",
        )
        fields["tz"] = serializers.CharField(
            required=False,
            default="UTC",
            help_text="The zone the days are in (default UTC)",
        )
        return fields


class CalendarOccurrenceSerializer(OccurrenceSerializer):
    window = serializers.CharField()
    kind = NamedChoiceField(WindowKind)
    timezone = serializers.CharField()
    conflicts = serializers.ListField(
        child=serializers.CharField(),
        help_text="The blackouts that cut into this maintenance occurrence (or the "
        "maintenance occurrences this blackout cuts into), in words",
    )


class ConflictSerializer(serializers.Serializer):
    maintenance = serializers.CharField()
    maintenance_start = serializers.DateTimeField()
    blackout = serializers.CharField()
    blackout_start = serializers.DateTimeField()
    text = serializers.CharField()


class CalendarSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    occurrences = CalendarOccurrenceSerializer(many=True)
    conflicts = ConflictSerializer(many=True)


# --------------------------------------------------------------------------- iCalendar


class ExportQuerySerializer(serializers.Serializer):
    name = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Only these windows (repeat the parameter); default: every window",
    )


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The .ics file")
    replace = serializers.BooleanField(
        required=False, help_text="Update windows of the same name instead of refusing them"
    )


class ImportResultSerializer(serializers.Serializer):
    imported = serializers.ListField(child=serializers.CharField())
    windows = WindowSerializer(many=True)
