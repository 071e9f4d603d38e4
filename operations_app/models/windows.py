"""Maintenance windows: when work on platforms and VMs may run, and blackouts when
nothing may start. The recurrence, scope and decisions are pure code in
``operations_app.windows``; a row gives them its plain data (``rule()``, ``scope()``,
``entry()``, ``data()``). Every change is kept by simple-history, scope included."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from operations_app.models.jobs import JobKind
from operations_app.models.platforms import Platform
from operations_app.windows import (
    MAX_DURATION_MINUTES,
    WindowData,
    WindowEntry,
    WindowRule,
    WindowScope,
)


class WindowKind(models.TextChoices):
    MAINTENANCE = "maintenance", "Maintenance (work may run)"
    BLACKOUT = "blackout", "Blackout (nothing may start)"


# The kinds of job that can be scheduled, and so that a window's approval can be about.
APPROVAL_KINDS = (JobKind.MIGRATE, JobKind.CLONE, JobKind.SNAPSHOT, JobKind.DECOMMISSION)


# Kept as a module attribute: the services write one history row per change, scope
# included, through ``MaintenanceWindow.save_recorded``.
_history = HistoricalRecords(
    m2m_fields=["platforms", "profiles"],
    excluded_fields=["updated_at"],
)


class MaintenanceWindow(models.Model):
    """A named window: a local start in a time zone, a duration, a recurrence (RRULE),
    exception dates and a cutoff; the platforms, profiles, execution flags and labels it
    applies to (all empty: everything); whether the jobs scheduled in it (of some kinds,
    or all) wait for an approver."""

    name = models.SlugField(
        max_length=100, unique=True, help_text="Lowercase letters, digits and dashes."
    )
    kind = models.CharField(
        max_length=20, choices=WindowKind.choices, default=WindowKind.MAINTENANCE
    )
    timezone = models.CharField(
        max_length=64, help_text="IANA time zone the start is in, e.g. Europe/Berlin."
    )
    start_date = models.DateField(help_text="The first day (local) the window may open.")
    start_time = models.TimeField(help_text="Local time of day each occurrence starts.")
    duration_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DURATION_MINUTES)],
        help_text="Elapsed minutes each occurrence lasts (at most a week).",
    )
    rrule = models.TextField(
        blank=True,
        help_text="RFC 5545 RRULE without DTSTART, e.g. FREQ=MONTHLY;BYDAY=2SA "
        "(the second Saturday of each month); empty for a one-off.",
    )
    exdates = models.JSONField(
        default=list, blank=True, help_text='Local dates to skip, e.g. ["2026-12-26"].'
    )
    cutoff_minutes = models.PositiveIntegerField(
        default=0, help_text="No new operation starts in the last N minutes of an occurrence."
    )
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Where reminders are posted (https or http)."
    )
    approval_required = models.BooleanField(
        default=False,
        help_text="Scheduled jobs in this window start only once an approver other than "
        "the requester approves them.",
    )
    approval_kinds = models.JSONField(
        default=list,
        blank=True,
        help_text='The job kinds the approval is about, e.g. ["migrate"]; empty: all of '
        "them (migrate, clone, snapshot, decommission).",
    )
    platforms = models.ManyToManyField(
        Platform, blank=True, related_name="maintenance_windows", help_text="Empty: any."
    )
    profiles = models.ManyToManyField(
        "profiles_app.Policy",
        blank=True,
        related_name="maintenance_windows",
        limit_choices_to={"kind": "vppd"},
        help_text="VPPD profiles whose VMs it covers. Empty: any.",
    )
    execution_flags = models.JSONField(
        default=list, blank=True, help_text='VMs with any of these flags, e.g. ["Production"].'
    )
    labels = models.JSONField(
        default=dict,
        blank=True,
        help_text='Objects with all these labels, e.g. {"team": "payments"}.',
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = _history

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # ------------------------------------------------------------------ plain data

    def rule(self) -> WindowRule:
        """When it is open, for ``operations_app.windows``."""
        return WindowRule(
            tz=self.timezone,
            start_date=self.start_date,
            start_time=self.start_time,
            duration_minutes=self.duration_minutes,
            rrule=self.rrule,
            exdates=tuple(date.fromisoformat(d) for d in self.exdates or ()),
            cutoff_minutes=self.cutoff_minutes,
        )

    def scope(self) -> WindowScope:
        """What it covers (reads the platforms and profiles: prefetch them for lists)."""
        return WindowScope(
            platforms=tuple(p.name for p in self.platforms.all()),
            profiles=tuple(p.name for p in self.profiles.all()),
            flags=tuple(self.execution_flags or ()),
            labels=dict(self.labels or {}),
        )

    def requires_approval(self, kind: str) -> bool:
        """Whether a job of ``kind`` scheduled in this window waits for an approver."""
        return self.approval_required and (not self.approval_kinds or kind in self.approval_kinds)

    def entry(self) -> WindowEntry:
        return WindowEntry(
            name=self.name,
            kind=self.kind,
            rule=self.rule(),
            scope=self.scope(),
            description=self.description,
        )

    def data(self) -> WindowData:
        """Everything it is, as an .ics file carries it."""
        return WindowData(
            name=self.name,
            kind=self.kind,
            rule=self.rule(),
            description=self.description,
            enabled=self.enabled,
            webhook_url=self.webhook_url,
            scope=self.scope(),
            approval_required=self.approval_required,
            approval_kinds=tuple(self.approval_kinds or ()),
        )

    # ------------------------------------------------------------------ history

    def save_recorded(
        self,
        *,
        platforms: list[Platform] | None = None,
        profiles: list | None = None,
    ) -> None:
        """Save the row and set its scope (None: leave as is), kept as ONE history row
        that holds the scope (simple-history would add one per scope change). Set who
        and why first (``vmpersona.history.attribute_change``)."""
        created = self.pk is None
        self.skip_history_when_saving = True
        try:
            self.save()
            if platforms is not None:
                self.platforms.set(platforms)
            if profiles is not None:
                self.profiles.set(profiles)
        finally:
            del self.skip_history_when_saving
        _history.create_historical_record(self, "+" if created else "~")


class WindowOccurrenceRecord(models.Model):
    """What was sent about one occurrence of a window (``services.window_notices``): the
    reminder before it opens and the summary when its work ended, each once, and the
    webhook deliveries of both (the payload kept, so a retry posts the same body)."""

    window = models.ForeignKey(
        MaintenanceWindow, on_delete=models.CASCADE, related_name="occurrence_records"
    )
    occurrence_start = models.DateTimeField()
    occurrence_end = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    summarized_at = models.DateTimeField(null=True, blank=True)
    reminder_payload = models.JSONField(default=dict, blank=True)
    summary_payload = models.JSONField(default=dict, blank=True)
    reminder_webhook_attempts = models.PositiveSmallIntegerField(default=0)
    summary_webhook_attempts = models.PositiveSmallIntegerField(default=0)
    reminder_webhook_at = models.DateTimeField(
        null=True, blank=True, help_text="When the webhook took the reminder."
    )
    summary_webhook_at = models.DateTimeField(
        null=True, blank=True, help_text="When the webhook took the summary."
    )
    webhook_error = models.TextField(blank=True, help_text="The last failed delivery.")
    webhook_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurrence_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["window", "occurrence_start"], name="windowoccurrence_unique_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.window_id}@{self.occurrence_start.isoformat()}"
