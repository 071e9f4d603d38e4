"""The labels form of the VM and platform pages: one ``key=value`` per line."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from operations_app.labels import MAX_LABELS, labels_text, parse_labels
from vmpersona.errors import error_list


class LabelsForm(forms.Form):
    """All of an object's labels as text; saving replaces them (an empty text removes
    them all). Each line's problem names its path (``labels/<n>``, from 0) and line; the
    service checks the labels again and its errors land here too."""

    labels = forms.CharField(
        label="Labels",
        required=False,
        strip=False,
        help_text=f"One key=value per line, e.g. team=payments; at most {MAX_LABELS}.",
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "class": "mono",
                "placeholder": "team=payments\nrack=r12",
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
    )

    @classmethod
    def for_labels(cls, labels: dict[str, str] | None) -> LabelsForm:
        return cls(initial={"labels": labels_text(labels, separator="\n")})

    def clean_labels(self) -> dict[str, str]:
        lines = self.cleaned_data["labels"].splitlines()
        labels, errors = parse_labels(lines)
        if errors:
            raise ValidationError([self._line_error(e.path, e.message) for e in errors])
        return labels

    @staticmethod
    def _line_error(path: str, message: str) -> str:
        index = path.rpartition("/")[2]
        line = f" (line {int(index) + 1})" if index.isdigit() else ""
        return f"{path}{line}: {message}"

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put the service's errors on the field, with their paths (``labels/team``)."""
        for item in error_list(exc):
            path = item["path"] or "labels"
            self.add_error("labels", f"{path}: {item['message']}")
