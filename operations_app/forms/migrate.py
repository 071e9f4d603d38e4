"""The migrate form: to which platform, in which mode.

``job_request_migrate`` and ``migration_preview`` decide; their errors come back through
``add_service_error``.
"""

from __future__ import annotations

from django import forms

from operations_app.forms.base import ServiceErrorsMixin
from operations_app.forms.scheduling import SCHEDULE_ERROR_FIELDS, ScheduleFieldsMixin
from operations_app.models import Platform
from operations_app.selectors.maintenance import maintenance_active_by_platform
from operations_app.selectors.platforms import platform_migration_targets

# Each mode with the one line the form shows under it.
MIGRATION_MODE_OPTIONS = (
    (
        "auto",
        "Auto",
        "Live when nothing but the disk locations change and the VM runs; cold otherwise.",
    ),
    ("live", "Live", "Keeps the guest running and copies its memory and disks to the target."),
    (
        "cold",
        "Cold",
        "Shuts the guest down, copies its disks and starts it, adapted, on the target.",
    ),
)


def _target_label(platform: Platform, maintenance=None) -> str:
    label = platform.name
    if platform.status != "ok":
        label += f" · {platform.get_status_display().lower()}"
    if maintenance is not None:
        label += f" ({maintenance.get_state_display().lower()})"
    return label


class MigrateForm(ServiceErrorsMixin, ScheduleFieldsMixin):
    """Where to move a VM, how, and when. The target list offers enabled platforms other
    than the VM's own, but any platform name is accepted here: the service says why it
    cannot be the target, on the ``target`` field. "When" offers the maintenance windows
    that cover the VM (``windows``)."""

    service_error_fields = {
        "target": "target",
        "mode": "mode",
        "platform": "target",
        **SCHEDULE_ERROR_FIELDS,
    }

    target = forms.ModelChoiceField(
        label="Target platform",
        queryset=Platform.objects.all(),
        to_field_name="name",
        empty_label="Choose a platform",
        help_text="Enabled platforms other than the one the VM is on.",
    )
    mode = forms.CharField(
        label="Mode",
        required=False,
        initial="auto",
        widget=forms.RadioSelect(choices=[(v, label) for v, label, _ in MIGRATION_MODE_OPTIONS]),
    )

    def __init__(self, *args, vm, windows=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.vm = vm
        self.set_windows(windows)
        self.targets = list(platform_migration_targets(vm=vm))
        target = self.fields["target"]
        # A platform in maintenance is offered, marked: the service says why it is refused.
        maintenances = maintenance_active_by_platform()
        target.widget.choices = [("", "Choose a platform")] + [
            (p.name, _target_label(p, maintenances.get(p.pk))) for p in self.targets
        ]

    def clean_mode(self) -> str:
        return (self.cleaned_data.get("mode") or "auto").strip()

    def mode_options(self) -> list[dict[str, object]]:
        """The radio buttons, with the posted (or initial) one checked."""
        current = self["mode"].value() or "auto"
        return [
            {"value": value, "label": label, "help": help_text, "checked": value == current}
            for value, label, help_text in MIGRATION_MODE_OPTIONS
        ]
