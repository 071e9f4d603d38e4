""" "When" on the migrate and clone forms: now, in a maintenance window, in the next
window covering the VM, or at a local date and time in a zone.

The form only reads what was chosen; ``services.schedule_when`` checks it (a window
that does not cover the VM, a time in the past, ...) and its errors come back on the
``window`` or ``at`` field through ``add_service_error``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.conf import settings

from operations_app.models import OnMiss

WHEN_NOW, WHEN_WINDOW, WHEN_AUTO, WHEN_AT = "now", "window", "auto", "at"
WHEN_OPTIONS = (
    (WHEN_NOW, "Now", "Queued at once; it starts as soon as a worker picks it up."),
    (
        WHEN_WINDOW,
        "In a maintenance window",
        "Waits for the next occurrence of the window chosen below and starts inside it, "
        "before its cutoff, outside any blackout.",
    ),
    (
        WHEN_AUTO,
        "In the next window covering this VM",
        "Waits for the first maintenance window whose scope covers the VM.",
    ),
    (
        WHEN_AT,
        "At a time",
        "Starts at the date and time below (in the zone chosen), or a little later if the "
        "VM is busy or a blackout is on.",
    ),
)
SCHEDULE_ERROR_FIELDS = {"window": "window", "at": "at", "on_miss": "on_miss"}
SCHEDULE_FIELD_NAMES = ("when", "window", "at", "at_zone", "on_miss")


def zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(available_timezones())]


class ScheduleFieldsMixin(forms.Form):
    """The "When" fields; ``schedule_arguments()`` gives the request service's
    ``window``, ``at`` and ``on_miss``. ``windows``: the maintenance windows to offer."""

    when = forms.ChoiceField(
        label="When",
        required=False,
        initial=WHEN_NOW,
        choices=[(value, label) for value, label, _ in WHEN_OPTIONS],
        widget=forms.RadioSelect,
    )
    # Any name is accepted here (a select of the windows offered): the service says why
    # one will not do.
    window = forms.CharField(label="Maintenance window", required=False, widget=forms.Select)
    at = forms.CharField(
        label="Date and time",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    at_zone = forms.ChoiceField(label="Time zone", required=False)
    on_miss = forms.ChoiceField(
        label="If it cannot start in time",
        required=False,
        initial=OnMiss.NEXT,
        choices=OnMiss.choices,
        help_text="A job for a time always expires.",
    )

    offered_windows: list[str]
    when_choices: tuple[tuple[str, str, str], ...] = WHEN_OPTIONS

    def set_windows(self, windows) -> None:
        """Offer ``windows`` (maintenance windows) in the window list."""
        names = [w.name for w in windows]
        self.offered_windows = names
        widget = cast(forms.Select, self.fields["window"].widget)
        widget.choices = [("", "Choose a window")] + [(n, n) for n in names]
        zone = cast(forms.ChoiceField, self.fields["at_zone"])
        zone.choices = zone_choices()
        self.initial.setdefault("at_zone", settings.TIME_ZONE)

    @property
    def request_fields(self) -> list:
        """The form's own fields, the "When" fields left out (they show on their own)."""
        return [self[name] for name in self.fields if name not in SCHEDULE_FIELD_NAMES]

    def when_options(self) -> list[dict[str, Any]]:
        current = self["when"].value() or self.when_choices[0][0]
        return [
            {"value": value, "label": label, "help": help_text, "checked": value == current}
            for value, label, help_text in self.when_choices
        ]

    def schedule_hidden(self) -> list[tuple[str, str]]:
        """The "When" values as posted, for a second form that repeats the request."""
        return [
            (name, str(self[name].value()))
            for name in SCHEDULE_FIELD_NAMES
            if self[name].value() not in (None, "")
        ]

    def when_text(self) -> str:
        """ "" for now; else how the request is scheduled, in words."""
        when = self["when"].value() or WHEN_NOW
        if when == WHEN_WINDOW:
            return f"in maintenance window {self['window'].value()}"
        if when == WHEN_AUTO:
            return "in the next maintenance window covering it"
        if when == WHEN_AT:
            return f"at {self['at'].value()} {self['at_zone'].value()}"
        return ""

    def clean_when(self) -> str:
        return self.cleaned_data.get("when") or WHEN_NOW

    def clean_on_miss(self) -> str:
        return self.cleaned_data.get("on_miss") or OnMiss.NEXT

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        when = data.get("when") or WHEN_NOW
        if when == WHEN_WINDOW and not data.get("window"):
            self.add_error("window", "choose a maintenance window")
        if when == WHEN_AT:
            data["at_time"] = self._local_time(data.get("at") or "", data.get("at_zone") or "")
        return data

    def _local_time(self, text: str, zone: str) -> datetime | None:
        if not text.strip():
            self.add_error("at", "give a date and time")
            return None
        try:
            local = datetime.fromisoformat(text.strip())
        except ValueError:
            self.add_error("at", "a date and time, e.g. 2026-05-01T02:00")
            return None
        if local.tzinfo is not None:
            return local  # typed with its offset
        try:
            tz = ZoneInfo(zone or settings.TIME_ZONE)
        except (ValueError, KeyError):
            self.add_error("at_zone", "an IANA time zone, e.g. Europe/Berlin")
            return None
        # A local time the clocks skip or repeat: the rule windows follow (fold=0).
        return local.replace(tzinfo=tz, fold=0)

    def schedule_arguments(self) -> dict[str, Any]:
        """``window``, ``at`` and ``on_miss`` for the request service ({} for now)."""
        data = self.cleaned_data
        when = data.get("when") or WHEN_NOW
        on_miss = data.get("on_miss") or OnMiss.NEXT
        if when == WHEN_WINDOW:
            return {"window": data.get("window"), "on_miss": on_miss}
        if when == WHEN_AUTO:
            return {"window": "auto", "on_miss": on_miss}
        if when == WHEN_AT:
            return {"at": data.get("at_time"), "on_miss": on_miss}
        return {}


WHEN_KEEP = "keep"
MOVE_OPTIONS = (
    (WHEN_KEEP, "Keep its time", "Only what happens if it cannot start in time changes."),
    *WHEN_OPTIONS[1:],
)


class ScheduleMoveForm(ScheduleFieldsMixin):
    """Move a scheduled job (its page): another window, the next covering one, or a
    time; or keep its time and change ``on_miss``."""

    when_choices = MOVE_OPTIONS

    def __init__(self, *args, windows=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.set_windows(windows)
        field = cast(forms.ChoiceField, self.fields["when"])
        field.choices = [(value, label) for value, label, _ in MOVE_OPTIONS]
        field.initial = WHEN_KEEP

    def clean_when(self) -> str:
        return self.cleaned_data.get("when") or WHEN_KEEP

    def move_arguments(self) -> dict[str, Any]:
        """``window``, ``at`` and ``on_miss`` for ``job_schedule_update``."""
        if (self.cleaned_data.get("when") or WHEN_KEEP) == WHEN_KEEP:
            return {"on_miss": self.cleaned_data.get("on_miss") or OnMiss.NEXT}
        return self.schedule_arguments()
