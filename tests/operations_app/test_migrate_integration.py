"""Migration on the two-host testbed: a running cloned VM moves live from host A to host
B with what its disks hold, and a failure after the move leaves it running on host A."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest

from operations_app import hypervisor as hv
from operations_app.models import JobStatus, ManagedVM, Notification, OperationJob, VMState
from operations_app.runners.base import StepFailed
from operations_app.services import clones as clone_services
from operations_app.services import decommissions as decommission_services
from operations_app.services import inventory as inventory_services
from operations_app.services import jobs as job_services
from operations_app.services import migrations as migration_services
from operations_app.services import platforms as platform_services
from operations_app.services import reaper as reaper_services
from operations_app.tasks import run_job

from .test_clone_integration import approved_version, clone_document, libvirt_leftovers

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MARKER = "/var/mg-marker"


def _delete_domain(conn, name: str, *, wait_s: float = 300) -> None:
    """Delete the domain; a migration call whose client was killed can hold libvirt's
    state-change lock on it for a while after the job was aborted, so wait that out."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.domains.delete(name, missing_ok=True)
            return
        except hv.OperationTimeout:
            if time.monotonic() >= deadline:
                raise
            time.sleep(5)


def _remove_everywhere(platforms, name: str) -> None:
    for platform in platforms:
        with hv.Hypervisor.connect(platform.uri) as conn:
            _delete_domain(conn, name)
            for vol in conn.storage.volume_list(platform.storage_pool):
                if vol.name.startswith(name + "-"):
                    conn.storage.volume_delete(
                        platform.storage_pool, vol.name, delete_secret=True, missing_ok=True
                    )
            conn.nwfilters.undefine(hv.filter_name_for(name), missing_ok=True)


@pytest.fixture
def hosts(testbed_platforms):
    """host-a narrowed to q35 machines like host-b, so a VM cloned there moves live."""
    a, b = testbed_platforms["host-a"], testbed_platforms["host-b"]
    a = platform_services.platform_update(platform=a, constraints={"machine_types": ["q35"]})
    return a, b


@pytest.fixture
def cleanup(testbed_platforms):
    names: list[str] = []
    yield names
    for name in names:
        _remove_everywhere(testbed_platforms.values(), name)


def _running_clone(
    users, platform, name: str, address: str, *, hard_limit: bool = False
) -> ManagedVM:
    doc = clone_document(name)
    if not hard_limit:
        # host-b lets no guest lock 1 GiB: a hard memory limit would block the move.
        del doc["resource_allocation"]["limits"]["memory_hard_limit_mib"]
    doc["network_configuration"]["interfaces"][0]["ipv4"]["address"] = address
    version = approved_version(users, doc)
    job = clone_services.job_request_clone(
        user=users["operator"], version=version, platform=platform, vm_name=name
    )
    assert run_job(job.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=job.pk).error
    return ManagedVM.objects.get(name=name)


def _write_marker(platform, name: str, text: bytes) -> None:
    with hv.Hypervisor.connect(platform.uri) as conn:
        conn.agent.file_write(name, MARKER, text)
        conn.agent.exec(name, ["/bin/busybox", "sync"], timeout=30)


def _read_marker(platform, name: str) -> bytes:
    with hv.Hypervisor.connect(platform.uri) as conn:
        return conn.agent.file_read(name, MARKER)


@contextmanager
def _inventory_syncing(*platforms, every_s: float = 0.3):
    """The periodic inventory sync, run far more often than in production, while the
    block runs."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop():
        from django.db import connection

        try:
            while not stop.is_set():
                for platform in platforms:
                    inventory_services.inventory_sync(platform=platform, sample_metrics=False)
                stop.wait(every_s)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(60)
    assert not errors, errors


def _why(job) -> str:
    job = OperationJob.objects.get(pk=job.pk)
    return f"{job.error} | {job.failing_check} | " + " / ".join(
        f"{s.name}: {s.output}" for s in job.steps.order_by("index")
    )


def test_live_migration_from_host_a_to_host_b(users, hosts, cleanup):
    host_a, host_b = hosts
    name = "mg-live-1"
    cleanup.append(name)
    vm = _running_clone(users, host_a, name, "10.231.0.61/24")
    _write_marker(host_a, name, b"written on host A\n")

    job = migration_services.job_request_migrate(
        user=users["operator"],
        vm=vm,
        target=host_b,
        params={"migrate_uri": "tcp://127.0.0.1"},
    )
    # The inventory is synced all along: the target's domain is the job's until cutover.
    with _inventory_syncing(host_a, host_b):
        assert run_job(job.pk) == JobStatus.SUCCEEDED, _why(job)
    job.refresh_from_db()
    assert job.result["path"] == "live"
    assert job.result["migration"]["downtime_ms"] is not None
    assert job.result["migration"]["data_processed_bytes"]
    checks = list(job.checks.all())
    assert checks and all(c.passed for c in checks), [c.name for c in checks if not c.passed]
    assert "live" in job.steps.get(name="restore").output

    # The guest on host B holds what was written on host A; host A has nothing left.
    assert _read_marker(host_b, name) == b"written on host A\n"
    with hv.Hypervisor.connect(host_b.uri) as conn:
        assert conn.domains.state(name) == hv.DomainState.RUNNING
        assert conn.domains.lookup(name).persistent
        info = conn.domains.lookup(name)
    assert libvirt_leftovers(host_a, name) == []
    vm.refresh_from_db()
    assert vm.platform == host_b and vm.state == VMState.RUNNING
    assert str(vm.domain_uuid) == info.uuid
    assert list(ManagedVM.objects.filter(name=name)) == [vm]

    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=destroy.pk).error
    assert libvirt_leftovers(host_b, name) == []


@pytest.mark.one_engine
def test_failure_after_the_move_leaves_the_source_running(users, hosts, cleanup, monkeypatch):
    from operations_app.runners.migrate import MigrateRunner

    real = MigrateRunner.step_restore

    def broken(self):
        real(self)  # the VM really moved: rollback has something to undo
        raise StepFailed("injected failure after restore")

    monkeypatch.setattr(MigrateRunner, "step_restore", broken)
    host_a, host_b = hosts
    name = "mg-back-1"
    cleanup.append(name)
    vm = _running_clone(users, host_a, name, "10.231.0.62/24")
    _write_marker(host_a, name, b"still here\n")

    job = migration_services.job_request_migrate(
        user=users["operator"],
        vm=vm,
        target=host_b,
        params={"migrate_uri": "tcp://127.0.0.1"},
    )
    assert run_job(job.pk) == JobStatus.ROLLED_BACK, OperationJob.objects.get(pk=job.pk).error
    job.refresh_from_db()
    assert "injected failure after restore" in job.error
    logs = [e.payload.get("message", "") for e in job.events.filter(kind="log")]
    assert any("moved back live" in m for m in logs), logs
    assert job.resources.filter(removed_at__isnull=True, released_at__isnull=True).count() == 0
    assert libvirt_leftovers(host_b, name) == []
    with hv.Hypervisor.connect(host_a.uri) as conn:
        assert conn.domains.state(name) == hv.DomainState.RUNNING
        conn.agent.wait_for_agent(name, timeout=300)
    assert _read_marker(host_a, name) == b"still here\n"
    vm.refresh_from_db()
    assert vm.platform == host_a
    assert Notification.objects.filter(recipient=users["admin"], job=job, severity="error").exists()

    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=destroy.pk).error
    assert libvirt_leftovers(host_a, name) == []


@pytest.mark.one_engine
def test_unresolved_difference_stops_before_anything_is_made(users, hosts, cleanup):
    host_a, host_b = hosts
    name = "mg-block-1"
    cleanup.append(name)
    vm = _running_clone(users, host_a, name, "10.231.0.63/24", hard_limit=True)
    with hv.Hypervisor.connect(host_a.uri) as conn:
        uuid_before = conn.domains.lookup(name).uuid

    job = migration_services.job_request_migrate(user=users["operator"], vm=vm, target=host_b)
    assert run_job(job.pk) == JobStatus.ROLLED_BACK
    job.refresh_from_db()
    assert "Unresolved differences block the migration" in job.error
    assert "memory hard limit" in job.error
    assert not job.steps.filter(name__in=["provision", "restore"]).exists()
    assert libvirt_leftovers(host_b, name) == []
    with hv.Hypervisor.connect(host_a.uri) as conn:
        info = conn.domains.lookup(name)
        assert info.state == hv.DomainState.RUNNING and info.uuid == uuid_before
    vm.refresh_from_db()
    assert vm.platform == host_a

    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=destroy.pk).error
    assert libvirt_leftovers(host_a, name) == []


@pytest.fixture
def pc_hosts(testbed_platforms):
    """host-a narrowed to i440fx ("pc") machines: a clone there has a machine type that
    host-b (q35 only) does not take, so moving it needs a new definition."""
    a, b = testbed_platforms["host-a"], testbed_platforms["host-b"]
    a = platform_services.platform_update(platform=a, constraints={"machine_types": ["pc"]})
    return a, b


def _clone_with(users, platform, name: str, address: str, fixes: list[dict]) -> ManagedVM:
    doc = clone_document(name)
    del doc["resource_allocation"]["limits"]["memory_hard_limit_mib"]
    doc["network_configuration"]["interfaces"][0]["ipv4"]["address"] = address
    doc["fixes"] = fixes
    version = approved_version(users, doc)
    job = clone_services.job_request_clone(
        user=users["operator"], version=version, platform=platform, vm_name=name
    )
    assert run_job(job.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=job.pk).error
    return ManagedVM.objects.get(name=name)


@pytest.mark.one_engine
def test_cold_migration_with_adaptation_and_a_profile_fix(users, pc_hosts, cleanup):
    host_a, host_b = pc_hosts
    name = "mg-cold-1"
    cleanup.append(name)
    fixes = [
        {
            "id": "mark-adapted",
            "description": "Leave a note in the guest once it runs on the new machine type.",
            "applies_to": {"kind": "machine_type"},
            "action": {
                "type": "guest_command",
                "command": ["/bin/sh", "-c", "echo adapted > /var/mg-adapted"],
                "when": "after_cutover",
            },
        }
    ]
    vm = _clone_with(users, host_a, name, "10.231.0.64/24", fixes)
    with hv.Hypervisor.connect(host_a.uri) as conn:
        assert "q35" not in (conn.domains.spec(name).machine or "")
    _write_marker(host_a, name, b"cold move\n")

    # The dry run shows the decision the job will take, and changes nothing.
    from operations_app.services.migrations import migration_preview

    plan = migration_preview(user=users["operator"], vm=vm, target=host_b, mode="auto")
    assert plan["ready"] and plan["path"] == "cold", plan["verdict"]
    assert "mark-adapted" in [f["fix_id"] for f in plan["fixes"]]
    assert any(d["kind"] == "machine_type" for d in plan["differences"])
    assert any(line.startswith("+") and "q35" in line for line in plan["xml_diff"])
    live = migration_preview(user=users["operator"], vm=vm, target=host_b, mode="live")
    assert not live["ready"] and "live migration was requested" in live["refused"]
    assert libvirt_leftovers(host_b, name) == []
    with hv.Hypervisor.connect(host_a.uri) as conn:
        assert conn.domains.state(name) == hv.DomainState.RUNNING

    job = migration_services.job_request_migrate(user=users["operator"], vm=vm, target=host_b)
    assert run_job(job.pk) == JobStatus.SUCCEEDED, _why(job)
    job.refresh_from_db()
    assert job.result["path"] == "cold", job.result.get("path_reason")
    assert "machine" in job.result["path_reason"]
    fix_ids = [f["fix_id"] for f in job.result["adaptation"]["fixes"]]
    assert "mark-adapted" in fix_ids, fix_ids
    assert job.result["guest_commands_after"] == ["mark-adapted"]
    assert any("q35" in line for line in job.result["xml_diff"])
    assert job.result["migration"]["downtime_ms"] > 0
    assert job.result["migration"]["data_processed_bytes"] > 0
    checks = list(job.checks.all())
    assert checks and all(c.passed for c in checks), [c.name for c in checks if not c.passed]

    with hv.Hypervisor.connect(host_b.uri) as conn:
        assert "q35" in (conn.domains.spec(name).machine or "")
        assert conn.domains.state(name) == hv.DomainState.RUNNING
        assert conn.agent.file_read(name, "/var/mg-adapted") == b"adapted\n"
    assert _read_marker(host_b, name) == b"cold move\n"
    assert libvirt_leftovers(host_a, name) == []
    vm.refresh_from_db()
    assert vm.platform == host_b and vm.state == VMState.RUNNING

    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=destroy.pk).error
    assert libvirt_leftovers(host_b, name) == []


MIGRATE_STEPS = [
    "snapshot",
    "retrieve",
    "adapt",
    "provision",
    "restore",
    "adapt_guest",
    "verify",
    "cutover",
]


def _assert_source_intact(users, job, host_a, host_b, name: str, marker: bytes) -> None:
    job.refresh_from_db()
    assert job.status == JobStatus.ROLLED_BACK, (job.status, job.error)
    assert job.resources.filter(removed_at__isnull=True, released_at__isnull=True).count() == 0
    assert libvirt_leftovers(host_b, name) == [], job.error
    with hv.Hypervisor.connect(host_a.uri) as conn:
        assert conn.domains.state(name) == hv.DomainState.RUNNING, job.error
        conn.agent.wait_for_agent(name, timeout=300)
    assert _read_marker(host_a, name) == marker
    assert ManagedVM.objects.get(name=name).platform == host_a
    assert Notification.objects.filter(recipient=users["admin"], job=job, severity="error").exists()


@pytest.mark.one_engine
def test_a_failure_at_each_step_leaves_the_source_running_and_nothing_on_b(
    users, hosts, cleanup, monkeypatch
):
    """One VM, one migration attempt per step with a failure injected as that step
    starts (and, for the steps that change something, once it has done its work)."""
    from operations_app.runners.migrate import MigrateRunner

    host_a, host_b = hosts
    name = "mg-fail-1"
    cleanup.append(name)
    vm = _running_clone(users, host_a, name, "10.231.0.65/24")
    _write_marker(host_a, name, b"keep me\n")
    cases = [(step, "before") for step in MIGRATE_STEPS] + [
        ("provision", "after"),
        ("adapt_guest", "after"),
        ("verify", "after"),
    ]
    for step, when in cases:
        real = getattr(MigrateRunner, f"step_{step}")

        def broken(self, real=real, step=step, when=when):
            if when == "after":
                real(self)
            raise StepFailed(f"injected failure {when} {step}")

        with monkeypatch.context() as m:
            m.setattr(MigrateRunner, f"step_{step}", broken)
            job = migration_services.job_request_migrate(
                user=users["operator"],
                vm=vm,
                target=host_b,
                params={"migrate_uri": "tcp://127.0.0.1"},
            )
            assert run_job(job.pk) == JobStatus.ROLLED_BACK, (step, when, _why(job))
        assert f"injected failure {when} {step}" in OperationJob.objects.get(pk=job.pk).error
        _assert_source_intact(users, job, host_a, host_b, name, b"keep me\n")

    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=destroy.pk).error
    assert libvirt_leftovers(host_a, name) == []


@pytest.mark.one_engine
def test_a_failed_cold_move_starts_the_source_again_from_its_disks(
    users, pc_hosts, cleanup, monkeypatch
):
    from operations_app.runners.migrate import MigrateRunner

    real = MigrateRunner.step_verify

    def broken(self):
        real(self)
        raise StepFailed("injected failure after verify")

    monkeypatch.setattr(MigrateRunner, "step_verify", broken)
    host_a, host_b = pc_hosts
    name = "mg-coldback-1"
    cleanup.append(name)
    vm = _clone_with(users, host_a, name, "10.231.0.66/24", [])
    _write_marker(host_a, name, b"cold but safe\n")

    job = migration_services.job_request_migrate(user=users["operator"], vm=vm, target=host_b)
    assert run_job(job.pk) == JobStatus.ROLLED_BACK, _why(job)
    job.refresh_from_db()
    assert job.result["path"] == "cold" and job.result.get("source_stopped")
    logs = [e.payload.get("message", "") for e in job.events.filter(kind="log")]
    assert any("restarted on host-a from its disks" in m for m in logs), logs
    _assert_source_intact(users, job, host_a, host_b, name, b"cold but safe\n")

    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=destroy.pk).error
    assert libvirt_leftovers(host_a, name) == []


@pytest.mark.one_engine
def test_target_unreachable_after_the_move_fences_then_recovers(users, hosts, cleanup, monkeypatch):
    """Host B stops answering once the VM runs there: the rollback cannot stop it, so
    the source is not started as well (two copies of one VM); when host B answers
    again, the reaper's retry tears it down and starts the source from its disks."""
    from operations_app.runners.migrate import MigrateRunner

    host_a, host_b = hosts
    name = "mg-unreach-1"
    cleanup.append(name)
    vm = _running_clone(users, host_a, name, "10.231.0.70/24")
    _write_marker(host_a, name, b"fenced\n")
    real_connect = hv.Hypervisor.connect.__func__
    down = {"b": False}

    def connect(cls, uri, **kwargs):
        if down["b"] and uri == host_b.uri:
            raise hv.ConnectionFailed(f"cannot reach {uri}: connection refused (simulated)")
        return real_connect(cls, uri, **kwargs)

    monkeypatch.setattr(hv.Hypervisor, "connect", classmethod(connect))

    def unreachable(self):
        down["b"] = True
        raise hv.ConnectionFailed("host-b stopped answering (simulated)")

    monkeypatch.setattr(MigrateRunner, "step_adapt_guest", unreachable)
    job = migration_services.job_request_migrate(
        user=users["operator"], vm=vm, target=host_b, mode="cold"
    )
    assert run_job(job.pk) == JobStatus.FAILED, _why(job)
    job.refresh_from_db()
    assert "not restarted on host-a while it may still run on host-b" in job.error
    assert Notification.objects.filter(recipient=users["admin"], job=job, severity="error").exists()
    with hv.Hypervisor.connect(host_a.uri) as conn:
        assert conn.domains.state(name) == hv.DomainState.SHUTOFF  # fenced, not started
    with real_connect(hv.Hypervisor, host_b.uri) as conn:
        assert conn.domains.state(name) == hv.DomainState.RUNNING  # still there

    down["b"] = False  # host B answers again
    reaper_services.jobs_reap()
    assert libvirt_leftovers(host_b, name) == []
    with hv.Hypervisor.connect(host_a.uri) as conn:
        assert conn.domains.state(name) == hv.DomainState.RUNNING
        conn.agent.wait_for_agent(name, timeout=300)
    assert _read_marker(host_a, name) == b"fenced\n"
    logs = [e.payload.get("message", "") for e in job.events.filter(kind="log")]
    assert any("now removed" in m for m in logs), logs

    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=destroy.pk).error
    assert libvirt_leftovers(host_a, name) == []


def test_cancel_during_the_transfer_aborts_and_rolls_back(users, hosts, cleanup):
    """Cancelled while libvirt copies memory and disks (bandwidth held low so the
    transfer lasts): the migration is aborted, the VM keeps running on host A, nothing
    is left on host B."""
    import threading

    from django.db import connection

    host_a, host_b = hosts
    name = "mg-cancel-1"
    cleanup.append(name)
    vm = _running_clone(users, host_a, name, "10.231.0.71/24")
    _write_marker(host_a, name, b"still mine\n")
    job = migration_services.job_request_migrate(
        user=users["operator"],
        vm=vm,
        target=host_b,
        mode="live",
        params={"migrate_uri": "tcp://127.0.0.1", "bandwidth_mibps": 4},
    )
    outcome = {}

    def work():
        try:
            outcome["status"] = run_job(job.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    try:
        deadline = time.monotonic() + 300
        while not any(e.payload.get("done_bytes") for e in job.events.filter(kind="transfer")):
            assert time.monotonic() < deadline, "the transfer never started"
            assert worker.is_alive(), _why(job)
            time.sleep(0.2)
        job_services.job_cancel(user=users["operator"], job=job)
    finally:
        worker.join(600)
    assert outcome.get("status") == JobStatus.CANCELLED, _why(job)
    job.refresh_from_db()
    logs = [e.payload.get("message", "") for e in job.events.filter(kind="log")]
    assert not any("moved back live" in m for m in logs), "the move should have been aborted"
    moved = [e.payload for e in job.events.filter(kind="transfer")]
    assert any(p["total_bytes"] and p["done_bytes"] for p in moved), moved
    assert libvirt_leftovers(host_b, name) == []
    with hv.Hypervisor.connect(host_a.uri) as conn:
        assert conn.domains.state(name) == hv.DomainState.RUNNING
    assert _read_marker(host_a, name) == b"still mine\n"
    assert ManagedVM.objects.get(name=name).platform == host_a

    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=destroy.pk).error
    assert libvirt_leftovers(host_a, name) == []
