"""What the page forms share: putting a service's errors on the field they name."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from vmpersona.errors import error_list


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
