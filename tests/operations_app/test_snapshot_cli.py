"""``manage.py persona snapshot``, ``rollback`` and ``snapshots``: queueing, listing, output
and exit status.

No host is contacted: requests are only queued (a scripted runner plays the worker for
``--wait``), and snapshots are rows made here.
"""

from __future__ import annotations

import json

import pytest

from operations_app.models import JobKind, JobStatus, OperationJob, SnapshotOrigin
from tests.operations_app.job_support import (
    approved_version,
    managed_vm,
    persona,
    scripted_worker,
    snapshot,
    unmanaged_vm,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_cli_user")]

SNAPSHOT = ("snapshot", "sn-web-1", "--as", "operator")


@pytest.fixture
def vm(users, lab):
    return managed_vm(approved_version(users, "sn-web"), lab[0], "sn-web-1")


# --- snapshot -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the task is handed to the queue on commit
def test_snapshot_queues_a_job(users, lab, vm):
    code, out, err = persona(
        "snapshot", "sn-web-1", "--description", "before the upgrade", "--as", "operator"
    )
    assert code == 0, err
    job = OperationJob.objects.get()
    assert out.strip() == f"job {job.pk} queued: take a snapshot sn-web-1 on lab-a"
    assert job.kind == JobKind.SNAPSHOT and job.status == JobStatus.QUEUED and job.queue_task_id
    assert job.vm == vm and job.platform == lab[0]
    assert job.params == {"description": "before the upgrade"}
    assert job.requested_by == users["operator"]


def test_snapshot_takes_an_id_and_the_user_from_the_environment(users, lab, vm, monkeypatch):
    monkeypatch.setenv("VMPERSONA_CLI_USER", "operator")
    code, out, err = persona("snapshot", str(vm.pk))
    assert code == 0, err
    job = OperationJob.objects.get()
    assert job.vm == vm and job.params == {"description": ""}
    assert job.requested_by == users["operator"]


def test_snapshot_errors_and_refusals(users, lab, vm):
    code, _, err = persona("snapshot", "sn-web-1", "--description", "x" * 301, "--as", "operator")
    assert code == 1 and err.strip() == "description: at most 300 characters, on one line"
    code, _, err = persona("snapshot", "ghost", "--as", "operator")
    assert code == 1 and err.strip() == "vm: no VM named 'ghost' in the inventory"
    code, _, err = persona("snapshot", "sn-web-1")
    assert code == 2 and "--as USER" in err
    code, _, err = persona("snapshot", "sn-web-1", "--as", "viewer")
    assert code == 3 and "may not take snapshots" in err and "operators" in err
    code, _, err = persona("snapshot", "sn-web-1", "--as", "nobody")
    assert code == 3 and "No active user named 'nobody'" in err
    assert not OperationJob.objects.exists()

    assert persona("snapshot", "sn-web-1", "--as", "operator")[0] == 0
    code, _, err = persona("snapshot", "sn-web-1", "--as", "operator")
    assert code == 3 and "already has an active job" in err


def test_a_vm_name_on_two_platforms_needs_its_platform(users, lab, vm):
    unmanaged_vm(lab[1], "sn-web-1")
    code, _, err = persona("snapshot", "sn-web-1", "--as", "operator")
    assert code == 1 and "several VMs are named 'sn-web-1'; name the platform too" in err
    code, _, err = persona("snapshot", "sn-web-1", "--platform", "lab-a", "--as", "operator")
    assert code == 0, err
    assert OperationJob.objects.get().vm == vm


def test_wait_gives_up_after_the_timeout(users, lab, vm):
    code, out, err = persona(*SNAPSHOT, "--wait", "--timeout", "0.2", "--interval", "0.05")
    job = OperationJob.objects.get()
    assert out.splitlines()[0] == f"job {job.pk} queued: take a snapshot sn-web-1 on lab-a"
    assert code == 5 and f"Job {job.pk} is still queued after 0.2s" in err


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("outcome", "code"), [("succeed", 0), ("fail_check", 4), ("error", 4)])
def test_wait_follows_the_job_and_exits_0_only_if_it_succeeded(users, lab, vm, outcome, code):
    with scripted_worker(outcome, vm_name="sn-web-1", kind=JobKind.SNAPSHOT) as started:
        got, out, err = persona(*SNAPSHOT, "--wait", "--interval", "0.05", "--timeout", "60")
    assert started.is_set()
    assert got == code, (out, err)
    job = OperationJob.objects.get()
    lines = out.splitlines()
    assert lines[0] == f"job {job.pk} queued: take a snapshot sn-web-1 on lab-a"
    assert "status: running (worker started)" in lines
    if code == 0:
        assert job.status == JobStatus.SUCCEEDED
        assert lines[-1].startswith(f"job {job.pk} succeeded in")
    else:
        assert job.status in (JobStatus.ROLLED_BACK, JobStatus.ERRORED)
        assert f"Job {job.pk} {job.get_status_display().lower()}" in err


# --- rollback -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_rollback_queues_a_job_by_snapshot_name(users, lab, vm):
    snap = snapshot(vm, "snap-1")
    code, out, err = persona("rollback", "sn-web-1", "snap-1", "--as", "operator")
    assert code == 0, err
    job = OperationJob.objects.get()
    assert out.strip() == f"job {job.pk} queued: roll back to snapshot sn-web-1@snap-1"
    assert job.kind == JobKind.ROLLBACK and job.status == JobStatus.QUEUED and job.queue_task_id
    assert job.params == {"snapshot": "snap-1", "snapshot_id": snap.pk}


def test_rollback_takes_a_snapshot_id(users, lab, vm):
    snap = snapshot(vm, "snap-1")
    code, out, err = persona("rollback", str(vm.pk), str(snap.pk), "--as", "operator")
    assert code == 0, err
    assert OperationJob.objects.get().params["snapshot_id"] == snap.pk


def test_rollback_errors_and_refusals(users, lab, vm):
    theirs = snapshot(managed_vm(vm.profile_version, lab[0], "sn-web-2"), "snap-theirs")
    snapshot(vm, "snap-old", removed="retention: kept the newest 3")
    snapshot(vm, "snap-b", platform=lab[1])
    snapshot(vm, "snap-1")
    base = ["rollback", "sn-web-1"]

    code, _, err = persona(*base, str(theirs.pk), "--as", "operator")
    assert code == 1 and err.strip() == "snapshot: snapshot is not one of sn-web-1's"
    code, _, err = persona(*base, "snap-theirs", "--as", "operator")
    assert code == 1 and err.strip() == "snapshot: sn-web-1 has no snapshot named 'snap-theirs'"
    code, _, err = persona(*base, "snap-old", "--as", "operator")
    assert code == 3 and "Snapshot snap-old was removed (retention: kept the newest 3)." in err
    code, _, err = persona(*base, "snap-b", "--as", "operator")
    assert code == 3 and "was taken on lab-b; sn-web-1 now runs on lab-a" in err
    code, _, err = persona(*base, "snap-1", "--as", "viewer")
    assert code == 3 and "may not roll VMs back" in err
    code, _, err = persona(*base, "--as", "operator")
    assert code != 0 and "snapshot" in err
    code, _, err = persona(*base, "snap-1")
    assert code == 2 and "--as USER" in err
    assert not OperationJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_rollback_wait_exits_4_when_the_job_fails(users, lab, vm):
    snapshot(vm, "snap-1")
    with scripted_worker("fail_check", vm_name="sn-web-1", kind=JobKind.ROLLBACK) as started:
        code, out, err = persona(
            "rollback", "sn-web-1", "snap-1", "--as", "operator", "--wait", "--interval", "0.05"
        )
    assert started.is_set()
    job = OperationJob.objects.get()
    assert code == 4 and f"Job {job.pk} rolled back" in err
    assert out.splitlines()[0] == f"job {job.pk} queued: roll back to snapshot sn-web-1@snap-1"


# --- snapshots ----------------------------------------------------------------------------------


def test_snapshots_prints_a_table_of_present_ones(users, lab, vm):
    job = OperationJob.objects.create(
        kind=JobKind.SNAPSHOT, platform=lab[0], vm=vm, vm_name=vm.name
    )
    snapshot(vm, "snap-1", with_memory=True, job=job, description="before the upgrade")
    snapshot(vm, "snap-0", removed="retention: kept the newest 3")
    snapshot(vm, "before-rollback-2", origin=SnapshotOrigin.BEFORE_ROLLBACK)
    snapshot(vm, "snap-b", platform=lab[1])

    code, out, err = persona("snapshots", "sn-web-1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "ORIGIN",
        "MEMORY",
        "VM",
        "STATE",
        "PLATFORM",
        "JOB",
        "CREATED",
        "DESCRIPTION",
    ]
    assert [line.split()[1] for line in lines[1:]] == ["snap-b", "before-rollback-2", "snap-1"]
    assert lines[1].split()[5:7] == ["lab-b", "(other)"]
    assert lines[2].split()[2:6] == ["before_rollback", "no", "running", "lab-a"]
    last = lines[3].split()
    assert last[2:7] == ["manual", "yes", "running", "lab-a", f"#{job.pk}"]
    assert lines[3].endswith("before the upgrade")
    assert "snap-0" not in out


def test_snapshots_all_includes_removed_ones(users, lab, vm):
    snapshot(vm, "snap-0", removed="retention: kept the newest 3")
    snapshot(vm, "snap-1")
    code, out, err = persona("snapshots", "sn-web-1", "--all")
    assert code == 0, err
    lines = out.splitlines()
    assert "REMOVED" in lines[0].split()
    assert [line.split()[1] for line in lines[1:]] == ["snap-1", "snap-0"]
    assert "(retention: kept the newest 3)" in lines[2]


def test_snapshots_as_json(users, lab, vm):
    snap = snapshot(vm, "snap-1", with_memory=True)
    snapshot(vm, "snap-0", removed="deleted on request")
    code, out, err = persona("snapshots", "sn-web-1", "--json")
    assert code == 0, err
    (item,) = json.loads(out)
    assert item["id"] == snap.pk and item["name"] == "snap-1" and item["with_memory"] is True
    assert item["platform"] == "lab-a" and item["origin"] == "manual"
    assert item["removed_at"] is None and item["job"] is None
    code, out, _ = persona("snapshots", str(vm.pk), "--json", "--all")
    assert [s["name"] for s in json.loads(out)] == ["snap-0", "snap-1"]
    assert json.loads(out)[0]["removed_reason"] == "deleted on request"


def test_snapshots_of_a_vm_without_any_and_of_an_unknown_vm(users, lab, vm):
    code, out, _ = persona("snapshots", "sn-web-1")
    assert code == 0 and out.strip() == "sn-web-1 has no present snapshots"
    code, out, _ = persona("snapshots", "sn-web-1", "--all")
    assert code == 0 and out.strip() == "sn-web-1 has no snapshots"
    code, out, _ = persona("snapshots", "sn-web-1", "--json")
    assert code == 0 and json.loads(out) == []
    code, _, err = persona("snapshots", "ghost")
    assert code == 1 and err.strip() == "vm: no VM named 'ghost' in the inventory"
