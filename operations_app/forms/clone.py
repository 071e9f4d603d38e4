"""The clone form: which approved profile version, onto which platform (or "auto":
placement chooses), as which VM.

``job_request_clone`` decides; its errors come back through ``add_service_error``.
"""

from __future__ import annotations

from typing import cast

from django import forms

from operations_app.forms.base import ServiceErrorsMixin
from operations_app.forms.scheduling import SCHEDULE_ERROR_FIELDS, ScheduleFieldsMixin
from operations_app.models import Platform
from operations_app.selectors.clone import approved_versions
from operations_app.selectors.maintenance import maintenance_active_by_platform
from profiles_app.models import PolicyVersion

AUTO = "auto"


class CloneForm(ServiceErrorsMixin, ScheduleFieldsMixin):
    service_error_fields = {
        "vm_name": "vm_name",
        "platform": "platform",
        "version": "version",
        **SCHEDULE_ERROR_FIELDS,
    }
    field_order = ["version", "platform", "vm_name"]

    version = forms.TypedChoiceField(
        label="Profile version",
        coerce=int,
        help_text="Only approved versions can be cloned.",
    )
    platform = forms.ChoiceField(
        label="Platform",
        initial=AUTO,
        help_text="Enabled platforms only; automatic: placement chooses one (enabled, "
        "reachable, not in maintenance, with room for the VM, as the scheduling policies' "
        "rules allow) and the job says why.",
    )
    vm_name = forms.CharField(
        label="VM name",
        max_length=63,
        help_text="Lowercase letters, digits and dashes; 1 to 63 characters.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, windows=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.set_windows(windows)
        versions = list(approved_versions())
        self.versions = {v.pk: v for v in versions}
        groups: dict[str, list[tuple[int, str]]] = {}
        for v in versions:
            flags = ", ".join(v.execution_flags)
            label = v.label + (f" · {flags}" if flags else "")
            groups.setdefault(v.policy.name, []).append((v.pk, label))
        cast(forms.ChoiceField, self.fields["version"]).choices = [
            ("", "Choose an approved profile version")
        ] + [(name, options) for name, options in groups.items()]
        self.platforms = {p.name: p for p in Platform.objects.filter(enabled=True).order_by("name")}
        # A platform in maintenance is offered, marked: the service says why it is refused.
        maintenances = maintenance_active_by_platform()
        cast(forms.ChoiceField, self.fields["platform"]).choices = [
            (AUTO, "Automatic: placement chooses")
        ] + [
            (
                p.name,
                f"{p.name} ({maintenances[p.pk].get_state_display().lower()})"
                if p.pk in maintenances
                else p.name,
            )
            for p in self.platforms.values()
        ]

    def clean_platform(self) -> Platform | None:
        """The platform chosen, or None for automatic placement."""
        name = self.cleaned_data["platform"]
        return None if name == AUTO else self.platforms[name]

    def clean_vm_name(self) -> str:
        return self.cleaned_data["vm_name"].strip()

    def selected_version(self) -> PolicyVersion:
        return self.versions[self.cleaned_data["version"]]
