"""What libvirt reports for a platform's host, as the API presents it: the shape of
``Capabilities.to_dict()``, the effective capabilities and the utilisation."""

from __future__ import annotations

from rest_framework import serializers


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
