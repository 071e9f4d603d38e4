"""A VM's snapshots, and the snapshot and rollback job requests."""

from __future__ import annotations

from rest_framework import serializers

from operations_app.api.serializers.common import IdOrNameField, NamedChoiceField
from operations_app.api.serializers.scheduling import ScheduleFieldsSerializer
from operations_app.models import SnapshotOrigin


class VMSnapshotSerializer(serializers.Serializer):
    """A snapshot the product took; libvirt holds its data on ``platform``."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True, help_text="internal or external")
    with_memory = serializers.BooleanField(
        read_only=True, help_text="The running VM's memory was saved too"
    )
    vm_state = serializers.CharField(read_only=True, help_text="The VM's state when taken")
    origin = NamedChoiceField(SnapshotOrigin, read_only=True)
    description = serializers.CharField(read_only=True)
    platform = serializers.CharField(
        source="platform.name", read_only=True, help_text="The platform it was taken on"
    )
    job = serializers.IntegerField(
        source="job_id", allow_null=True, read_only=True, help_text="The job that took it"
    )
    created_at = serializers.DateTimeField(read_only=True)
    removed_at = serializers.DateTimeField(
        allow_null=True, read_only=True, help_text="null while it exists"
    )
    removed_reason = serializers.CharField(read_only=True)


class VMSnapshotsQuerySerializer(serializers.Serializer):
    all = serializers.BooleanField(
        required=False, default=False, help_text="Include removed snapshots"
    )


class VmOnPlatformSerializer(serializers.Serializer):
    vm = IdOrNameField(help_text="The VM: inventory id (see /vms/) or name")
    platform = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The VM's platform name, when its name is not unique",
    )


class SnapshotJobSerializer(VmOnPlatformSerializer, ScheduleFieldsSerializer):
    kind = serializers.ChoiceField(choices=[("snapshot", "Snapshot")])
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="At most 300 characters, on one line",
    )


class RollbackJobSerializer(VmOnPlatformSerializer):
    kind = serializers.ChoiceField(choices=[("rollback", "Rollback")])
    snapshot = IdOrNameField(help_text="The snapshot: id or name (see /vms/<id>/snapshots/)")
