"""The clone, migrate and snapshot forms.

Clone: which approved profile version, onto which platform, as which VM. Migrate: to
which platform, in which mode. Snapshot: an optional description. The forms only parse;
``job_request_clone``, ``job_request_migrate``, ``migration_preview`` and
``job_request_snapshot`` decide (roles, states, names). Their
errors come back through ``add_service_error`` and land on the field their path names.
"""

from __future__ import annotations

from typing import cast

from django import forms
from django.core.exceptions import ValidationError

from operations_app.models import Platform
from operations_app.services.snapshots import DESCRIPTION_MAX
from profiles_app.documents import error_list
from profiles_app.models import PolicyVersion, VersionStatus


def approved_versions():
    return (
        PolicyVersion.objects.filter(status=VersionStatus.APPROVED)
        .select_related("policy")
        .order_by("policy__name", "-number")
    )


class ServiceErrorsMixin:
    """Put a service's ``{path, message}`` errors on the field the path names.

    ``service_error_fields`` maps the first segment of a path to a form field; anything
    else goes to the top of the form, with its path.
    """

    service_error_fields: dict[str, str] = {}

    def add_service_error(self, exc: ValidationError) -> None:
        for item in error_list(exc):
            path = (item["path"] or "").strip("/")
            field = self.service_error_fields.get(path.split("/")[0]) if path else None
            if field:
                self.add_error(field, item["message"])  # type: ignore[attr-defined]
            else:
                self.add_error(  # type: ignore[attr-defined]
                    None, f"{item['path']}: {item['message']}" if path else item["message"]
                )


class CloneForm(ServiceErrorsMixin, forms.Form):
    service_error_fields = {"vm_name": "vm_name", "platform": "platform", "version": "version"}

    version = forms.TypedChoiceField(
        label="Profile version",
        coerce=int,
        help_text="Only approved versions can be cloned.",
    )
    platform = forms.ModelChoiceField(
        label="Platform",
        queryset=Platform.objects.none(),
        to_field_name="name",
        empty_label="Choose a platform",
        help_text="Enabled platforms only.",
    )
    vm_name = forms.CharField(
        label="VM name",
        max_length=63,
        help_text="Lowercase letters, digits and dashes; 1 to 63 characters.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
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
        cast(forms.ModelChoiceField, self.fields["platform"]).queryset = Platform.objects.filter(
            enabled=True
        ).order_by("name")

    def clean_vm_name(self) -> str:
        return self.cleaned_data["vm_name"].strip()

    def selected_version(self) -> PolicyVersion:
        return self.versions[self.cleaned_data["version"]]


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


class MigrateForm(ServiceErrorsMixin, forms.Form):
    """Where to move a VM and how. The target list offers enabled platforms other than
    the VM's own, but any platform name is accepted here: the service says why it
    cannot be the target, on the ``target`` field."""

    service_error_fields = {"target": "target", "mode": "mode", "platform": "target"}

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
    maintenance_window = forms.BooleanField(
        label="Only inside the next maintenance window",
        required=False,
        disabled=True,
        help_text="Not available yet: maintenance-window scheduling is still to come, so a "
        "migration starts as soon as a worker picks it up.",
    )

    def __init__(self, *args, vm, **kwargs):
        super().__init__(*args, **kwargs)
        self.vm = vm
        self.targets = list(
            Platform.objects.filter(enabled=True).exclude(pk=vm.platform_id).order_by("name")
        )
        target = self.fields["target"]
        target.widget.choices = [("", "Choose a platform")] + [
            (p.name, p.name if p.status == "ok" else f"{p.name} · {p.get_status_display().lower()}")
            for p in self.targets
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


class SnapshotForm(ServiceErrorsMixin, forms.Form):
    """An optional one-line description for a snapshot. ``job_request_snapshot`` checks
    it (length, one line); its error lands on the field."""

    service_error_fields = {"description": "description"}

    description = forms.CharField(
        label="Description",
        required=False,
        strip=False,
        widget=forms.TextInput(
            attrs={
                "placeholder": "Description (optional)",
                "autocomplete": "off",
                "maxlength": DESCRIPTION_MAX,
            }
        ),
    )
