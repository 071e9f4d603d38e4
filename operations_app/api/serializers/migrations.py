"""Migration requests and the plan a dry run answers."""

from __future__ import annotations

from django.db import models
from rest_framework import serializers

from operations_app.api.serializers.common import IdOrNameField, NamedChoiceField
from operations_app.api.serializers.scheduling import ScheduleFieldsSerializer


class MigrationMode(models.TextChoices):
    """The modes ``migration_services.MIGRATION_MODES`` accepts, with what each one does."""

    AUTO = "auto", "Live when nothing the guest sees changes and the VM runs, else cold"
    LIVE = "live", "Live only: refused when the hardware changes or the VM is not running"
    COLD = "cold", "Cold: the VM is shut down while its disks are copied"


class MigrationSerializer(serializers.Serializer):
    vm = IdOrNameField(help_text="The VM: inventory id (see /vms/) or name")
    source = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The VM's platform name, when its name is not unique",
    )
    target = IdOrNameField(help_text="Target platform: id or name")
    mode = NamedChoiceField(MigrationMode, required=False, default=MigrationMode.AUTO)


class MigrateJobSerializer(MigrationSerializer, ScheduleFieldsSerializer):
    kind = serializers.ChoiceField(choices=[("migrate", "Migrate")])


class MigrationDifferenceSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="machine_type, cpu_model, disk_bus, network, ...")
    subject = serializers.CharField(help_text="What it is about: domain, disk vda, interface ...")
    source = serializers.CharField(help_text="The value the VM uses")
    target = serializers.CharField(help_text="What the target offers or requires")
    detail = serializers.CharField()
    blocking = serializers.BooleanField(help_text="The VM cannot run on the target as it is")
    reason = serializers.CharField(help_text="Why no fix resolved it (unresolved ones only)")


class MigrationFixSerializer(serializers.Serializer):
    fix_id = serializers.CharField(help_text="`builtin:<name>` or the profile fix's id")
    description = serializers.CharField()
    action = serializers.DictField(child=serializers.JSONField())
    when = serializers.CharField(help_text="definition, before_cutover or after_cutover")
    differences = MigrationDifferenceSerializer(many=True)
    changes = serializers.ListField(child=serializers.CharField())


class MigrationDiskSerializer(serializers.Serializer):
    volume = serializers.CharField()
    target = serializers.CharField(help_text="The guest's device name, e.g. vda")
    capacity_bytes = serializers.IntegerField()
    allocation_bytes = serializers.IntegerField(allow_null=True)
    encrypted = serializers.BooleanField()
    from_pool = serializers.CharField(allow_null=True)
    to_pool = serializers.CharField()


class MigrationPlanSerializer(serializers.Serializer):
    vm = serializers.CharField()
    source = serializers.CharField(help_text="The platform the VM is on")
    target = serializers.CharField()
    profile_version = serializers.CharField()
    running = serializers.BooleanField()
    requested_mode = NamedChoiceField(MigrationMode)
    ready = serializers.BooleanField(help_text="A migration requested now would go ahead")
    verdict = serializers.CharField(help_text="One sentence: what would happen, or why not")
    path = serializers.ChoiceField(
        choices=[("live", "live"), ("cold", "cold")],
        allow_null=True,
        help_text="The path the job would take; null when it would not go ahead",
    )
    path_reason = serializers.CharField()
    refused = serializers.CharField(help_text="Why the requested mode cannot be met")
    ok = serializers.BooleanField(help_text="The adaptation resolves every blocking difference")
    problems = serializers.ListField(child=serializers.CharField())
    cpu_compatible = serializers.BooleanField(allow_null=True)
    differences = MigrationDifferenceSerializer(many=True)
    unresolved = MigrationDifferenceSerializer(
        many=True, help_text="The differences still there after the fixes, with the reason"
    )
    fixes = MigrationFixSerializer(many=True)
    guest_commands_before = MigrationFixSerializer(many=True)
    guest_commands_after = MigrationFixSerializer(many=True)
    hardware_changes = serializers.ListField(child=serializers.CharField())
    notes = serializers.ListField(child=serializers.CharField())
    disks = MigrationDiskSerializer(many=True)
    copy_bytes = serializers.IntegerField(help_text="Bytes the disks hold, to be copied")
    xml_diff = serializers.ListField(
        child=serializers.CharField(),
        help_text="Unified diff of the VM's definition and the adapted one, line by line",
    )
