"""The snapshot form on the VM page."""

from __future__ import annotations

from django import forms

from operations_app.forms.base import ServiceErrorsMixin
from operations_app.services.snapshots import DESCRIPTION_MAX


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
