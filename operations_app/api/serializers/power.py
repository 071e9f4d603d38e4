"""The request of a power change of a VM (start, shutdown, reboot, force_off)."""

from __future__ import annotations

from rest_framework import serializers

from operations_app.services.power import PowerAction

ACTION_HELP = "One of: " + ", ".join(
    f"`{value}` ({label.lower()})" for value, label in PowerAction.choices
)


class PowerRequestSerializer(serializers.Serializer):
    # A plain string: the service is the one place that says which actions exist, so an
    # unknown one answers with its message at the path ``action``.
    action = serializers.CharField(allow_blank=True, trim_whitespace=True, help_text=ACTION_HELP)
