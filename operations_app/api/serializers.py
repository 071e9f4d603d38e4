"""Request and response shapes of the platforms, inventory and images API.

Serializers parse and present; what a platform may hold is checked by the services, so
the API, the pages, the admin and the CLI agree. Passwords in libvirt URIs are never
returned.
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from operations_app.hypervisor import redact_uri
from operations_app.models import KvmPolicy, Platform, PlatformStatus, SnapshotOrigin, VMState

API_NS = "operations-api"


def _platform_field(name: str) -> models.Field:
    field = Platform._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field


def _url(request, url_name: str, /, **kwargs) -> str:
    path = reverse(f"{API_NS}:{url_name}", kwargs=kwargs)
    return request.build_absolute_uri(path) if request is not None else path


class NamedChoiceField(serializers.ChoiceField):
    """A choice of a model's ``TextChoices``, documented as one enum component of that name.

    Several resources have a ``status`` or ``state`` with different choices; naming each
    choice set after its class keeps the API docs unambiguous.
    """

    def __init__(self, choices_class: type[models.TextChoices], **kwargs):
        self.choices_class = choices_class
        super().__init__(choices=choices_class.choices, **kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField

    def map_serializer_field(self, auto_schema, direction):
        choices = self.target.choices_class
        name = f"{choices.__name__}Enum"
        schema = {
            "type": "string",
            "enum": list(choices.values),
            "description": "\n".join(f"* `{v}` - {label}" for v, label in choices.choices),
        }
        auto_schema.registry.register_on_missing(
            ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name)
        )
        ref = {"$ref": f"#/components/schemas/{name}"}
        if self.target.read_only:
            return {"allOf": [ref], "readOnly": True}
        return ref


# --- Capabilities (the shape of Capabilities.to_dict()) -------------------------------


class MachineTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    canonical = serializers.CharField(allow_null=True, help_text="Set when `name` is an alias")
    max_cpus = serializers.IntegerField(allow_null=True)
    deprecated = serializers.BooleanField()


class HostCpuSerializer(serializers.Serializer):
    arch = serializers.CharField()
    model = serializers.CharField(allow_null=True)
    vendor = serializers.CharField(allow_null=True)
    features = serializers.ListField(child=serializers.CharField())
    sockets = serializers.IntegerField(allow_null=True)
    cores = serializers.IntegerField(allow_null=True)
    threads = serializers.IntegerField(allow_null=True)


class AcceleratorSerializer(serializers.Serializer):
    domain_type = serializers.CharField(help_text="libvirt domain type: kvm, qemu, ...")
    usable = serializers.BooleanField(help_text="Whether guests can really use it")
    reason = serializers.CharField()


class DomainTypeCapabilitiesSerializer(serializers.Serializer):
    domain_type = serializers.CharField()
    emulator = serializers.CharField(allow_null=True)
    machine = serializers.CharField(allow_null=True)
    max_vcpus = serializers.IntegerField(allow_null=True)
    cpu_modes = serializers.ListField(child=serializers.CharField())
    host_model = serializers.CharField(allow_null=True)
    cpu_models = serializers.ListField(child=serializers.CharField())
    disk_buses = serializers.ListField(child=serializers.CharField())
    nic_models = serializers.ListField(child=serializers.CharField())
    nic_models_reported = serializers.BooleanField()
    firmware = serializers.ListField(child=serializers.CharField())
    loaders = serializers.ListField(child=serializers.CharField())


class PoolInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    path = serializers.CharField(allow_null=True)
    active = serializers.BooleanField()
    autostart = serializers.BooleanField()
    persistent = serializers.BooleanField()
    uuid = serializers.CharField(allow_null=True)
    capacity_bytes = serializers.IntegerField()
    allocation_bytes = serializers.IntegerField()
    available_bytes = serializers.IntegerField()


class PortGroupSerializer(serializers.Serializer):
    name = serializers.CharField()
    vlan_tags = serializers.ListField(child=serializers.IntegerField())
    default = serializers.BooleanField()


class DhcpHostSerializer(serializers.Serializer):
    mac = serializers.CharField()
    ip = serializers.CharField()
    name = serializers.CharField(allow_null=True)


class NetworkInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    uuid = serializers.CharField(allow_null=True)
    bridge = serializers.CharField(allow_null=True)
    active = serializers.BooleanField()
    persistent = serializers.BooleanField()
    autostart = serializers.BooleanField()
    forward_mode = serializers.CharField(allow_null=True)
    openvswitch = serializers.BooleanField()
    portgroups = PortGroupSerializer(many=True)
    ipv4_address = serializers.CharField(allow_null=True)
    ipv4_prefix = serializers.IntegerField(allow_null=True)
    dhcp_hosts = DhcpHostSerializer(many=True)


class CapabilitiesSerializer(serializers.Serializer):
    """What libvirt reported for the host at the last refresh."""

    uri = serializers.CharField()
    hostname = serializers.CharField()
    driver = serializers.CharField()
    arch = serializers.CharField()
    libvirt_version = serializers.CharField()
    hypervisor_version = serializers.CharField(allow_null=True)
    host_uuid = serializers.CharField(allow_null=True)
    host_cpu = HostCpuSerializer()
    cpu_count = serializers.IntegerField()
    memory_mib = serializers.IntegerField()
    free_memory_mib = serializers.IntegerField()
    accelerators = AcceleratorSerializer(many=True)
    domain_type = serializers.CharField(help_text="The domain type guests are defined with")
    domain_types = serializers.DictField(child=DomainTypeCapabilitiesSerializer())
    machines = MachineTypeSerializer(many=True)
    emulator = serializers.CharField(allow_null=True)
    cpu_models = serializers.ListField(child=serializers.CharField())
    cpu_modes = serializers.ListField(child=serializers.CharField())
    disk_buses = serializers.ListField(child=serializers.CharField())
    nic_models = serializers.ListField(child=serializers.CharField())
    firmware = serializers.ListField(child=serializers.CharField())
    loaders = serializers.ListField(child=serializers.CharField())
    pools = PoolInfoSerializer(many=True)
    networks = NetworkInfoSerializer(many=True)
    openvswitch = serializers.BooleanField()
    migration_transports = serializers.ListField(child=serializers.CharField())


class EffectiveCapabilitiesSerializer(serializers.Serializer):
    """The reported capabilities narrowed by the platform's declared constraints."""

    machine_types = serializers.ListField(child=serializers.CharField())
    disk_buses = serializers.ListField(child=serializers.CharField())
    nic_models = serializers.ListField(child=serializers.CharField())
    accelerators = serializers.ListField(
        child=serializers.CharField(), help_text="Usable domain types"
    )
    cpu_modes = serializers.ListField(child=serializers.CharField())
    firmware = serializers.ListField(child=serializers.CharField())
    max_vcpus = serializers.IntegerField(allow_null=True)
    max_memory_mib = serializers.IntegerField(allow_null=True)


class UtilisationSerializer(serializers.Serializer):
    vcpus_allocated = serializers.IntegerField(help_text="vCPUs of the VMs not shut off")
    vcpus_total = serializers.IntegerField(help_text="Host CPUs (0: not read yet)")
    memory_allocated_mib = serializers.IntegerField()
    memory_total_mib = serializers.IntegerField()
    memory_free_mib = serializers.IntegerField()


# --- Platforms ------------------------------------------------------------------------


class PlatformLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    vms = serializers.URLField()
    refresh = serializers.URLField()
    sync = serializers.URLField()


class PlatformSerializer(serializers.Serializer):
    """A platform as annotated by ``platform_list``."""

    name = serializers.CharField(read_only=True)
    uri = serializers.SerializerMethodField(help_text="Passwords are replaced by ***")
    migration_uri = serializers.SerializerMethodField()
    description = serializers.CharField(read_only=True)
    site = serializers.CharField(read_only=True)
    region = serializers.CharField(read_only=True)
    enabled = serializers.BooleanField(read_only=True)
    status = NamedChoiceField(PlatformStatus, read_only=True)
    last_error = serializers.CharField(read_only=True)
    vm_count = serializers.IntegerField(read_only=True, help_text="VMs not gone")
    running_count = serializers.IntegerField(read_only=True)
    capabilities_refreshed_at = serializers.DateTimeField(allow_null=True, read_only=True)
    last_synced_at = serializers.DateTimeField(allow_null=True, read_only=True)
    links = serializers.SerializerMethodField()

    def get_uri(self, platform) -> str:
        return redact_uri(platform.uri)

    def get_migration_uri(self, platform) -> str:
        return redact_uri(platform.migration_uri) if platform.migration_uri else ""

    @extend_schema_field(PlatformLinksSerializer)
    def get_links(self, platform) -> dict:
        request = self.context.get("request")
        vms = _url(request, "vm-list")
        return {
            "self": _url(request, "platform-detail", name=platform.name),
            "vms": f"{vms}?platform={platform.name}",
            "refresh": _url(request, "platform-refresh", name=platform.name),
            "sync": _url(request, "platform-sync", name=platform.name),
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


class SyncResultSerializer(serializers.Serializer):
    platform = serializers.CharField()
    reachable = serializers.BooleanField()
    seen = serializers.IntegerField(help_text="Domains found")
    added = serializers.ListField(child=serializers.CharField(), help_text="New VMs")
    gone = serializers.ListField(child=serializers.CharField(), help_text="VMs no longer there")
    samples = serializers.IntegerField(help_text="Metric samples taken")
    error = serializers.CharField(help_text="Why the platform could not be reached")


# --- VMs ------------------------------------------------------------------------------


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
    vcpus = serializers.IntegerField(read_only=True)
    memory_mib = serializers.IntegerField(read_only=True)
    first_seen = serializers.DateTimeField(read_only=True)
    last_seen = serializers.DateTimeField(allow_null=True, read_only=True)
    links = serializers.SerializerMethodField()

    @extend_schema_field(VMLinksSerializer)
    def get_links(self, vm) -> dict:
        request = self.context.get("request")
        return {
            "self": _url(request, "vm-detail", pk=vm.pk),
            "platform": _url(request, "platform-detail", name=vm.platform.name),
            "metrics": _url(request, "vm-metrics", pk=vm.pk),
            "snapshots": _url(request, "vm-snapshots", pk=vm.pk),
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


class MetricsQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=1000, default=120, help_text="Newest N samples"
    )


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


# --- Base images ----------------------------------------------------------------------


class ImageLocationSerializer(serializers.Serializer):
    platform = serializers.CharField(source="platform.name")
    path = serializers.CharField(help_text="Path of the image file as the platform's host sees it")


class BaseImageSerializer(serializers.Serializer):
    image_id = serializers.CharField(help_text="What base_image_id in a VPPD names")
    name = serializers.CharField()
    os = serializers.CharField()
    format = serializers.CharField()
    checksum = serializers.CharField(help_text="sha256 of the image file")
    virtual_size_bytes = serializers.IntegerField()
    min_vcpus = serializers.IntegerField()
    min_memory_mib = serializers.IntegerField()
    direct_boot = serializers.BooleanField(help_text="Boots a kernel directly (no boot loader)")
    kernel = serializers.CharField()
    initrd = serializers.CharField()
    cmdline = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    locations = ImageLocationSerializer(many=True)
