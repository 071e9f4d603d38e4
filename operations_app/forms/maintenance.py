"""The host maintenance forms: put a platform into maintenance, and end it.

``maintenance_start`` and ``maintenance_end`` decide; their errors come back beside the
field they name through ``add_service_error``. Any window name is accepted here (the
list offers the enabled maintenance windows): the service says why one will not do.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from django import forms

from operations_app.forms.base import ServiceErrorsMixin
from operations_app.models import MaintenanceWindow
from operations_app.presentation.maintenance import occurrence_text, window_choice_label

NO_WINDOW_LABEL = "Now, no window — move the VMs at once"


class MaintenanceStartForm(ServiceErrorsMixin, forms.Form):
    """When (a maintenance window, or at once), whether the VMs come back, and why.

    ``windows``: the enabled maintenance windows to offer; ``covering``: the names of
    those whose scope covers the platform, offered first."""

    service_error_fields = {"window": "window", "reason": "reason", "move_back": "move_back"}

    window = forms.CharField(
        label="Maintenance window",
        required=False,
        widget=forms.Select,
        help_text="The VMs move inside its occurrences, a few at a time, never in a "
        "blackout. Without a window they move at once.",
    )
    move_back = forms.BooleanField(
        label="Move the VMs back when maintenance ends",
        required=False,
        help_text="Those it moved away and that are still where it put them.",
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "e.g. BIOS update, disk swap"}),
        help_text="Shown on the platform page and in the summaries; at most 500 characters.",
    )

    def __init__(
        self,
        *args,
        windows: Iterable[MaintenanceWindow] = (),
        covering: Iterable[str] = (),
        now: datetime,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.offered = list(windows)
        self.now = now
        covered = set(covering)
        mine = [(w.name, window_choice_label(w, now)) for w in self.offered if w.name in covered]
        others = [
            (w.name, window_choice_label(w, now)) for w in self.offered if w.name not in covered
        ]
        choices: list[Any] = [("", NO_WINDOW_LABEL)]
        if mine and others:
            choices += [("Windows covering this platform", mine), ("Other windows", others)]
        else:
            choices += mine + others
        cast(forms.Select, self.fields["window"].widget).choices = choices

    def clean_window(self) -> MaintenanceWindow | None:
        name = (self.cleaned_data.get("window") or "").strip()
        if not name:
            return None
        window = MaintenanceWindow.objects.filter(name=name).first()
        if window is None:
            raise forms.ValidationError(f"There is no maintenance window named '{name}'.")
        return window

    def clean_reason(self) -> str:
        return (self.cleaned_data.get("reason") or "").strip()

    def when_text(self) -> str:
        """How the VMs will move, in words, for the confirmation."""
        window = self.cleaned_data.get("window") if self.is_bound and self.is_valid() else None
        if window is None:
            return "at once"
        occ = occurrence_text(window, self.now)
        if occ["open"]:
            return f"in window '{window.name}', {occ['when']} ({occ['text']})"
        if not occ["text"]:
            return f"in window '{window.name}', which {occ['when']}"
        return f"in window '{window.name}', next {occ['text']} ({occ['when']})"

    def hidden_values(self) -> list[tuple[str, str]]:
        """The values as posted, for the confirmation form that repeats the request."""
        out = [("window", str(self["window"].value() or ""))]
        if self.cleaned_data.get("move_back"):
            out.append(("move_back", "on"))
        out.append(("reason", self.cleaned_data.get("reason") or ""))
        return out


class MaintenanceEndForm(forms.Form):
    """Back in service; whether the VMs it moved away come back (default: as asked)."""

    move_back = forms.BooleanField(
        label="Move the VMs back",
        required=False,
        help_text="The VMs this maintenance moved away and that are still where it put them.",
    )
