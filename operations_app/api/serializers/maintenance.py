"""Host maintenance: how a maintenance reads (its state, window and what became of each
VM), the evacuation plan, and the bodies that start and end one. The maintenance service
checks the window (unknown, a blackout, disabled, never opening again: 400 at
``window``) and the state (already in maintenance, not in maintenance: 409)."""

from __future__ import annotations

from typing import Any

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from operations_app.api.serializers.common import NamedChoiceField, StrictSerializer, api_url
from operations_app.models import HostMaintenance, MaintenanceState
from operations_app.selectors.maintenance import maintenance_history

REASON_MAX = HostMaintenance._meta.get_field("reason").max_length


class MaintenanceVMStatus(models.TextChoices):
    """What became of one VM of a platform in maintenance (``HostMaintenance.vms``)."""

    WAITING = "waiting", "Waits for the window (or for a free move slot)"
    MOVING = "moving", "Its migration job is at work"
    MOVED = "moved", "Moved to its target"
    FAILED = "failed", "Its move failed; tried again in the window's next occurrence"
    UNMOVABLE = "unmovable", "No platform can take it now; tried again in the next occurrence"
    GONE = "gone", "No longer on the platform (removed or moved by someone else)"
    LEFT = "left", "Still there when the maintenance ended"


# --------------------------------------------------------------------------- the plan


class HostVerdictSerializer(serializers.Serializer):
    host = serializers.CharField()
    passed = serializers.ListField(
        child=serializers.CharField(), help_text="The filters passed, in order"
    )
    refused_by = serializers.CharField(help_text="The filter (or `dry run`) that refused it")
    reason = serializers.CharField(help_text="Why it was refused, or not examined")
    scores = serializers.DictField(
        child=serializers.FloatField(), help_text="Each score by name (hosts that passed)"
    )
    score = serializers.FloatField(allow_null=True)
    dry_run = serializers.CharField(help_text="``, `ok`, `refused` or `not needed`")
    chosen = serializers.BooleanField()


class VMPlacementSerializer(serializers.Serializer):
    vm = serializers.CharField()
    target = serializers.CharField(help_text="The platform it goes to; empty when none can")
    path = serializers.CharField(help_text="`live` or `cold`; empty when it cannot move")
    path_reason = serializers.CharField(help_text="Why that path")
    reason = serializers.CharField(help_text="Why it cannot move (unmovable VMs)")
    vcpus = serializers.IntegerField()
    memory_mib = serializers.IntegerField()
    disk_bytes = serializers.IntegerField()
    verdicts = HostVerdictSerializer(many=True, help_text="Every other platform's verdict")


class HostUsageSerializer(serializers.Serializer):
    vcpus = serializers.FloatField(help_text="Committed share of the vCPUs it allows")
    memory = serializers.FloatField()
    storage = serializers.FloatField()


class EvacuationPlanSerializer(serializers.Serializer):
    platform = serializers.CharField(help_text="The platform to be emptied")
    source = serializers.CharField()
    complete = serializers.BooleanField(help_text="Every managed VM has somewhere to go")
    moves = VMPlacementSerializer(many=True, help_text="The VMs that can move, in order")
    unmovable = VMPlacementSerializer(many=True, help_text="The VMs no platform can take")
    unmanaged = serializers.ListField(
        child=serializers.CharField(),
        help_text="VMs VM Persona did not make: left alone, never moved",
    )
    hosts_before = serializers.DictField(child=HostUsageSerializer())
    hosts_after = serializers.DictField(
        child=HostUsageSerializer(), help_text="Each platform's usage once the moves are done"
    )
    dry_runs = serializers.IntegerField(help_text="Adaptation dry runs asked")
    parallel = serializers.IntegerField(help_text="Moves at once per platform")
    made_at = serializers.DateTimeField()


# --------------------------------------------------------------------------- a maintenance


class MaintenanceVMSerializer(serializers.Serializer):
    vm = serializers.CharField()
    status = NamedChoiceField(MaintenanceVMStatus)
    job = serializers.IntegerField(allow_null=True, help_text="Its migration job")
    target = serializers.CharField(help_text="Where it is (being) moved")
    path = serializers.CharField(help_text="`live` or `cold`")
    reason = serializers.CharField(help_text="Why it waits, failed or cannot move; or the path's")
    at = serializers.DateTimeField(allow_null=True, help_text="When it moved or failed")
    back_job = serializers.IntegerField(
        allow_null=True, help_text="The job moving it back after the maintenance"
    )
    back = serializers.CharField(help_text="Why it could not be moved back")


def vm_rows(vms: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``HostMaintenance.vms`` as a list by VM name, every field present."""
    return [
        {
            "vm": name,
            "status": info.get("status", ""),
            "job": info.get("job"),
            "target": info.get("target", ""),
            "path": info.get("path", ""),
            "reason": info.get("reason", ""),
            "at": info.get("at"),
            "back_job": info.get("back_job"),
            "back": info.get("back", ""),
        }
        for name, info in sorted((vms or {}).items())
    ]


class MaintenanceProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    waiting = serializers.IntegerField()
    moving = serializers.IntegerField()
    moved = serializers.IntegerField()
    failed = serializers.IntegerField()
    unmovable = serializers.IntegerField()
    gone = serializers.IntegerField()
    left = serializers.IntegerField()


def progress(vms: dict[str, dict[str, Any]]) -> dict[str, int]:
    counts = {status: 0 for status in MaintenanceVMStatus.values}
    for info in (vms or {}).values():
        status = info.get("status", "")
        counts[status] = counts.get(status, 0) + 1
    return {"total": len(vms or {}), **counts}


class MaintenanceLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    platform = serializers.URLField()
    current = serializers.URLField(help_text="The platform's current maintenance")
    end = serializers.URLField(help_text="End it (while it is active)")


class MaintenanceSerializer(serializers.Serializer):
    """One period of maintenance of a platform, with what became of each VM."""

    id = serializers.IntegerField(read_only=True)
    platform = serializers.CharField(source="platform.name", read_only=True)
    state = NamedChoiceField(MaintenanceState, read_only=True)
    active = serializers.BooleanField(read_only=True, help_text="Entering or in maintenance")
    window = serializers.CharField(
        source="window.name",
        allow_null=True,
        read_only=True,
        default=None,
        help_text="The window the VMs are moved in; null: at once",
    )
    move_back = serializers.BooleanField(read_only=True)
    reason = serializers.CharField(read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.username", allow_null=True, read_only=True, default=None
    )
    ended_by = serializers.CharField(
        source="ended_by.username", allow_null=True, read_only=True, default=None
    )
    started_at = serializers.DateTimeField(read_only=True)
    evacuated_at = serializers.DateTimeField(
        allow_null=True, read_only=True, help_text="When the last managed VM had left"
    )
    ended_at = serializers.DateTimeField(allow_null=True, read_only=True)
    progress = serializers.SerializerMethodField()
    vms = serializers.SerializerMethodField()
    summary = serializers.CharField(read_only=True, help_text="The last summary sent")
    links = serializers.SerializerMethodField()

    @extend_schema_field(MaintenanceProgressSerializer)
    def get_progress(self, maintenance: HostMaintenance) -> dict:
        return progress(maintenance.vms)

    @extend_schema_field(MaintenanceVMSerializer(many=True))
    def get_vms(self, maintenance: HostMaintenance) -> list:
        return MaintenanceVMSerializer(vm_rows(maintenance.vms), many=True).data

    @extend_schema_field(MaintenanceLinksSerializer)
    def get_links(self, maintenance: HostMaintenance) -> dict:
        request = self.context.get("request")
        name = maintenance.platform.name
        return {
            "self": api_url(request, "maintenance-detail", pk=maintenance.pk),
            "platform": api_url(request, "platform-detail", name=name),
            "current": api_url(request, "platform-maintenance", name=name),
            "end": api_url(request, "platform-maintenance-end", name=name),
        }


class MaintenanceHistorySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    by = serializers.CharField(help_text="A username, or 'the system'")
    state = serializers.CharField()
    reason = serializers.CharField()


class MaintenanceDetailSerializer(MaintenanceSerializer):
    plan = serializers.SerializerMethodField(
        help_text="The evacuation plan shown when it was confirmed (null: none was recorded)"
    )
    history = serializers.SerializerMethodField()

    @extend_schema_field(EvacuationPlanSerializer(allow_null=True))
    def get_plan(self, maintenance: HostMaintenance) -> dict | None:
        return maintenance.plan or None

    @extend_schema_field(MaintenanceHistorySerializer(many=True))
    def get_history(self, maintenance: HostMaintenance) -> list:
        return MaintenanceHistorySerializer(maintenance_history(maintenance), many=True).data


class CurrentMaintenanceSerializer(serializers.Serializer):
    maintenance = MaintenanceDetailSerializer(
        allow_null=True, help_text="The platform's current maintenance; null: in service"
    )


class PlatformMaintenanceSerializer(serializers.Serializer):
    """The short form a platform shows of its current maintenance."""

    state = NamedChoiceField(MaintenanceState)
    window = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField()
    requested_by = serializers.CharField(allow_null=True)


def platform_maintenance(maintenance: HostMaintenance | None) -> dict | None:
    if maintenance is None:
        return None
    return PlatformMaintenanceSerializer(
        {
            "state": maintenance.state,
            "window": maintenance.window.name if maintenance.window else None,
            "started_at": maintenance.started_at,
            "requested_by": maintenance.requested_by.get_username()
            if maintenance.requested_by
            else None,
        }
    ).data


# --------------------------------------------------------------------------- requests


class _StrictSerializer(StrictSerializer):
    unknown_message = "not a maintenance setting"


class MaintenanceStartSerializer(_StrictSerializer):
    window = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="The maintenance window whose occurrences the VMs are moved in (its "
        "name); null or absent: at once, outside blackouts",
    )
    move_back = serializers.BooleanField(
        required=False,
        default=False,
        help_text="When it ends, move the VMs it moved away back (default false)",
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=REASON_MAX,
        help_text="Why, for the record and the notices",
    )


class MaintenanceEndSerializer(_StrictSerializer):
    move_back = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Move back the VMs it moved away; absent or null: as asked when it started",
    )


class MaintenanceListQuerySerializer(serializers.Serializer):
    platform = serializers.CharField(required=False, allow_blank=True, help_text="Platform name")
    active = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: entering or in maintenance; false: ended; absent: all",
    )
