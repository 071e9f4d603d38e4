"""The production path end to end: a real django-q2 worker process picks up a clone
job from the queue and runs it; a worker killed half-way leaves nothing behind once
the reaper has run, and the job says what happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from operations_app import hypervisor as hv
from operations_app.models import TERMINAL_STATUSES, JobStatus, OperationJob
from operations_app.services import clones as clone_services
from operations_app.services import migrations as migration_services
from operations_app.services import reaper as reaper_services
from operations_app.services.resources import remove_volume
from tests.operations_app.test_clone_integration import (
    approved_version,
    clone_document,
    libvirt_leftovers,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _worker_env() -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL", "VMPERSONA_Q_SYNC")
    }
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        env["VMPERSONA_SQLITE_PATH"] = settings["NAME"]
    else:
        env["DATABASE_URL"] = (
            f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
        )
    env["VMPERSONA_WORKERS"] = "1"
    env["VMPERSONA_TESTING"] = "1"
    return env


def _start_worker() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        cwd=ROOT,
        env=_worker_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture
def worker():
    """A django-q2 cluster on the test database, stopped (by its pid) afterwards."""
    proc = _start_worker()
    yield proc
    _stop_group(proc)


@pytest.fixture
def late_worker():
    """Starts a django-q2 cluster when called (after set-up that runs jobs in-process)."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        started.append(_start_worker())
        return started[-1]

    yield start
    for proc in started:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop the cluster and every worker it forked (they share its process group)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break  # the whole group is gone, with its database connections
        time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cleanup_vm(testbed_platforms):
    names: list[str] = []
    yield names
    platform = testbed_platforms["host-a"]
    with hv.Hypervisor.connect(platform.uri) as conn:
        for name in names:
            conn.domains.delete(name, missing_ok=True)
            for vol in conn.storage.volume_list(platform.storage_pool):
                if vol.name.startswith(name + "-"):
                    remove_volume(conn, platform.storage_pool, vol.name)
            conn.nwfilters.undefine(hv.filter_name_for(name), missing_ok=True)


def test_a_worker_process_runs_the_queued_clone(users, testbed_platforms, worker, cleanup_vm):
    platform = testbed_platforms["host-a"]
    version = approved_version(users, clone_document("wk-web"))
    cleanup_vm.append("wk-web-1")
    job = clone_services.job_request_clone(
        user=users["operator"], version=version, platform=platform, vm_name="wk-web-1"
    )
    done = _wait(
        lambda: OperationJob.objects.filter(pk=job.pk, status__in=TERMINAL_STATUSES).first(),
        600,
        "the worker to finish the clone",
    )
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.worker and done.queue_task_id
    assert done.checks.filter(passed=False).count() == 0


def test_a_killed_worker_leaves_nothing_once_reaped(users, testbed_platforms, worker, cleanup_vm):
    platform = testbed_platforms["host-a"]
    version = approved_version(users, clone_document("wk-kill"))
    cleanup_vm.append("wk-kill-1")
    job = clone_services.job_request_clone(
        user=users["operator"], version=version, platform=platform, vm_name="wk-kill-1"
    )
    # Kill it while it waits for the freshly booted guest: it has made a domain and a
    # root disk by then, and nothing of libvirt's is half-way through.
    _wait(
        lambda: (
            job.steps.filter(name="base_image").exists()
            and libvirt_leftovers(platform, "wk-kill-1")
        ),
        600,
        "the clone to boot its domain",
    )
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    assert libvirt_leftovers(platform, "wk-kill-1"), "the killed job had made a domain"
    # The worker's process is gone: the reaper ends the job and removes what it made.
    # The periodic reaper runs every minute; here it is called until the killed worker
    # process has fully exited (a process tearing down for a moment still exists).
    _wait(lambda: reaper_services.jobs_reap() == [job.pk], 60, "the reaper to end the job")
    job.refresh_from_db()
    assert job.status == JobStatus.ROLLED_BACK
    assert "stopped responding" in job.error
    assert libvirt_leftovers(platform, "wk-kill-1") == []


@pytest.fixture
def move_cleanup(testbed_platforms):
    from tests.operations_app.test_migrate_integration import _remove_everywhere

    names: list[str] = []
    yield names
    for name in names:
        _remove_everywhere(testbed_platforms.values(), name)


@pytest.mark.parametrize("mode", ["cold", "live"])
def test_a_worker_killed_mid_migration_leaves_the_source_running_once_reaped(
    users, testbed_platforms, late_worker, move_cleanup, mode
):
    """Killed while moving the VM (the source shut down for a cold move, the live
    migration under way for a live one): the reaper lets the migration libvirt carries on
    end (moving the VM back if it arrived), removes what the job made on host B and
    leaves the VM running on host A with its data, free for the next operation."""
    from operations_app.models import ManagedVM
    from operations_app.services import platforms as platform_services
    from tests.operations_app.test_migrate_integration import (
        _clone_with,
        _read_marker,
        _write_marker,
    )

    host_a, host_b = testbed_platforms["host-a"], testbed_platforms["host-b"]
    host_a = platform_services.platform_update(
        platform=host_a, constraints={"machine_types": ["q35"]}
    )
    name = f"wk-mig-{mode}"
    move_cleanup.append(name)
    address = "10.231.0.68/24" if mode == "cold" else "10.231.0.69/24"
    vm = _clone_with(users, host_a, name, address, [])  # runs in this process
    _write_marker(host_a, name, b"before the kill\n")
    worker = late_worker()  # picks up the migration from the queue

    job = migration_services.job_request_migrate(
        user=users["operator"],
        vm=vm,
        target=host_b,
        mode=mode,
        params={"migrate_uri": "tcp://127.0.0.1"},
    )
    if mode == "cold":
        _wait(
            lambda: (OperationJob.objects.get(pk=job.pk).result or {}).get("source_stopped"),
            600,
            "the cold move to shut the source down",
        )
    else:
        _wait(
            lambda: job.events.filter(kind="transfer").exists(),
            600,
            "the live migration to start moving data",
        )
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()

    # The periodic reaper runs every minute; here it is called until the killed worker
    # process has fully exited (a process tearing down for a moment still exists).
    _wait(lambda: reaper_services.jobs_reap() == [job.pk], 60, "the reaper to end the job")
    job.refresh_from_db()
    assert job.status == JobStatus.ROLLED_BACK, job.error
    assert "stopped responding" in job.error
    assert not [
        e.payload["message"]
        for e in job.events.filter(kind="log")
        if "could not check" in e.payload["message"]
    ]
    assert libvirt_leftovers(host_b, name) == []
    with hv.Hypervisor.connect(host_a.uri) as conn:
        assert conn.domains.state(name) == hv.DomainState.RUNNING
        conn.agent.wait_for_agent(name, timeout=300)
    assert _read_marker(host_a, name) == b"before the kill\n"
    assert ManagedVM.objects.get(name=name).platform == host_a
    # libvirt has let go of the domain: it can be changed right away.
    with hv.Hypervisor.connect(host_a.uri) as conn:
        conn.domains.set_metadata(name, conn.domains.get_metadata(name))
