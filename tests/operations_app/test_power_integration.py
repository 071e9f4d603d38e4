"""Power on real QEMU (host A of the testbed): a cloned tiny guest is shut down through its
ACPI power button, started again (its agent answers), rebooted (it answers with a new
boot id), forced off and decommissioned; the ``cleanup`` fixture removes whatever is left
on both hosts, also when a step fails."""

from __future__ import annotations

import pytest

from operations_app import hypervisor as hv
from operations_app.models import JobStatus, ManagedVM, OperationJob, VMState
from operations_app.services import clones as clone_services
from operations_app.services import decommissions as decommission_services
from operations_app.services import power as power_services
from operations_app.tasks import run_job

from .test_clone_integration import approved_version, clone_document, libvirt_leftovers
from .test_migrate_integration import _why, cleanup  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.integration,
    pytest.mark.one_engine,
    pytest.mark.django_db(transaction=True),
]


def power(users, vm: ManagedVM, action: str) -> OperationJob:
    """Request ``action`` as the operator, run the job as a worker would; it succeeds."""
    job = power_services.job_request_power(user=users["operator"], vm=vm, action=action)
    assert run_job(job.pk) == JobStatus.SUCCEEDED, _why(job)
    job.refresh_from_db()
    vm.refresh_from_db()
    return job


def state(platform, name: str) -> hv.DomainState:
    with hv.Hypervisor.connect(platform.uri) as conn:
        return conn.domains.state(name)


def boot_id(platform, name: str) -> str:
    with hv.Hypervisor.connect(platform.uri) as conn:
        return conn.agent.boot_id(name, timeout=30)


def test_shutdown_start_reboot_force_off_and_decommission(users, testbed_platforms, cleanup):  # noqa: F811
    platform = testbed_platforms["host-a"]
    name = "pw-cycle-1"
    cleanup.append(name)
    doc = clone_document(name)
    doc["network_configuration"]["interfaces"][0]["ipv4"]["address"] = "10.231.0.81/24"
    version = approved_version(users, doc)
    clone = clone_services.job_request_clone(
        user=users["operator"], version=version, platform=platform, vm_name=name
    )
    assert run_job(clone.pk) == JobStatus.SUCCEEDED, _why(clone)
    vm = ManagedVM.objects.get(name=name)
    assert vm.state == VMState.RUNNING
    first_boot = boot_id(platform, name)

    # A graceful shutdown: the guest's ACPI power button, and the guest powers off.
    job = power(users, vm, "shutdown")
    assert (
        job.steps.get(name="shutdown").output
        == "pressed the ACPI power button to power the guest off"
    )
    assert "powered off after" in job.steps.get(name="wait").output
    assert state(platform, name) == hv.DomainState.SHUTOFF
    assert vm.state == VMState.SHUTOFF and job.result["state"] == "shutoff"

    # Start: running again, and its guest agent answers (a new boot).
    job = power(users, vm, "start")
    assert "its guest agent answered" in job.steps.get(name="wait").output
    assert state(platform, name) == hv.DomainState.RUNNING
    assert vm.state == VMState.RUNNING
    with hv.Hypervisor.connect(platform.uri) as conn:
        assert conn.agent.ping(name)
    second_boot = boot_id(platform, name)
    assert second_boot and second_boot != first_boot

    # Reboot: the guest comes back with a boot id of its own.
    job = power(users, vm, "reboot")
    assert job.result["boot_id_before"] == second_boot
    third_boot = job.result["boot_id"]
    assert third_boot and third_boot != second_boot
    assert "restarted: its guest answered with a new boot id" in job.steps.get(name="wait").output
    assert state(platform, name) == hv.DomainState.RUNNING
    assert boot_id(platform, name) == third_boot
    assert vm.state == VMState.RUNNING

    # Force off: at once, without asking the guest.
    job = power(users, vm, "force_off")
    assert state(platform, name) == hv.DomainState.SHUTOFF
    assert vm.state == VMState.SHUTOFF

    # The power jobs are in the VM's history of jobs, each with its action.
    jobs = OperationJob.objects.filter(vm=vm, kind="power").order_by("pk")
    actions = [j.params["action"] for j in jobs]
    assert actions == ["shutdown", "start", "reboot", "force_off"]

    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, _why(destroy)
    assert libvirt_leftovers(platform, name) == []
    vm.refresh_from_db()
    assert vm.state == VMState.GONE
