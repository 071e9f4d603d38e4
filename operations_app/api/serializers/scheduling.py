"""Scheduling a job: the fields a request takes to wait for a window or a time, moving
a scheduled job, and approving or rejecting one."""

from __future__ import annotations

from rest_framework import serializers

from operations_app.api.serializers.common import NamedChoiceField
from operations_app.models import OnMiss

WINDOW_HELP = (
    "Schedule the job for the next occurrence of this maintenance window (its name), or "
    "`auto`: the next occurrence of any maintenance window covering the VM. The job waits "
    "as `scheduled` and is queued inside the occurrence, before its cutoff, outside any "
    "blackout"
)
AT_HELP = (
    "Schedule the job for this time: ISO 8601 with its UTC offset "
    "(`2026-05-01T02:00:00+02:00` or `...Z`). It may start until "
    "VMPERSONA_SCHEDULE_AT_GRACE_MINUTES later (30 by default), outside any blackout"
)
ON_MISS_HELP = (
    "When the job could not start in its interval: `next` moves it to the window's next "
    "occurrence (a job for a time expires), `expire` ends it as `expired`"
)


class ScheduleFieldsSerializer(serializers.Serializer):
    """``window`` or ``at`` (not both) make a request a scheduled job; neither: now."""

    window = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default=None, help_text=WINDOW_HELP
    )
    at = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default=None, help_text=AT_HELP
    )
    on_miss = NamedChoiceField(OnMiss, required=False, default=OnMiss.NEXT, help_text=ON_MISS_HELP)


def schedule_arguments(data: dict) -> dict:
    """The request services' ``window``, ``at`` and ``on_miss`` from parsed data."""
    return {
        "window": data.get("window") or None,
        "at": data.get("at") or None,
        "on_miss": data.get("on_miss") or OnMiss.NEXT,
    }


class ScheduleUpdateSerializer(serializers.Serializer):
    window = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        default=None,
        help_text="Move it to this window's next occurrence (a name), or `auto`",
    )
    at = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        default=None,
        help_text="Move it to this time (ISO 8601 with its UTC offset)",
    )
    on_miss = NamedChoiceField(
        OnMiss, required=False, allow_null=True, default=None, help_text=ON_MISS_HELP
    )


class ScheduleDecisionSerializer(serializers.Serializer):
    # Checked by the service after the role, so a refused user hears 403 first.
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="Why (at most 500 characters); required to reject",
    )
