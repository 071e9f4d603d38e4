"""Notifications: listing them and marking them read."""

from __future__ import annotations

from rest_framework import serializers

from operations_app.api.serializers.common import NamedChoiceField
from operations_app.models import Severity


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    severity = NamedChoiceField(Severity)
    message = serializers.CharField()
    link = serializers.CharField(help_text="Path of the page it is about")
    job = serializers.IntegerField(source="job_id", allow_null=True)
    read = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class NotificationListQuerySerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False, help_text="Only unread ones")


class NotificationReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text="Mark only these; all unread when omitted",
    )


class NotificationReadResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many became read")
    unread = serializers.IntegerField(help_text="How many are still unread")
