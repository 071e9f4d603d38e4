"""The VM inventory and its metrics samples."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from operations_app.api.serializers.common import NamedChoiceField, api_url
from operations_app.api.serializers.labels import SELECTOR_HELP, LabelsField
from operations_app.models import VMState


class MetricSampleSerializer(serializers.Serializer):
    """One sample; byte counters are cumulative since the domain started."""

    at = serializers.DateTimeField()
    cpu_percent = serializers.FloatField(
        allow_null=True, help_text="Of the VM's vCPUs, since the previous sample"
    )
    cpu_time_ns = serializers.IntegerField()
    memory_used_mib = serializers.FloatField(allow_null=True)
    memory_total_mib = serializers.FloatField(allow_null=True)
    disk_read_bytes = serializers.IntegerField()
    disk_write_bytes = serializers.IntegerField()
    net_rx_bytes = serializers.IntegerField()
    net_tx_bytes = serializers.IntegerField()


class VMLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    platform = serializers.URLField()
    metrics = serializers.URLField()
    snapshots = serializers.URLField()
    labels = serializers.URLField()
    power = serializers.URLField(help_text="POST to start, shut down, reboot or force off")


class VMSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    platform = serializers.CharField(source="platform.name", read_only=True)
    domain_uuid = serializers.UUIDField(read_only=True)
    state = NamedChoiceField(VMState, read_only=True)
    managed = serializers.BooleanField(
        read_only=True, help_text="Created by VM Persona (its metadata says so)"
    )
    profile = serializers.CharField(
        source="profile_version.policy.name", allow_null=True, read_only=True, default=None
    )
    profile_version = serializers.IntegerField(
        source="profile_version.number", allow_null=True, read_only=True, default=None
    )
    content_hash = serializers.CharField(read_only=True)
    execution_flags = serializers.ListField(child=serializers.CharField(), read_only=True)
    labels = LabelsField(read_only=True)
    vcpus = serializers.IntegerField(read_only=True)
    memory_mib = serializers.IntegerField(read_only=True)
    first_seen = serializers.DateTimeField(read_only=True)
    last_seen = serializers.DateTimeField(allow_null=True, read_only=True)
    links = serializers.SerializerMethodField()

    @extend_schema_field(VMLinksSerializer)
    def get_links(self, vm) -> dict:
        request = self.context.get("request")
        return {
            "self": api_url(request, "vm-detail", pk=vm.pk),
            "platform": api_url(request, "platform-detail", name=vm.platform.name),
            "metrics": api_url(request, "vm-metrics", pk=vm.pk),
            "snapshots": api_url(request, "vm-snapshots", pk=vm.pk),
            "labels": api_url(request, "vm-labels", pk=vm.pk),
            "power": api_url(request, "vm-power", pk=vm.pk),
        }


class VMDetailSerializer(VMSerializer):
    metadata = serializers.JSONField(read_only=True, help_text="VM Persona's domain metadata")
    latest_metrics = serializers.SerializerMethodField()

    @extend_schema_field(MetricSampleSerializer(allow_null=True))
    def get_latest_metrics(self, vm) -> dict | None:
        sample = self.context.get("latest_sample")
        return MetricSampleSerializer(sample).data if sample is not None else None


class VMListQuerySerializer(serializers.Serializer):
    platform = serializers.CharField(required=False, allow_blank=True, help_text="Platform name")
    state = NamedChoiceField(VMState, required=False, allow_blank=True)
    managed = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="false: only unmanaged VMs"
    )
    search = serializers.CharField(required=False, allow_blank=True, help_text="Part of the name")
    label = serializers.CharField(required=False, allow_blank=True, help_text=SELECTOR_HELP)


class MetricsQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=1000, default=120, help_text="Newest N samples"
    )
