"""Fields and helpers every operations serializer shares."""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

API_NS = "operations-api"


def api_url(request, url_name: str, /, **kwargs) -> str:
    """The absolute URL of an operations API endpoint (a path when there is no request)."""
    path = reverse(f"{API_NS}:{url_name}", kwargs=kwargs)
    return request.build_absolute_uri(path) if request is not None else path


class NamedChoiceField(serializers.ChoiceField):
    """A choice of a model's ``TextChoices``, documented as one enum component of that name.

    Several resources have a ``status`` or ``state`` with different choices; naming each
    choice set after its class keeps the API docs unambiguous.
    """

    def __init__(self, choices_class: type[models.TextChoices], **kwargs):
        self.choices_class = choices_class
        super().__init__(choices=choices_class.choices, **kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField

    def map_serializer_field(self, auto_schema, direction):
        choices = self.target.choices_class
        name = f"{choices.__name__}Enum"
        schema = {
            "type": "string",
            "enum": list(choices.values),
            "description": "\n".join(f"* `{v}` - {label}" for v, label in choices.choices),
        }
        auto_schema.registry.register_on_missing(
            ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name)
        )
        ref = {"$ref": f"#/components/schemas/{name}"}
        if self.target.read_only:
            return {"allOf": [ref], "readOnly": True}
        return ref


@extend_schema_field(
    {
        "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "minLength": 1}],
        "description": "An id (integer) or a name (string)",
    }
)
class IdOrNameField(serializers.Field):
    """An object named by its id (a JSON integer) or by its name (a string; digits are
    tried as an id first)."""

    default_error_messages = {
        "invalid": "an id (integer) or a name (string)",
        "blank": "This field may not be blank.",
    }

    def to_internal_value(self, data) -> int | str:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, int):
            if data < 1:
                self.fail("invalid")
            return data
        data = data.strip()
        if not data:
            self.fail("blank")
        return data

    def to_representation(self, value):
        return value


class StrictSerializer(serializers.Serializer):
    """A request body that refuses fields it does not know, each at its path, with
    ``unknown_message`` ("not a field of this request" unless a subclass says better)."""

    unknown_message = "not a field of this request"

    def validate(self, attrs):
        initial = getattr(self, "initial_data", None)
        if isinstance(initial, dict):
            unknown = [key for key in initial if key not in self.fields]
            if unknown:
                raise serializers.ValidationError({key: self.unknown_message for key in unknown})
        return attrs
