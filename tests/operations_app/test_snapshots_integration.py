"""Snapshots of a real VM: taken with its memory, kept per the retention, and a
rollback that returns the guest to what it held, keeping the state it left."""

from __future__ import annotations

import pytest

from operations_app import hypervisor as hv
from operations_app.models import JobStatus, OperationJob, SnapshotOrigin, VMSnapshot
from operations_app.services import decommissions as decommission_services
from operations_app.services import snapshots as snapshot_services
from operations_app.tasks import run_job

from .test_clone_integration import libvirt_leftovers
from .test_migrate_integration import _clone_with, _read_marker, _remove_everywhere, _write_marker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.one_engine,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def vm_on_a(users, testbed_platforms):
    host_a = testbed_platforms["host-a"]
    name = "sn-vm-1"
    try:
        yield _clone_with(users, host_a, name, "10.231.0.67/24", []), host_a
    finally:
        _remove_everywhere(testbed_platforms.values(), name)


def _run(job) -> OperationJob:
    status = run_job(job.pk)
    job = OperationJob.objects.get(pk=job.pk)
    assert status == JobStatus.SUCCEEDED, (job.error, [(s.name, s.output) for s in job.steps.all()])
    return job


def test_snapshot_rollback_and_retention(users, vm_on_a, settings):
    settings.VMPERSONA_SNAPSHOT_RETENTION = 3
    vm, host_a = vm_on_a
    operator = users["operator"]
    _write_marker(host_a, vm.name, b"first\n")
    job = _run(snapshot_services.job_request_snapshot(user=operator, vm=vm, description="first"))
    first = VMSnapshot.objects.get(pk=job.result["snapshot_id"])
    assert first.with_memory and first.vm_state == "running" and first.kind == "internal"

    _write_marker(host_a, vm.name, b"second\n")
    job = _run(snapshot_services.job_request_rollback(user=operator, vm=vm, snapshot=first))
    assert _read_marker(host_a, vm.name) == b"first\n"
    with hv.Hypervisor.connect(host_a.uri) as conn:
        assert conn.domains.state(vm.name) == hv.DomainState.RUNNING
    safety = VMSnapshot.objects.get(name=job.result["safety"])
    assert safety.origin == SnapshotOrigin.BEFORE_ROLLBACK and safety.present

    # Returning to the safety snapshot brings back what the rollback replaced.
    _run(snapshot_services.job_request_rollback(user=operator, vm=vm, snapshot=safety))
    assert _read_marker(host_a, vm.name) == b"second\n"

    # Retention: only the newest three are kept, in libvirt and in the listing.
    _run(snapshot_services.job_request_snapshot(user=operator, vm=vm))
    present = list(snapshot_services.vm_snapshots(vm=vm))
    assert len(present) == 3
    with hv.Hypervisor.connect(host_a.uri) as conn:
        names = {s.name for s in conn.snapshots.list(vm.name)}
    assert names == {s.name for s in present}
    first.refresh_from_db()
    assert first.removed_at is not None and "retention" in first.removed_reason

    destroy = decommission_services.job_request_decommission(user=operator, vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=destroy.pk).error
    assert not snapshot_services.vm_snapshots(vm=vm).exists()
    assert libvirt_leftovers(host_a, vm.name) == []
