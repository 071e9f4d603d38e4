"""The clone form: which approved profile version, onto which platform, as which VM.

The form only parses; ``job_request_clone`` decides (roles, states, names). Its errors
come back through ``add_service_error`` and land on the field their path names.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from operations_app.models import Platform
from profiles_app.documents import error_list
from profiles_app.models import PolicyVersion, VersionStatus


def approved_versions():
    return (
        PolicyVersion.objects.filter(status=VersionStatus.APPROVED)
        .select_related("policy")
        .order_by("policy__name", "-number")
    )


class CloneForm(forms.Form):
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
        self.fields["version"].choices = [("", "Choose an approved profile version")] + [
            (name, options) for name, options in groups.items()
        ]
        self.fields["platform"].queryset = Platform.objects.filter(enabled=True).order_by("name")

    def clean_vm_name(self) -> str:
        return self.cleaned_data["vm_name"].strip()

    def selected_version(self) -> PolicyVersion:
        return self.versions[self.cleaned_data["version"]]

    def add_service_error(self, exc: ValidationError) -> None:
        """Put each ``{path, message}`` on the field its path names, the rest on the form."""
        fields = {"vm_name": "vm_name", "platform": "platform", "version": "version"}
        for item in error_list(exc):
            path = (item["path"] or "").strip("/")
            field = fields.get(path.split("/")[0]) if path else None
            if field:
                self.add_error(field, item["message"])
            else:
                self.add_error(
                    None, f"{item['path']}: {item['message']}" if path else item["message"]
                )
