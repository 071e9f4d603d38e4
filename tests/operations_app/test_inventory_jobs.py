"""The inventory and the jobs that make and move VMs: a periodic sync must not record a
domain a job is still working on, and a migration's cutover must leave one row per VM.

The platforms use libvirt's ``test:///default`` driver, whose running domain "test" is
the domain a job is pretending to make or move.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from operations_app import hypervisor as hv
from operations_app.models import (
    JobKind,
    JobResource,
    JobStatus,
    ManagedVM,
    OperationJob,
    ResourceKind,
    VMMetricSample,
    VMState,
)
from operations_app.services import inventory as inventory_services
from operations_app.services import platforms as platform_services
from tests.operations_app.job_support import approved_version, clone_job, make_platform, managed_vm

pytestmark = pytest.mark.django_db


def _the_test_domain(platform) -> hv.DomainInfo:
    with platform_services.platform_connect(platform, timeout=10) as conn:
        return conn.domains.lookup("test")


def _end(job: OperationJob, *, at) -> None:
    OperationJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, finished_at=at)


def test_a_domain_a_clone_is_making_is_left_to_the_clone(users):
    lab = make_platform("lab")
    job = clone_job(users, vm_name="test", platform=lab)
    # Queued, it has made nothing yet: the sync records what is there as usual.
    result = inventory_services.inventory_sync(platform=lab)
    assert result.held == [] and result.added == ["test"]
    ManagedVM.objects.filter(name="test").delete()

    OperationJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    JobResource.objects.create(job=job, platform=lab, kind=ResourceKind.DOMAIN, identifier="test")

    result = inventory_services.inventory_sync(platform=lab)
    assert result.reachable and result.held == ["test"] and result.added == []
    assert not ManagedVM.objects.filter(name="test").exists()

    # Once the job has ended, the next sync records whatever is there.
    _end(job, at=timezone.now() - timedelta(minutes=1))
    result = inventory_services.inventory_sync(platform=lab)
    assert result.held == [] and result.added == ["test"]


def test_the_source_of_a_running_migration_is_left_to_the_migration(users):
    version = approved_version(users)
    lab = make_platform("lab")
    target = make_platform("target")
    domain = _the_test_domain(lab)
    vm = managed_vm(version, lab, "test", domain_uuid=uuid.UUID(domain.uuid), vcpus=99)
    job = OperationJob.objects.create(
        kind=JobKind.MIGRATE,
        status=JobStatus.RUNNING,
        profile_version=version,
        platform=target,
        source_platform=lab,
        vm=vm,
        vm_name="test",
    )

    result = inventory_services.inventory_sync(platform=lab)
    assert result.held == ["test"]
    vm.refresh_from_db()
    assert (vm.vcpus, vm.state, vm.platform) == (99, VMState.RUNNING, lab)

    # A migration that ended while the sync was reading the host still holds it: the
    # domains listed may be from before its cutover.
    _end(job, at=timezone.now() + timedelta(seconds=30))
    assert inventory_services.inventory_sync(platform=lab).held == ["test"]

    _end(job, at=timezone.now() - timedelta(seconds=30))
    result = inventory_services.inventory_sync(platform=lab)
    assert result.held == []
    vm.refresh_from_db()
    assert vm.vcpus == domain.vcpus


def test_a_moved_vm_replaces_the_row_a_sync_made_for_the_arriving_domain(users):
    version = approved_version(users)
    source = make_platform("source")
    target = make_platform("target")
    domain = _the_test_domain(target)
    vm = managed_vm(version, source, "test")
    found = ManagedVM.objects.create(
        platform=target, name="test", domain_uuid=uuid.UUID(domain.uuid), managed=True
    )
    VMMetricSample.objects.create(vm=found, at=timezone.now(), cpu_time_ns=1)

    inventory_services.inventory_vm_moved(vm_id=vm.pk, platform=target, info=domain)

    assert list(ManagedVM.objects.filter(name="test")) == [vm]
    vm.refresh_from_db()
    assert vm.platform == target and str(vm.domain_uuid) == domain.uuid
    assert vm.state == VMState.RUNNING and vm.vcpus == domain.vcpus
    assert vm.history.first().history_change_reason == "moved to target"
    assert not VMMetricSample.objects.exists()
