"""The VM inventory and its metrics samples."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from operations_app.advisories.exposure import dotted
from operations_app.api.serializers.common import NamedChoiceField, api_url
from operations_app.api.serializers.labels import SELECTOR_HELP, LabelsField
from operations_app.models import VMState
from operations_app.selectors.advisories import vm_older_qemu


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


class RunningQemuSerializer(serializers.Serializer):
    version = serializers.CharField(help_text="The QEMU version its process runs: 7.2.0")
    package = serializers.CharField(help_text="QEMU's build string: Debian 1:7.2+dfsg-7+deb12u6")
    installed = serializers.CharField(
        allow_null=True, help_text="The QEMU version installed on its platform"
    )
    older = serializers.BooleanField(
        help_text="Older than the installed one: a restart or a move picks up the installed one"
    )


class QemuAdvisorySerializer(serializers.Serializer):
    advisory = serializers.CharField()
    cvss = serializers.FloatField(allow_null=True)


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
    running_qemu = serializers.SerializerMethodField(
        help_text="The QEMU its process runs, read at the inventory sync once per start; "
        "null while it does not run or was not read"
    )
    links = serializers.SerializerMethodField()

    @extend_schema_field(RunningQemuSerializer(allow_null=True))
    def get_running_qemu(self, vm) -> dict | None:
        record = vm.running_qemu or {}
        if vm.state != VMState.RUNNING or not record.get("version"):
            return None
        older = vm_older_qemu(vm)
        return {
            "version": record["version"],
            "package": record.get("package") or "",
            "installed": dotted((vm.platform.capabilities or {}).get("hypervisor_version")) or None,
            "older": older is not None,
        }

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
    older_qemu_advisories = serializers.SerializerMethodField(
        help_text="When its QEMU process is older than the installed one: the advisories "
        "that one is exposed to that its platform is not (a restart or a move fixes them)"
    )

    @extend_schema_field(QemuAdvisorySerializer(many=True))
    def get_older_qemu_advisories(self, vm) -> list[dict]:
        older = self.context.get("older_qemu")
        return list(older["advisories"]) if older else []

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
