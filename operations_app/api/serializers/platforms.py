"""Platforms: how they are listed, shown, created and changed. Passwords in libvirt URIs
are never returned."""

from __future__ import annotations

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from operations_app.api.serializers.capabilities import (
    CapabilitiesSerializer,
    EffectiveCapabilitiesSerializer,
    UtilisationSerializer,
)
from operations_app.api.serializers.common import NamedChoiceField, api_url
from operations_app.api.serializers.labels import SELECTOR_HELP, LabelsField
from operations_app.api.serializers.maintenance import (
    PlatformMaintenanceSerializer,
    platform_maintenance,
)
from operations_app.hypervisor import redact_uri
from operations_app.models import HostMaintenance, KvmPolicy, Platform, PlatformStatus
from operations_app.selectors.maintenance import maintenance_list


def _platform_field(name: str) -> models.Field:
    field = Platform._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field


class PlatformLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    vms = serializers.URLField()
    refresh = serializers.URLField()
    sync = serializers.URLField()
    labels = serializers.URLField()
    maintenance = serializers.URLField()


class PlatformSerializer(serializers.Serializer):
    """A platform as annotated by ``platform_list``."""

    name = serializers.CharField(read_only=True)
    uri = serializers.SerializerMethodField(help_text="Passwords are replaced by ***")
    migration_uri = serializers.SerializerMethodField()
    description = serializers.CharField(read_only=True)
    site = serializers.CharField(read_only=True)
    region = serializers.CharField(read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    labels = LabelsField(read_only=True)
    status = NamedChoiceField(PlatformStatus, read_only=True)
    last_error = serializers.CharField(read_only=True)
    vm_count = serializers.IntegerField(read_only=True, help_text="VMs not gone")
    running_count = serializers.IntegerField(read_only=True)
    capabilities_refreshed_at = serializers.DateTimeField(allow_null=True, read_only=True)
    last_synced_at = serializers.DateTimeField(allow_null=True, read_only=True)
    maintenance = serializers.SerializerMethodField(
        help_text="Its current maintenance (entering or in); null: in service"
    )
    links = serializers.SerializerMethodField()

    def get_uri(self, platform) -> str:
        return redact_uri(platform.uri)

    def get_migration_uri(self, platform) -> str:
        return redact_uri(platform.migration_uri) if platform.migration_uri else ""

    def _maintenances(self) -> dict[int, HostMaintenance]:
        """Platform id -> its current maintenance, read once per answer."""
        if "maintenances" not in self.context:
            self.context["maintenances"] = {m.platform_id: m for m in maintenance_list(active=True)}
        return self.context["maintenances"]

    @extend_schema_field(PlatformMaintenanceSerializer(allow_null=True))
    def get_maintenance(self, platform) -> dict | None:
        return platform_maintenance(self._maintenances().get(platform.pk))

    @extend_schema_field(PlatformLinksSerializer)
    def get_links(self, platform) -> dict:
        request = self.context.get("request")
        vms = api_url(request, "vm-list")
        return {
            "self": api_url(request, "platform-detail", name=platform.name),
            "vms": f"{vms}?platform={platform.name}",
            "refresh": api_url(request, "platform-refresh", name=platform.name),
            "sync": api_url(request, "platform-sync", name=platform.name),
            "labels": api_url(request, "platform-labels", name=platform.name),
            "maintenance": api_url(request, "platform-maintenance", name=platform.name),
        }


class CostsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    vcpu_hour = serializers.DecimalField(max_digits=10, decimal_places=5, source="cost_vcpu_hour")
    ram_gib_hour = serializers.DecimalField(
        max_digits=10, decimal_places=5, source="cost_ram_gib_hour"
    )
    storage_gib_month = serializers.DecimalField(
        max_digits=10, decimal_places=5, source="cost_storage_gib_month"
    )


class PlatformDetailSerializer(PlatformSerializer):
    storage_pool = serializers.CharField(read_only=True)
    networks = serializers.ListField(child=serializers.CharField(), read_only=True)
    vlan_networks = serializers.DictField(
        child=serializers.CharField(), read_only=True, help_text="VLAN id to libvirt network"
    )
    kvm = NamedChoiceField(KvmPolicy, read_only=True)
    constraints = serializers.JSONField(read_only=True, help_text="Declared constraints")
    costs = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()
    effective_capabilities = serializers.SerializerMethodField()
    utilisation = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(CostsSerializer)
    def get_costs(self, platform) -> dict:
        return CostsSerializer(platform).data

    @extend_schema_field(CapabilitiesSerializer(allow_null=True))
    def get_capabilities(self, platform) -> dict | None:
        return platform.capabilities or None

    @extend_schema_field(EffectiveCapabilitiesSerializer)
    def get_effective_capabilities(self, platform) -> dict:
        return self.context["effective_capabilities"]

    @extend_schema_field(UtilisationSerializer)
    def get_utilisation(self, platform) -> dict:
        return self.context["utilisation"]


class PlatformWriteSerializer(serializers.Serializer):
    """Settings of a platform; the services check them (URI scheme, constraints, VLANs)."""

    uri = serializers.CharField(max_length=_platform_field("uri").max_length)
    migration_uri = serializers.CharField(
        max_length=_platform_field("migration_uri").max_length,
        required=False,
        allow_blank=True,
    )
    description = serializers.CharField(required=False, allow_blank=True)
    site = serializers.CharField(max_length=100, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    storage_pool = serializers.CharField(max_length=100, required=False)
    networks = serializers.ListField(child=serializers.CharField(), required=False)
    vlan_networks = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text='VLAN id to libvirt network, e.g. {"100": "persona-vlan-100"}',
    )
    kvm = NamedChoiceField(KvmPolicy, required=False)
    constraints = serializers.JSONField(
        required=False,
        help_text="Declared constraints: machine_types, disk_buses, nic_models, accelerators, "
        "cpu_modes, firmware (lists), max_vcpus, max_memory_mib, notes.",
    )
    currency = serializers.CharField(
        max_length=3,
        required=False,
        validators=_platform_field("currency").validators,
        help_text="ISO 4217 code",
    )
    cost_vcpu_hour = serializers.DecimalField(
        max_digits=10, decimal_places=5, min_value=0, required=False
    )
    cost_ram_gib_hour = serializers.DecimalField(
        max_digits=10, decimal_places=5, min_value=0, required=False
    )
    cost_storage_gib_month = serializers.DecimalField(
        max_digits=10, decimal_places=5, min_value=0, required=False
    )


class PlatformCreateSerializer(PlatformWriteSerializer):
    name = serializers.CharField(
        max_length=63, help_text="Lowercase letters, digits and dashes; cannot be changed"
    )


class PlatformUpdateSerializer(PlatformWriteSerializer):
    uri = serializers.CharField(max_length=_platform_field("uri").max_length, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give at least one setting to change.")
        return attrs


class PlatformListQuerySerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False, allow_blank=True, help_text="Part of the name, URI, site or region"
    )
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)
    label = serializers.CharField(required=False, allow_blank=True, help_text=SELECTOR_HELP)


class SyncResultSerializer(serializers.Serializer):
    platform = serializers.CharField()
    reachable = serializers.BooleanField()
    seen = serializers.IntegerField(help_text="Domains found")
    added = serializers.ListField(child=serializers.CharField(), help_text="New VMs")
    gone = serializers.ListField(child=serializers.CharField(), help_text="VMs no longer there")
    samples = serializers.IntegerField(help_text="Metric samples taken")
    held = serializers.ListField(
        child=serializers.CharField(), help_text="Domains left to the jobs working on them"
    )
    secrets_supplied = serializers.ListField(
        child=serializers.CharField(),
        help_text="Volumes whose (ephemeral) secret was supplied again from the key store",
    )
    secret_problems = serializers.ListField(
        child=serializers.CharField(), help_text="Volume secrets that could not be supplied"
    )
    error = serializers.CharField(help_text="Why the platform could not be reached")
