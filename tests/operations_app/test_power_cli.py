"""``manage.py persona power VM start|shutdown|reboot|force-off``: queueing, refusals and
their exit status, and ``--wait`` following a real power job on libvirt's test driver
(a thread plays the worker)."""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager

import pytest
from django.db import connection

from operations_app import hypervisor as hv
from operations_app.hypervisor.domains.lifecycle import DomainLifecycle
from operations_app.models import JobKind, JobStatus, OperationJob, VMState
from operations_app.tasks import run_job
from tests.operations_app.job_support import (
    TEST_URI,
    approved_version,
    managed_vm,
    persona,
    unmanaged_vm,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_cli_user")]


@pytest.fixture
def vm(users, lab):
    return managed_vm(approved_version(users, "pw-web"), lab[0], "pw-web-1")


@pytest.mark.parametrize(
    "typed, action, state",
    [
        ("start", "start", VMState.SHUTOFF),
        ("shutdown", "shutdown", VMState.RUNNING),
        ("reboot", "reboot", VMState.RUNNING),
        ("force-off", "force_off", VMState.RUNNING),
    ],
)
def test_power_queues_a_job(users, lab, vm, typed, action, state):
    vm.state = state
    vm.save(update_fields=["state"])
    code, out, err = persona("power", "pw-web-1", typed, "--as", "operator")
    assert code == 0, err
    job = OperationJob.objects.get()
    assert out.strip() == f"job {job.pk} queued: power pw-web-1 ({typed}) on lab-a"
    assert job.kind == JobKind.POWER and job.status == JobStatus.QUEUED
    assert job.params == {"action": action} and job.vm == vm
    assert job.requested_by == users["operator"]


def test_power_takes_an_id_a_platform_and_the_user_from_the_environment(
    users, lab, vm, monkeypatch
):
    monkeypatch.setenv("VMPERSONA_CLI_USER", "operator")
    unmanaged_vm(lab[1], "pw-web-1")
    code, _, err = persona("power", "pw-web-1", "shutdown")
    assert code == 1 and "several VMs are named 'pw-web-1'; name the platform too" in err
    code, _, err = persona("power", "pw-web-1", "shutdown", "--platform", "lab-a")
    assert code == 0, err
    OperationJob.objects.all().delete()
    code, _, err = persona("power", str(vm.pk), "reboot")
    assert code == 0, err
    assert OperationJob.objects.get().vm == vm


def test_power_errors_and_refusals(users, lab, vm):
    code, _, err = persona("power", "pw-web-1", "halt", "--as", "operator")
    assert code != 0 and "invalid choice: 'halt'" in err
    code, _, err = persona("power", "ghost", "start", "--as", "operator")
    assert code == 1 and err.strip() == "vm: no VM named 'ghost' in the inventory"
    code, _, err = persona("power", "pw-web-1", "shutdown")
    assert code == 2 and "--as USER" in err
    code, _, err = persona("power", "pw-web-1", "shutdown", "--as", "viewer")
    assert code == 3 and err.strip() == (
        "viewer may not start or stop VMs: this needs the 'operators' role."
    )
    code, _, err = persona("power", "pw-web-1", "start", "--as", "operator")
    assert code == 3 and err.strip() == "pw-web-1 is already running."
    assert not OperationJob.objects.exists()

    assert persona("power", "pw-web-1", "shutdown", "--as", "operator")[0] == 0
    job = OperationJob.objects.get()
    code, _, err = persona("power", "pw-web-1", "force-off", "--as", "operator")
    assert code == 3 and err.strip() == (
        f"VM 'pw-web-1' already has an active job (#{job.pk}, power, queued); "
        "wait for it or cancel it."
    )


# --- --wait, with a real power job on the test driver -----------------------------------------


@pytest.fixture
def domain_vm(users, lab):
    """A managed VM whose running domain is on libvirt's test driver (removed after).
    The connection stays open meanwhile: the driver forgets what was defined once its
    last connection in the process closes."""
    name = f"pw-{uuid.uuid4().hex[:8]}"
    with hv.Hypervisor.connect(TEST_URI, timeout=10) as conn:
        conn.domains.define(
            hv.DomainSpec(
                name=name,
                memory_mib=128,
                boot=hv.BootSpec(kernel="/boot/vmlinuz"),
                metadata=hv.DomainMetadata(profile="pw-web", profile_version=1, job_id="1"),
            )
        )
        info = conn.domains.start(name)
        yield managed_vm(
            approved_version(users, "pw-wait"), lab[0], name, domain_uuid=uuid.UUID(info.uuid)
        )
        conn.domains.delete(name, missing_ok=True)


@contextmanager
def worker(vm_name: str):
    """A thread that runs the power job on ``vm_name`` once it is queued, as a worker."""

    def work():
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                job = OperationJob.objects.filter(vm_name=vm_name, kind=JobKind.POWER).first()
                if job is not None:
                    run_job(job.pk)
                    return
                time.sleep(0.05)
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_wait_follows_the_job_until_the_vm_is_off(users, lab, domain_vm):
    with worker(domain_vm.name):
        code, out, err = persona(
            "power", domain_vm.name, "shutdown", "--as", "operator", "--wait", "--interval", "0.05"
        )
    assert code == 0, err + out
    job = OperationJob.objects.get(kind=JobKind.POWER)
    lines = out.splitlines()
    assert lines[0] == f"job {job.pk} queued: power {domain_vm.name} (shutdown) on lab-a"
    assert "step 2: shutdown - Press the guest's ACPI power button" in lines
    assert "step 3: wait - Wait for the guest to power off" in lines
    assert lines[-1].startswith(f"job {job.pk} succeeded in ")
    with hv.Hypervisor.connect(TEST_URI, timeout=10) as conn:
        assert conn.domains.state(domain_vm.name) == hv.DomainState.SHUTOFF
    domain_vm.refresh_from_db()
    assert domain_vm.state == VMState.SHUTOFF


@pytest.mark.django_db(transaction=True)
def test_wait_exits_4_when_the_guest_ignores_the_power_button(
    users, lab, domain_vm, monkeypatch, settings
):
    settings.VMPERSONA_POWER_SHUTDOWN_TIMEOUT_S = 1
    monkeypatch.setattr(DomainLifecycle, "request_shutdown", lambda self, name, **kw: True)
    with worker(domain_vm.name):
        code, out, err = persona(
            "power", domain_vm.name, "shutdown", "--as", "operator", "--wait", "--interval", "0.05"
        )
    job = OperationJob.objects.get(kind=JobKind.POWER)
    assert code == 4, out
    assert err.strip() == (
        f"Job {job.pk} failed: {domain_vm.name} did not shut down within 1 s of its ACPI power "
        "button being pressed; it is still running. Nothing was forced: force it off if it "
        "must stop now.\n"
        f"Failing check: graceful shutdown: {domain_vm.name} still running after 1 s"
    )
    with hv.Hypervisor.connect(TEST_URI, timeout=10) as conn:
        assert conn.domains.state(domain_vm.name) == hv.DomainState.RUNNING
