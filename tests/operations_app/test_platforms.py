"""Platforms, capabilities and inventory through the services (libvirt's test driver)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from operations_app.constraints import effective_capabilities
from operations_app.models import ManagedVM, Platform, VMState
from operations_app.services import inventory as inventory_services
from operations_app.services import platforms as svc

pytestmark = pytest.mark.django_db

TEST_URI = "test:///default"


def _paths(exc: ValidationError) -> list[str]:
    return [e.params["path"] for e in exc.error_list]


def test_create_validates_uri_costs_vlans_and_constraints():
    with pytest.raises(ValidationError) as info:
        svc.platform_create(
            name="bad",
            uri="http://example.invalid/",
            cost_vcpu_hour="-1",
            vlan_networks={"5000": "x"},
            constraints={"disk_buses": ["floppy"], "colour": "red"},
        )
    paths = _paths(info.value)
    assert "uri" in paths
    assert "cost_vcpu_hour" in paths
    assert "vlan_networks/5000" in paths
    assert "constraints/disk_buses/0" in paths
    assert "constraints" in paths or any(p.startswith("constraints") for p in paths)
    assert not Platform.objects.exists()


def test_duplicate_name_is_refused():
    svc.platform_create(name="lab", uri=TEST_URI)
    with pytest.raises(ValidationError, match="already exists"):
        svc.platform_create(name="lab", uri=TEST_URI)


def test_refresh_records_capabilities_of_the_test_driver():
    platform = svc.platform_create(name="lab", uri=TEST_URI, kvm="avoid")
    platform = svc.platform_refresh(platform=platform)
    assert platform.status == "ok", platform.last_error
    caps = platform.capabilities
    assert caps["arch"] and caps["cpu_count"] > 0
    assert caps["pools"], "the test driver has a default pool"
    assert platform.capabilities_refreshed_at is not None
    # Round-trips through the hypervisor layer's types.
    assert svc.platform_capabilities(platform).uri == TEST_URI


def test_unreachable_platform_is_recorded_not_raised():
    platform = svc.platform_create(
        name="gone", uri="qemu+unix:///system?socket=/nonexistent/libvirt-sock"
    )
    platform = svc.platform_refresh(platform=platform, timeout=5)
    assert platform.status == "unreachable"
    assert platform.last_error
    result = inventory_services.inventory_sync(platform=platform, timeout=5)
    assert not result.reachable and result.error


def test_inventory_sync_finds_unmanaged_domains_and_marks_gone():
    platform = svc.platform_create(name="lab", uri=TEST_URI)
    result = inventory_services.inventory_sync(platform=platform)
    assert result.reachable and result.seen >= 1
    vm = ManagedVM.objects.get(platform=platform, name="test")
    assert vm.managed is False
    assert vm.state == VMState.RUNNING
    assert vm.vcpus >= 1 and vm.memory_mib > 0
    # A second sync samples metrics again and keeps one row per domain.
    inventory_services.inventory_sync(platform=platform)
    assert ManagedVM.objects.filter(platform=platform, name="test").count() == 1
    assert vm.samples.count() >= 1
    # A domain the platform no longer reports is marked gone, not deleted.
    import uuid

    ghost = ManagedVM.objects.create(
        platform=platform, name="ghost", domain_uuid=uuid.uuid4(), state=VMState.RUNNING
    )
    inventory_services.inventory_sync(platform=platform)
    ghost.refresh_from_db()
    assert ghost.state == VMState.GONE


def test_effective_capabilities_are_narrowed_by_declared_constraints():
    caps = {
        "disk_buses": ["ide", "sata", "scsi", "virtio"],
        "nic_models": ["e1000", "rtl8139", "virtio"],
        "accelerators": [
            {"domain_type": "kvm", "usable": False},
            {"domain_type": "qemu", "usable": True},
        ],
        "machines": [{"name": "pc-i440fx-7.2"}, {"name": "pc-q35-7.2"}, {"name": "q35"}],
        "cpu_count": 2,
        "memory_mib": 24000,
    }
    constraints = {
        "disk_buses": ["virtio", "scsi"],
        "nic_models": ["virtio"],
        "machine_types": ["q35"],
        "max_vcpus": 8,
    }
    eff = effective_capabilities(caps, constraints)
    assert eff["disk_buses"] == ["scsi", "virtio"]
    assert eff["nic_models"] == ["virtio"]
    assert eff["accelerators"] == ["qemu"]
    assert eff["machine_types"] == ["pc-q35-7.2", "q35"]
    assert eff["max_vcpus"] == 2  # the host has fewer CPUs than the constraint allows
    assert eff["max_memory_mib"] == 24000
