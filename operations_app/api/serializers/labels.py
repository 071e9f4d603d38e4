"""Labels of VMs and platforms: how they read, and the bodies that change them. The
service checks the labels (``operations_app.labels``); a bad one answers 400 at its
path, ``labels/<key>``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from operations_app.labels import MAX_LABELS, VALUE_MAX

LABELS_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string", "maxLength": VALUE_MAX},
    "maxProperties": MAX_LABELS,
    "description": 'Label key to value, e.g. {"team": "payments"}. A key is a name of 1 '
    "to 63 letters, digits, '.', '_' or '-' (starting and ending with a letter or digit), "
    "optionally after a DNS-subdomain prefix and '/'; a value has at most 63 of the same "
    "characters (or is empty). At most 64 labels.",
    "example": {"team": "payments", "rack": "r12"},
}

SELECTOR_HELP = (
    "Label selector: comma-separated key=value (the label has that value) or key (the "
    "label exists), all of which must hold, e.g. team=payments,rack"
)


@extend_schema_field(LABELS_SCHEMA)
class LabelsField(serializers.JSONField):
    """Labels as a JSON object, passed on as sent: the service checks them, so every
    path (page, API, admin, CLI) gives the same answer."""


class LabelsSerializer(serializers.Serializer):
    """An object's labels (a PUT replaces them all with these)."""

    labels = LabelsField()


class LabelsPatchSerializer(serializers.Serializer):
    """A change to an object's labels: these set (over the others), ``remove`` dropped."""

    labels = LabelsField(required=False, default=dict)
    remove = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text="Keys of labels to drop (absent ones are ignored)",
    )

    def validate(self, attrs):
        if not attrs.get("labels") and not attrs.get("remove"):
            raise serializers.ValidationError("Give labels to set or keys to remove.")
        return attrs
