"""The maintenance window form: a window described with friendly controls, not JSON.

The recurrence is chosen as once / daily / weekly on some weekdays / monthly on the Nth
weekday or on a day of the month / yearly, with an end (never, after N times, on a
date); an "advanced" choice takes RRULE text instead. The form turns the controls into
the RRULE the service stores (``build_rrule``) and back (``controls_from_rrule``: a rule
the controls cannot show exactly stays advanced), exception dates and labels from one
per line, the duration from hours and minutes. Approval is a checkbox and the job kinds
it is about (none checked: every kind).

The service checks everything (``services.windows.window_problems``); its problems come
back with paths (``rrule``, ``exdates/1``, ``labels/team``, ``platforms/0``) that
``add_problems`` puts next to the control they are about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.utils import timezone as django_timezone

from operations_app.labels import labels_text, parse_labels
from operations_app.models import APPROVAL_KINDS, MaintenanceWindow, Platform, WindowKind
from operations_app.windows import MAX_DURATION_MINUTES, WindowRule, normalize_rrule, parse_rrule
from operations_app.windows.rrules import weekday_items
from profiles_app.models import Policy, PolicyKind

WEEKDAYS = (
    ("MO", "Monday"),
    ("TU", "Tuesday"),
    ("WE", "Wednesday"),
    ("TH", "Thursday"),
    ("FR", "Friday"),
    ("SA", "Saturday"),
    ("SU", "Sunday"),
)
CODES = tuple(code for code, _ in WEEKDAYS)
NTH = (("1", "first"), ("2", "second"), ("3", "third"), ("4", "fourth"), ("-1", "last"))
MONTHDAYS = tuple((str(d), str(d)) for d in range(1, 32)) + (("-1", "last day"),)
MONTHS = tuple(
    (str(i), name)
    for i, name in enumerate(
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        start=1,
    )
)
REPEATS = (
    ("none", "Once (does not repeat)"),
    ("daily", "Daily"),
    ("weekly", "Weekly, on chosen weekdays"),
    ("monthly", "Monthly"),
    ("yearly", "Yearly"),
    ("rrule", "Advanced: RRULE text"),
)
UNITS = {"daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "yearly": "YEARLY"}
ON_CHOICES = (("weekday", "on the"), ("day", "on day"))
ENDS = (("never", "never"), ("count", "after"), ("until", "on"))
STANDARD_FLAGS = (
    ("Production", "Production"),
    ("Testing", "Testing"),
    ("Development", "Development"),
)
FLAG_VALUES = tuple(v for v, _ in STANDARD_FLAGS)
KIND_LABELS = {
    "migrate": "Migrations",
    "clone": "Clones",
    "snapshot": "Snapshots",
    "decommission": "Decommissions",
}
APPROVAL_KIND_CHOICES = tuple((k.value, KIND_LABELS.get(k.value, k.label)) for k in APPROVAL_KINDS)
COMMON_ZONES = (
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
)

# The service's paths and the control each is shown beside.
PROBLEM_FIELDS = {
    "name": "name",
    "kind": "kind",
    "timezone": "timezone",
    "start_date": "start_date",
    "start_time": "start_time",
    "duration_minutes": "duration_hours",
    "cutoff_minutes": "cutoff_minutes",
    "exdates": "exdates",
    "enabled": "enabled",
    "description": "description",
    "webhook_url": "webhook_url",
    "platforms": "platforms",
    "profiles": "profiles",
    "execution_flags": "execution_flags",
    "labels": "labels",
    "approval_required": "approval_required",
    "approval_kinds": "approval_kinds",
}


@lru_cache(maxsize=1)
def timezone_choices() -> tuple[tuple[str, Any], ...]:
    """IANA zones for a select, grouped by region (common ones first)."""
    names = sorted(
        n
        for n in available_timezones()
        if not n.startswith(("posix/", "right/")) and n != "localtime"
    )
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in names:
        region = name.split("/", 1)[0] if "/" in name else "Other"
        groups.setdefault(region, []).append((name, name))
    common = [(n, n) for n in COMMON_ZONES if n in names]
    return (("Common", common), *((region, zones) for region, zones in groups.items()))


def _zone_select_choices(current: str | None) -> list[tuple[str, Any]]:
    """The zones, without the common ones repeated below (a select would show two
    selected options), and the current value even when it is not an IANA zone."""
    choices = []
    seen: set[str] = set()
    for group, zones in timezone_choices():
        kept = [(v, label) for v, label in zones if v not in seen]
        seen.update(v for v, _ in kept)
        choices.append((group, kept))
    if current and current not in seen:
        choices.insert(0, ("Current", [(current, current)]))
    return choices


# --------------------------------------------------------------------------- recurrence


def build_rrule(controls: Mapping[str, Any]) -> str:
    """The RRULE of the friendly controls (normalised); "" for a one-off. ``controls``
    are the form's cleaned values: ``repeat``, ``interval``, ``weekdays``, ``on``,
    ``nth``, ``weekday``, ``monthday``, ``month``, ``ends``, ``count``, ``until``,
    ``rrule`` (for ``repeat == "rrule"``)."""
    repeat = controls.get("repeat") or "none"
    if repeat == "none":
        return ""
    if repeat == "rrule":
        return normalize_rrule(controls.get("rrule") or "")
    parts = [f"FREQ={UNITS[repeat]}"]
    interval = controls.get("interval") or 1
    if int(interval) > 1:
        parts.append(f"INTERVAL={int(interval)}")
    ends = controls.get("ends") or "never"
    if ends == "count" and controls.get("count"):
        parts.append(f"COUNT={int(controls['count'])}")
    elif ends == "until" and controls.get("until"):
        parts.append(f"UNTIL={controls['until']:%Y%m%d}")
    if repeat == "weekly":
        days = [c for c in CODES if c in (controls.get("weekdays") or ())]
        parts.append(f"BYDAY={','.join(days)}")
    elif repeat in ("monthly", "yearly"):
        if repeat == "yearly":
            parts.append(f"BYMONTH={controls.get('month') or 1}")
        if (controls.get("on") or "weekday") == "weekday":
            parts.append(f"BYDAY={controls.get('nth') or 1}{controls.get('weekday') or 'MO'}")
        else:
            parts.append(f"BYMONTHDAY={controls.get('monthday') or 1}")
    return normalize_rrule(";".join(parts))


def controls_from_rrule(text: str) -> dict[str, Any]:
    """The controls that show ``text`` exactly, or the advanced choice with the text."""
    text = normalize_rrule(text or "")
    if not text:
        return {"repeat": "none"}
    advanced = {"repeat": "rrule", "rrule": text}
    parts, problems = parse_rrule(text)
    if problems:
        return advanced
    parts = dict(parts)
    repeat = {v: k for k, v in UNITS.items()}.get(parts.pop("FREQ", ""), "")
    if not repeat:
        return advanced
    controls: dict[str, Any] = {"repeat": repeat, "interval": int(parts.pop("INTERVAL", "1"))}
    if "COUNT" in parts:
        controls.update(ends="count", count=int(parts.pop("COUNT")))
    elif "UNTIL" in parts:
        until = parts.pop("UNTIL")
        if len(until) != 8:
            return advanced
        controls.update(ends="until", until=datetime.strptime(until, "%Y%m%d").date())
    else:
        controls["ends"] = "never"
    if repeat == "weekly":
        days = weekday_items(parts.pop("BYDAY", ""))
        if not days or any(n is not None for n, _ in days):
            return advanced
        controls["weekdays"] = [code for _, code in days]
    elif repeat in ("monthly", "yearly"):
        if repeat == "yearly":
            controls["month"] = parts.pop("BYMONTH", "")
        if "BYDAY" in parts:
            days = weekday_items(parts.pop("BYDAY"))
            if len(days) != 1 or days[0][0] is None:
                return advanced
            controls.update(on="weekday", nth=str(days[0][0]), weekday=days[0][1])
        else:
            controls.update(on="day", monthday=parts.pop("BYMONTHDAY", ""))
    if parts:
        return advanced
    try:
        if build_rrule(controls) != text:
            return advanced
    except (KeyError, ValueError, TypeError):
        return advanced
    return controls


# --------------------------------------------------------------------------- the form


def _lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of ``text`` with their numbers (from 1)."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


class WindowForm(forms.Form):
    """Every setting of a window. ``service_data()`` is what the service takes;
    ``add_problems()`` shows the service's problems beside their controls."""

    name = forms.CharField(
        max_length=100,
        help_text="Lowercase letters, digits and dashes, e.g. payments-patching.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "payments-patching"}),
    )
    kind = forms.ChoiceField(
        choices=WindowKind.choices, initial=WindowKind.MAINTENANCE, widget=forms.RadioSelect
    )
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What it is for"})
    )
    timezone = forms.CharField(
        label="Time zone",
        help_text="The start is local time in this zone, summer and winter alike.",
        widget=forms.Select(),
    )
    start_date = forms.DateField(
        label="Start date",
        help_text="The first day it may open.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    start_time = forms.TimeField(
        label="Start time",
        help_text="Local time of day.",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    duration_hours = forms.IntegerField(
        label="Duration",
        min_value=0,
        max_value=MAX_DURATION_MINUTES // 60,
        initial=3,
        widget=forms.NumberInput(attrs={"class": "num-input"}),
    )
    duration_mins = forms.IntegerField(
        label="minutes",
        required=False,
        min_value=0,
        max_value=59,
        initial=0,
        widget=forms.NumberInput(attrs={"class": "num-input"}),
    )
    repeat = forms.ChoiceField(
        label="Repeats", choices=REPEATS, initial="none", widget=forms.RadioSelect
    )
    interval = forms.IntegerField(
        label="Every",
        required=False,
        min_value=1,
        max_value=1000,
        initial=1,
        widget=forms.NumberInput(attrs={"class": "num-input"}),
    )
    weekdays = forms.MultipleChoiceField(
        label="Weekdays",
        required=False,
        choices=[(c, n[:3]) for c, n in WEEKDAYS],
        widget=forms.CheckboxSelectMultiple,
    )
    on = forms.ChoiceField(
        label="Monthly or yearly on",
        required=False,
        choices=ON_CHOICES,
        initial="weekday",
        widget=forms.RadioSelect,
    )
    nth = forms.ChoiceField(label="Which", required=False, choices=NTH, initial="2")
    weekday = forms.ChoiceField(label="Weekday", required=False, choices=WEEKDAYS, initial="SA")
    monthday = forms.ChoiceField(label="Day", required=False, choices=MONTHDAYS, initial="1")
    month = forms.ChoiceField(label="In", required=False, choices=MONTHS, initial="1")
    ends = forms.ChoiceField(
        label="Ends", required=False, choices=ENDS, initial="never", widget=forms.RadioSelect
    )
    count = forms.IntegerField(
        label="times",
        required=False,
        min_value=1,
        widget=forms.NumberInput(attrs={"class": "num-input"}),
    )
    until = forms.DateField(
        label="Last day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    rrule = forms.CharField(
        label="RRULE",
        required=False,
        help_text="RFC 5545, without DTSTART, e.g. FREQ=MONTHLY;BYDAY=-1SU "
        "(the last Sunday of each month).",
        widget=forms.TextInput(
            attrs={
                "class": "mono",
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "FREQ=MONTHLY;BYDAY=2SA",
            }
        ),
    )
    exdates = forms.CharField(
        label="Exception dates",
        required=False,
        help_text="Local dates on which it does not open, one per line (2026-12-26).",
        widget=forms.Textarea(attrs={"rows": 3, "class": "mono", "placeholder": "2026-12-26"}),
    )
    cutoff_minutes = forms.IntegerField(
        label="Cutoff (minutes)",
        min_value=0,
        initial=0,
        help_text="No new operation starts in the last N minutes of each occurrence.",
        widget=forms.NumberInput(attrs={"class": "num-input"}),
    )
    platforms = forms.MultipleChoiceField(
        required=False,
        help_text="Empty: every platform.",
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )
    profiles = forms.MultipleChoiceField(
        required=False,
        help_text="VMs of these VPPD profiles. Empty: any.",
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )
    execution_flags = forms.MultipleChoiceField(
        label="Execution flags",
        required=False,
        choices=STANDARD_FLAGS,
        help_text="VMs with any of these. None: any.",
        widget=forms.CheckboxSelectMultiple,
    )
    other_flags = forms.CharField(
        label="Other flags",
        required=False,
        help_text="Lowercase flags, separated by commas.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    labels = forms.CharField(
        required=False,
        strip=False,
        help_text="Objects with all of these, one key=value per line.",
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "class": "mono",
                "placeholder": "team=payments",
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
    )
    enabled = forms.BooleanField(
        required=False, initial=True, help_text="A disabled window counts for nothing."
    )
    approval_required = forms.BooleanField(
        label="Approval required",
        required=False,
        help_text=MaintenanceWindow._meta.get_field("approval_required").help_text,
    )
    approval_kinds = forms.MultipleChoiceField(
        label="Which jobs",
        required=False,
        choices=APPROVAL_KIND_CHOICES,
        help_text="The kinds of job that wait for an approver. None checked: every kind.",
        widget=forms.CheckboxSelectMultiple,
    )
    webhook_url = forms.CharField(
        label="Webhook URL",
        required=False,
        max_length=500,
        help_text="Where reminders are posted (https:// or http://).",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "placeholder": "https://hooks.example/windows"}
        ),
    )

    def __init__(
        self, *args, window: MaintenanceWindow | None = None, previewing: bool = False, **kwargs
    ):
        self.window = window
        self.previewing = previewing
        if "initial" not in kwargs and not args:
            kwargs["initial"] = self.initial_for(window) if window else self.initial_new()
        super().__init__(*args, **kwargs)
        current_zone = self.data.get("timezone") if self.is_bound else self.initial.get("timezone")
        self.fields["timezone"].widget.choices = _zone_select_choices(current_zone)
        names = {
            "platforms": list(Platform.objects.order_by("name").values_list("name", flat=True)),
            "profiles": list(
                Policy.objects.filter(kind=PolicyKind.VPPD)
                .order_by("name")
                .values_list("name", flat=True)
            ),
        }
        for key, known in names.items():
            # The window's names even when their rows are gone, so that the service says so.
            extra = [n for n in self.initial.get(key) or () if n not in known]
            field = self.fields[key]
            assert isinstance(field, forms.MultipleChoiceField)
            field.choices = [(n, n) for n in [*known, *extra]]
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("id", f"id_{name}")

    # --- initial values -----------------------------------------------------------------

    @staticmethod
    def initial_new() -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "start_date": django_timezone.now().date(),
            "start_time": "02:00",
            "duration_hours": 3,
            "duration_mins": 0,
            "repeat": "none",
            "interval": 1,
            "on": "weekday",
            "nth": "2",
            "weekday": "SA",
            "ends": "never",
            "enabled": True,
            "cutoff_minutes": 0,
            "kind": WindowKind.MAINTENANCE,
        }

    @classmethod
    def initial_for(cls, window: MaintenanceWindow) -> dict[str, Any]:
        scope = window.scope()
        hours, minutes = divmod(window.duration_minutes, 60)
        initial = {
            **cls.initial_new(),
            "name": window.name,
            "kind": window.kind,
            "description": window.description,
            "timezone": window.timezone,
            "start_date": window.start_date,
            "start_time": window.start_time,
            "duration_hours": hours,
            "duration_mins": minutes,
            "exdates": "\n".join(window.exdates or ()),
            "cutoff_minutes": window.cutoff_minutes,
            "platforms": list(scope.platforms),
            "profiles": list(scope.profiles),
            "execution_flags": [f for f in scope.flags if f in FLAG_VALUES],
            "other_flags": ", ".join(f for f in scope.flags if f not in FLAG_VALUES),
            "labels": labels_text(dict(scope.labels), separator="\n"),
            "enabled": window.enabled,
            "webhook_url": window.webhook_url,
            "approval_required": window.approval_required,
            "approval_kinds": list(window.approval_kinds or ()),
        }
        initial.update(controls_from_rrule(window.rrule))
        return initial

    # --- cleaning -----------------------------------------------------------------------

    def full_clean(self) -> None:
        # A preview needs no name yet; the page still shows the field as required.
        self.fields["name"].required = not self.previewing
        try:
            super().full_clean()
        finally:
            self.fields["name"].required = True

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        repeat = cleaned.get("repeat")
        if repeat == "weekly" and not cleaned.get("weekdays"):
            self.add_error("weekdays", "Choose at least one weekday.")
        if repeat == "rrule" and not (cleaned.get("rrule") or "").strip():
            self.add_error("rrule", "Write the rule, or choose how it repeats above.")
        if repeat not in ("none", "rrule", None):
            if cleaned.get("ends") == "count" and not cleaned.get("count"):
                self.add_error("count", "How many times?")
            if cleaned.get("ends") == "until" and not cleaned.get("until"):
                self.add_error("until", "On which day does it end?")
        return cleaned

    def clean_labels(self) -> dict[str, str]:
        labels, errors = parse_labels(self.cleaned_data["labels"].splitlines())
        if errors:
            raise forms.ValidationError([self._line_message(e.path, e.message) for e in errors])
        return labels

    @staticmethod
    def _line_message(path: str, message: str) -> str:
        index = path.rpartition("/")[2]
        return f"line {int(index) + 1}: {message}" if index.isdigit() else message

    def clean_other_flags(self) -> list[str]:
        text = self.cleaned_data["other_flags"]
        return [f.strip() for f in text.replace(";", ",").split(",") if f.strip()]

    def rrule_text(self) -> str:
        return build_rrule(self.cleaned_data)

    def duration_minutes(self) -> int:
        return self.cleaned_data["duration_hours"] * 60 + (self.cleaned_data["duration_mins"] or 0)

    def exdate_lines(self) -> list[tuple[int, str]]:
        return _lines(self.cleaned_data.get("exdates") or "")

    def flags(self) -> list[str]:
        return [*self.cleaned_data["execution_flags"], *self.cleaned_data["other_flags"]]

    def service_data(self) -> dict[str, Any]:
        """The cleaned form as ``window_create``/``window_update`` take it."""
        c = self.cleaned_data
        return {
            "name": (c.get("name") or "").strip() or None,
            "kind": c["kind"],
            "description": c["description"],
            "timezone": c["timezone"],
            "start_date": c["start_date"],
            "start_time": c["start_time"],
            "duration_minutes": self.duration_minutes(),
            "rrule": self.rrule_text(),
            "exdates": [text for _, text in self.exdate_lines()],
            "cutoff_minutes": c["cutoff_minutes"],
            "enabled": c["enabled"],
            "webhook_url": c["webhook_url"].strip(),
            "platforms": list(c["platforms"]),
            "profiles": list(c["profiles"]),
            "execution_flags": self.flags(),
            "labels": c["labels"],
            "approval_required": c["approval_required"],
            "approval_kinds": list(c["approval_kinds"]),
        }

    def preview_rule(self) -> WindowRule | None:
        """The rule the form describes, for the preview; None when its controls are
        not all clean (their errors are beside them)."""
        needed = ("timezone", "start_date", "start_time", "duration_hours", "cutoff_minutes")
        if any(key not in self.cleaned_data for key in needed):
            return None
        recurrence = ("repeat", "interval", "weekdays", "count", "until", "rrule")
        if any(key in self.errors for key in recurrence):
            return None
        dates = []
        for _, text in self.exdate_lines():
            try:
                dates.append(date.fromisoformat(text))
            except ValueError:
                return None
        return WindowRule(
            tz=self.cleaned_data["timezone"],
            start_date=self.cleaned_data["start_date"],
            start_time=self.cleaned_data["start_time"],
            duration_minutes=self.duration_minutes(),
            rrule=self.rrule_text(),
            exdates=tuple(dates),
            cutoff_minutes=self.cleaned_data["cutoff_minutes"],
        )

    # --- the service's problems -----------------------------------------------------------

    def add_problems(self, problems: Iterable[tuple[str, str]]) -> None:
        """Put each (path, message) beside the control it is about (a valid form's)."""
        # add_error drops a field's cleaned value: read what the messages need first.
        data = self.service_data()
        advanced = self.cleaned_data.get("repeat") == "rrule"
        lines = self.exdate_lines()
        for path, message in problems:
            head, _, rest = path.partition("/")
            if head == "rrule":
                if advanced:
                    self.add_error("rrule", message)
                else:
                    self.add_error("repeat", f"{message} (the rule is {data['rrule']})")
                continue
            field = PROBLEM_FIELDS.get(head)
            if field is None:
                self.add_error(None, f"{path}: {message}" if path else message)
                continue
            self.add_error(field, self._problem_text(head, rest, message, data, lines))

    @staticmethod
    def _problem_text(
        head: str, rest: str, message: str, data: Mapping, lines: list[tuple[int, str]]
    ) -> str:
        if not rest.isdigit():
            return message
        index = int(rest)
        if head == "exdates":
            return f"line {lines[index][0]}: {message}" if index < len(lines) else message
        values = data.get(head) or []
        if index < len(values) and str(values[index]) not in message:
            return f"'{values[index]}': {message}"
        return message

    @property
    def error_count(self) -> int:
        return sum(len(errors) for errors in self.errors.values())


class WindowImportForm(forms.Form):
    """An .ics file to import; ``replace`` updates the windows it names that exist."""

    file = forms.FileField(
        label="iCalendar file (.ics)",
        help_text="One window per VEVENT, as the export writes them; other programs' "
        "events are read too (DTEND, UTC starts, Windows zone names).",
        widget=forms.ClearableFileInput(attrs={"accept": ".ics,text/calendar"}),
    )
    replace = forms.BooleanField(
        label="Replace windows of the same name",
        required=False,
        help_text="Without it, a name that exists already is refused.",
    )

    MAX_BYTES = 2 * 1024 * 1024

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("The file is larger than 2 MiB.")
        return upload
