"""``manage.py persona clone|destroy|jobs|job``: output and exit status."""

from __future__ import annotations

import uuid

import pytest

from operations_app.management.job_cli import progress_bar
from operations_app.models import JobStatus, ManagedVM, OperationJob, VMState
from tests.operations_app.job_support import (
    approved_version,
    clone_job,
    drive,
    make_platform,
    persona,
    scripted_worker,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_cli_user")]


@pytest.fixture
def setup(users):
    return approved_version(users), make_platform()


# --- clone --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the task is handed to the queue on commit
def test_clone_queues_a_job_of_the_approved_version(users, setup):
    version, platform = setup
    code, out, err = persona(
        "clone", "--profile", "web", "--platform", "lab", "--name", "web-02", "--as", "operator"
    )
    assert code == 0, err
    job = OperationJob.objects.get(vm_name="web-02")
    assert out.strip() == f"job {job.pk} queued: clone web-02"
    # No worker runs in the test: the job waits in the queue.
    assert job.status == JobStatus.QUEUED and job.queue_task_id
    from django_q.models import OrmQ

    assert OrmQ.objects.count() == 1
    assert job.profile_version == version and job.requested_by == users["operator"]


def test_clone_needs_to_know_who_asks(users, setup, monkeypatch):
    args = ["clone", "--profile", "web", "--platform", "lab", "--name", "web-02"]
    code, _, err = persona(*args)
    assert code == 2 and "--as USER" in err and "VMPERSONA_CLI_USER" in err
    monkeypatch.setenv("VMPERSONA_CLI_USER", "operator")
    code, out, _ = persona(*args)
    assert code == 0 and "queued" in out
    assert OperationJob.objects.get().requested_by == users["operator"]
    code, _, err = persona(*args[:-1], "web-03", "--as", "nobody")
    assert code == 3 and "No active user named 'nobody'" in err


def test_clone_errors(users, setup):
    base = ["clone", "--platform", "lab", "--as", "operator"]
    code, _, err = persona(*base, "--profile", "web", "--name", "Bad_Name")
    assert code == 1 and err.startswith("vm_name: lowercase letters")
    code, _, err = persona(*base, "--profile", "nope", "--name", "x")
    assert code == 1 and "profile: no profile named 'nope'" in err
    code, _, err = persona(*base, "--profile", "web", "--version", "9", "--name", "x")
    assert code == 1 and "version: web has no version 9" in err
    code, _, err = persona(
        "clone", "--profile", "web", "--platform", "lab", "--name", "x", "--as", "viewer"
    )
    assert code == 3 and "operators" in err
    assert not OperationJob.objects.exists()


def test_wait_on_a_job_that_already_ended(users, setup):
    version, platform = setup
    ok = drive(clone_job(users, vm_name="ok", version=version, platform=platform))
    code, out, err = persona("job", str(ok.pk), "--wait", "--interval", "0")
    assert code == 0, err
    assert f"job {ok.pk} succeeded in" in out

    bad = drive(
        clone_job(users, vm_name="bad", version=version, platform=platform), outcome="fail_check"
    )
    code, out, err = persona("job", str(bad.pk), "--wait", "--interval", "0")
    assert code == 4
    assert f"Job {bad.pk} rolled back: Verification failed: 1 of 5 checks" in err
    assert "Failing check: eth0 on network default (/network_configuration/interfaces/0)" in err


def test_wait_gives_up_after_the_timeout(users, setup):
    version, platform = setup
    job = clone_job(users, version=version, platform=platform)
    code, _, err = persona("job", str(job.pk), "--wait", "--timeout", "0.2", "--interval", "0.05")
    assert code == 5 and f"Job {job.pk} is still queued after 0.2s" in err


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("outcome", "code", "final"),
    [("succeed", 0, "succeeded"), ("fail_check", 4, "rolled back")],
)
def test_clone_wait_follows_the_job_as_a_worker_runs_it(users, setup, outcome, code, final):
    with scripted_worker(outcome, pause=0.05, vm_name="web-live") as started:
        got, out, err = persona(
            "clone",
            "--profile",
            "web",
            "--platform",
            "lab",
            "--name",
            "web-live",
            "--as",
            "operator",
            "--wait",
            "--interval",
            "0.05",
            "--timeout",
            "60",
        )
    assert started.is_set()
    assert got == code, (out, err)
    lines = out.splitlines()
    job = OperationJob.objects.get(vm_name="web-live")
    assert lines[0] == f"job {job.pk} queued: clone web-live"
    assert "status: running (worker started)" in lines
    assert "step 1: prepare - Check the platform and the base image" in lines
    assert "step 3: verify - Verify the VM against its profile" in lines
    assert "  ok prepare" in "\n".join(lines)
    assert any(line.startswith("[") and line.endswith("prepare") for line in lines)
    assert "  ! domain started; waiting for the guest agent" in lines  # warnings show
    assert "  - platform reachable" not in lines  # info needs -v 2
    if code == 0:
        assert lines[-1].startswith(f"job {job.pk} succeeded in")
        assert progress_bar(100) in out
    else:
        assert any("check FAIL [network] eth0 on network default" in line for line in lines)
        assert "  FAILED verify" in out
        assert f"Job {job.pk} {final}" in err and "Failing check:" in err


# --- destroy --------------------------------------------------------------------------------------


def test_destroy_queues_a_decommission(users, setup):
    version, platform = setup
    other = make_platform("lab2")
    vm = ManagedVM.objects.create(
        platform=platform, name="old", domain_uuid=uuid.uuid4(), state=VMState.RUNNING
    )
    ManagedVM.objects.create(platform=other, name="old", domain_uuid=uuid.uuid4())
    code, _, err = persona("destroy", "old", "--as", "operator")
    assert code == 1 and "several VMs are named 'old'; name the platform too" in err
    code, _, err = persona("destroy", "old", "--platform", "lab", "--as", "viewer")
    assert code == 3 and "may not decommission" in err
    code, out, err = persona("destroy", "old", "--platform", "lab", "--as", "operator")
    assert code == 0, err
    job = OperationJob.objects.get(kind="decommission")
    assert job.vm == vm and out.strip() == f"job {job.pk} queued: decommission old"
    code, _, err = persona("destroy", "ghost", "--as", "operator")
    assert code == 1 and "no VM named 'ghost'" in err


# --- jobs and job -----------------------------------------------------------------------------------


def test_jobs_lists_with_status_filter(users, setup):
    version, platform = setup
    ok = drive(clone_job(users, vm_name="ok-vm", version=version, platform=platform))
    queued = clone_job(users, vm_name="queued-vm", version=version, platform=platform)
    code, out, _ = persona("jobs")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "KIND", "STATUS"]
    assert lines[1].split()[:5] == [str(queued.pk), "clone", "queued", "0%", "queued-vm"]
    assert lines[2].split()[:5] == [str(ok.pk), "clone", "succeeded", "100%", "ok-vm"]
    _, out, _ = persona("jobs", "--status", "active")
    assert "queued-vm" in out and "ok-vm" not in out
    _, out, _ = persona("jobs", "--status", "succeeded", "--status", "failed")
    assert "ok-vm" in out and "queued-vm" not in out


def test_job_shows_details_steps_checks_and_events(users, setup):
    version, platform = setup
    bad = drive(
        clone_job(users, vm_name="bad", version=version, platform=platform), outcome="fail_check"
    )
    code, out, _ = persona("job", str(bad.pk))
    assert code == 0
    assert f"job:           #{bad.pk} clone bad" in out
    assert "status:        rolled_back" in out
    assert "profile:       web@1" in out
    assert "error:         Verification failed: 1 of 5 checks" in out
    assert "checks:        4 passed, 1 failed" in out
    assert "   3. verify" in out and "failed" in out
    assert "events:" not in out
    _, out, _ = persona("job", str(bad.pk), "--events")
    events = out.split("events:\n", 1)[1].splitlines()
    assert len(events) == bad.event_seq
    assert events[0].split()[0] == "1" and "queued" in events[0]
    code, _, err = persona("job", "999999")
    assert code == 3 and "No job #999999." in err


def test_job_cancel(users, setup):
    version, platform = setup
    job = clone_job(users, version=version, platform=platform)
    code, _, err = persona("job", "cancel", str(job.pk))
    assert code == 2 and "--as USER" in err
    code, _, err = persona("job", "cancel", str(job.pk), "--as", "viewer")
    assert code == 3 and "Only operators or the job's requester" in err
    code, out, _ = persona("job", "cancel", str(job.pk), "--as", "operator")
    assert code == 0 and out.strip() == f"job {job.pk}: cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled"
    code, _, err = persona("job", "cancel", str(job.pk), "--as", "operator")
    assert code == 3 and "already ended" in err


def test_job_usage_errors(users, setup):
    assert persona("job", "cancel")[0] == 2
    assert persona("job", "frobnicate")[0] == 2
    assert persona("job", "1", "2")[0] == 2


def test_progress_bar():
    assert progress_bar(0) == "[" + "." * 30 + "]   0%"
    assert progress_bar(50) == "[" + "#" * 15 + "." * 15 + "]  50%"
    assert progress_bar(140) == "[" + "#" * 30 + "] 100%"
