"""The health watch on real QEMU: a migration whose application stops answering a few
seconds into the watch goes back to its source (verified there, the target torn down,
administrators told); a migration whose watch passes removes the source only then."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from operations_app import hypervisor as hv
from operations_app.models import JobStatus, ManagedVM, Notification, OperationJob, VMState
from operations_app.services import clones as clone_services
from operations_app.services import decommissions as decommission_services
from operations_app.services import migrations as migration_services
from operations_app.services import watch as watch_services
from operations_app.tasks import run_job

from .test_clone_integration import approved_version, clone_document, libvirt_leftovers
from .test_migrate_integration import (  # noqa: F401 - fixtures
    _read_marker,
    _why,
    _write_marker,
    cleanup,
    hosts,
    pc_hosts,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.one_engine,
    pytest.mark.django_db(transaction=True),
]

STATUS_PAGE = {
    "name": "status-page",
    "version": "1.0",
    "install": {
        "method": "files",
        "files": [
            {"path": "/srv/status/index.html", "content": "status: ok\n"},
            {
                "path": "/etc/init.d/S80status-page",
                "mode": "0755",
                "content": "#!/bin/sh\n/bin/busybox httpd -p 127.0.0.1:8080 -h /srv/status\n",
            },
        ],
        "then": "/etc/init.d/S80status-page\n",
    },
    "verify": {
        "command": ["/bin/sh", "-c", "test -x /etc/init.d/S80status-page && echo installed"],
        "expect_output_contains": "installed",
    },
}


def watched_clone(users, platform, name: str, address: str, *, period_s: int) -> ManagedVM:
    doc = clone_document(name)
    del doc["resource_allocation"]["limits"]["memory_hard_limit_mib"]
    doc["network_configuration"]["interfaces"][0]["ipv4"]["address"] = address
    doc["application_manifest"].append(STATUS_PAGE)
    doc["health_watch"] = {
        "period_s": period_s,
        "interval_s": 2,
        "failures_to_revert": 2,
        "checks": [
            {
                "name": "status page",
                "http": {"url": "http://127.0.0.1:8080/", "expect_body_contains": "status: ok"},
                "timeout_s": 5,
            }
        ],
    }
    version = approved_version(users, doc)
    job = clone_services.job_request_clone(
        user=users["operator"], version=version, platform=platform, vm_name=name
    )
    assert run_job(job.pk) == JobStatus.SUCCEEDED, _why(job)
    # the clone itself was watched, and its status page answered every round
    rounds = [e.payload for e in job.events.filter(kind="health")]
    assert rounds and all(r["passed"] for r in rounds), rounds
    assert "status page" in [c["name"] for c in rounds[0]["checks"]]
    return ManagedVM.objects.get(name=name)


def run_in_thread(job) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def work():
        try:
            outcome["status"] = run_job(job.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


def wait_until_watching(job, *, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = OperationJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        if status == JobStatus.WATCHING:
            return
        assert status not in (JobStatus.ROLLED_BACK, JobStatus.FAILED, JobStatus.ERRORED), _why(job)
        time.sleep(0.2)
    raise AssertionError(f"the migration never started watching: {_why(job)}")


def test_a_failing_health_check_during_the_watch_moves_the_vm_back(users, pc_hosts, cleanup):  # noqa: F811
    host_a, host_b = pc_hosts  # a cold move: the source stays stopped on its own disks
    name = "hw-back-1"
    cleanup.append(name)
    vm = watched_clone(users, host_a, name, "10.231.0.71/24", period_s=20)
    _write_marker(host_a, name, b"before the move\n")

    job = migration_services.job_request_migrate(user=users["operator"], vm=vm, target=host_b)
    thread, outcome = run_in_thread(job)
    try:
        wait_until_watching(job)
        job.refresh_from_db()
        # however slow the rounds are on a busy machine, the watch outlasts the failure
        watch_services.job_watch_extend(user=users["operator"], job=job, minutes=10)
        with hv.Hypervisor.connect(host_a.uri) as conn:
            assert conn.domains.state(name) == hv.DomainState.SHUTOFF  # kept, stopped
        time.sleep(3)  # a few seconds into the watch, the status page breaks on host-b
        with hv.Hypervisor.connect(host_b.uri) as conn:
            gone = conn.agent.exec(name, ["/bin/rm", "/srv/status/index.html"], timeout=30)
            assert gone.exit_code == 0, gone.stderr_text
    finally:
        thread.join(timeout=900)
    assert outcome.get("status") == JobStatus.ROLLED_BACK, _why(job)
    job.refresh_from_db()
    assert "Health watch: status page failed 2 round(s) in a row" in job.error
    assert job.failing_check == "/health_watch/checks/0"
    # back on host-a, started again from its disks, and answering as before the move
    with hv.Hypervisor.connect(host_a.uri) as conn:
        assert conn.domains.state(name) == hv.DomainState.RUNNING
    assert job.result["back_on_source"]["failed"] == 0, job.result["back_on_source"]
    logs = [e.payload.get("message", "") for e in job.events.filter(kind="log")]
    assert any(f"{name} is back on {host_a.name}" in m and "health checks pass" in m for m in logs)
    assert _read_marker(host_a, name) == b"before the move\n"
    assert libvirt_leftovers(host_b, name) == []
    assert job.resources.filter(removed_at__isnull=True, released_at__isnull=True).count() == 0
    vm.refresh_from_db()
    assert vm.platform == host_a
    note = Notification.objects.filter(recipient=users["admin"], job=job, severity="error").first()
    assert note is not None and "status page" in note.message

    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, _why(destroy)
    assert libvirt_leftovers(host_a, name) == []


def test_a_passing_watch_removes_the_source_only_when_it_ends(users, hosts, cleanup):  # noqa: F811
    host_a, host_b = hosts  # a live move
    name = "hw-pass-1"
    cleanup.append(name)
    vm = watched_clone(users, host_a, name, "10.231.0.72/24", period_s=12)
    _write_marker(host_a, name, b"moved live\n")

    job = migration_services.job_request_migrate(
        user=users["operator"], vm=vm, target=host_b, params={"migrate_uri": "tcp://127.0.0.1"}
    )
    thread, outcome = run_in_thread(job)
    try:
        wait_until_watching(job)
        # during the watch the VM runs on host-b and host-a keeps its definition, stopped
        with hv.Hypervisor.connect(host_a.uri) as conn:
            assert conn.domains.exists(name)
            assert conn.domains.state(name) == hv.DomainState.SHUTOFF
        with hv.Hypervisor.connect(host_b.uri) as conn:
            assert conn.domains.state(name) == hv.DomainState.RUNNING
    finally:
        thread.join(timeout=900)
    assert outcome.get("status") == JobStatus.SUCCEEDED, _why(job)
    job.refresh_from_db()
    assert job.result["watch"]["outcome"] == "passed"
    assert [s.name for s in job.steps.order_by("index")][-3:] == ["verify", "watch", "cutover"]
    rounds = [e.payload for e in job.events.filter(kind="health")]
    assert len(rounds) >= 2 and all(r["passed"] for r in rounds)
    assert libvirt_leftovers(host_a, name) == []
    assert _read_marker(host_b, name) == b"moved live\n"
    vm.refresh_from_db()
    assert vm.platform == host_b and vm.state == VMState.RUNNING

    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, _why(destroy)
    assert libvirt_leftovers(host_b, name) == []
