"""What the page forms share: putting a service's errors on the field they name, and
naming a field by its label wherever an error is shown away from it."""

from __future__ import annotations

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from vmpersona.errors import error_list


def field_label(form: forms.BaseForm, name: str) -> str:
    """The label ``form`` shows for its field ``name`` ("VM name" for ``vm_name``)."""
    field = form.fields[name]
    return str(field.label) if field.label else name.replace("_", " ").capitalize()


def path_text(form: forms.BaseForm, path: str) -> str:
    """A service's error path as the form's user reads it: a path into one of the form's
    fields starts with that field's label ("Constraints › disk_buses/0"); any other path
    (a document pointer, a field the form does not show) stays as it is."""
    head, _, rest = path.strip("/").partition("/")
    if not head or head not in form.fields:
        return path
    label = field_label(form, head)
    return f"{label} › {rest}" if rest else label


def labelled_error(form: forms.BaseForm, path: str, message: str) -> str:
    """``path: message`` with the path as ``path_text`` writes it; ``message`` alone
    without a path."""
    return f"{path_text(form, path)}: {message}" if path else message


def form_errors_text(form: forms.BaseForm) -> str:
    """All of ``form``'s errors on one line, each field's under its label."""
    return "; ".join(
        labelled_error(form, "" if name == NON_FIELD_ERRORS else name, str(message))
        for name, errors in form.errors.items()
        for message in errors
    )


def service_errors_text(form: forms.BaseForm, exc: ValidationError) -> str:
    """A service's errors on one line, paths into ``form``'s fields under their labels."""
    return "; ".join(
        labelled_error(form, item["path"] or "", item["message"]) for item in error_list(exc)
    )


class ServiceErrorsMixin:
    """Put a service's ``{path, message}`` errors on the field the path names.

    ``service_error_fields`` maps the first segment of a path to a form field; anything
    else goes to the top of the form, with its path (a field's label when the path names
    one of the form's fields).
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
                    None,
                    labelled_error(self, item["path"] or "", item["message"]),  # type: ignore[arg-type]
                )
