"""``manage.py persona migrate``: queueing, the dry run (``--plan``), output and exit status.

No host is contacted: requests are only queued (a scripted runner plays the worker for
``--wait``), and the dry run's plan is scripted.
"""

from __future__ import annotations

import json

import pytest

from operations_app.models import JobKind, JobStatus, OperationJob
from operations_app.services import migrations as migration_services
from tests.operations_app.job_support import (
    MACHINE_TYPE_DIFFERENCE,
    approved_version,
    make_platform,
    managed_vm,
    persona,
    scripted_worker,
    unmanaged_vm,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_cli_user")]

MIGRATE = ("migrate", "mg-web-1", "--to", "lab-b", "--as", "operator")


@pytest.fixture
def vm(users, lab):
    return managed_vm(approved_version(users, "mg-web"), lab[0], "mg-web-1")


# --- queueing -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the task is handed to the queue on commit
def test_migrate_queues_a_job(users, lab, vm):
    code, out, err = persona("migrate", "mg-web-1", "--to", "lab-b", "--as", "operator")
    assert code == 0, err
    job = OperationJob.objects.get()
    assert out.strip() == f"job {job.pk} queued: migrate mg-web-1 from lab-a to lab-b (auto)"
    assert job.kind == JobKind.MIGRATE and job.status == JobStatus.QUEUED and job.queue_task_id
    assert job.vm == vm and job.source_platform == lab[0] and job.platform == lab[1]
    assert job.params == {"mode": "auto"} and job.requested_by == users["operator"]


def test_migrate_takes_a_mode_ids_and_the_user_from_the_environment(users, lab, vm, monkeypatch):
    monkeypatch.setenv("VMPERSONA_CLI_USER", "operator")
    code, out, err = persona("migrate", str(vm.pk), "--to", str(lab[1].pk), "--mode", "cold")
    assert code == 0, err
    job = OperationJob.objects.get()
    assert out.strip().endswith("from lab-a to lab-b (cold)")
    assert job.params == {"mode": "cold"} and job.requested_by == users["operator"]


def test_migrate_errors_and_refusals(users, lab, vm):
    base = ["migrate", "mg-web-1", "--as", "operator"]
    code, _, err = persona(*base, "--to", "lab-a")
    assert code == 1 and err.strip() == "target: VM 'mg-web-1' already runs on lab-a."
    code, _, err = persona(*base, "--to", "mars")
    assert code == 1 and err.strip() == "target: no platform named 'mars'"
    code, _, err = persona("migrate", "ghost", "--to", "lab-b", "--as", "operator")
    assert code == 1 and err.strip() == "vm: no VM named 'ghost' in the inventory"
    code, _, err = persona(*base, "--to", "lab-b", "--mode", "warp")
    assert code != 0 and "invalid choice: 'warp'" in err

    code, _, err = persona("migrate", "mg-web-1", "--to", "lab-b")
    assert code == 2 and "--as USER" in err
    code, _, err = persona("migrate", "mg-web-1", "--to", "lab-b", "--as", "viewer")
    assert code == 3 and "may not migrate VMs" in err and "operators" in err
    code, _, err = persona(*base, "--to", "lab-b", "--json")
    assert code == 2 and "--json goes with --plan" in err
    code, _, err = persona(*base, "--to", "lab-b", "--plan", "--wait")
    assert code == 2 and "--plan queues no job" in err
    assert not OperationJob.objects.exists()


def test_a_vm_name_on_two_platforms_needs_from(users, lab, vm):
    unmanaged_vm(lab[1], "mg-web-1")
    make_platform("lab-c")
    base = ["migrate", "mg-web-1", "--to", "lab-c", "--as", "operator"]
    code, _, err = persona(*base)
    assert code == 1 and "several VMs are named 'mg-web-1'; name the platform too" in err
    code, out, err = persona(*base, "--from", "lab-a")
    assert code == 0, err
    assert OperationJob.objects.get().vm == vm


def test_wait_gives_up_after_the_timeout(users, lab, vm):
    code, out, err = persona(*MIGRATE, "--wait", "--timeout", "0.2", "--interval", "0.05")
    job = OperationJob.objects.get()
    assert out.splitlines()[0].startswith(f"job {job.pk} queued: migrate mg-web-1")
    assert code == 5 and f"Job {job.pk} is still queued after 0.2s" in err


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("outcome", "code"), [("succeed", 0), ("fail_check", 4)])
def test_wait_follows_the_job_and_exits_0_only_if_it_succeeded(users, lab, vm, outcome, code):
    with scripted_worker(outcome, vm_name="mg-web-1", kind=JobKind.MIGRATE) as started:
        got, out, err = persona(*MIGRATE, "--wait", "--interval", "0.05", "--timeout", "60")
    assert started.is_set()
    assert got == code, (out, err)
    job = OperationJob.objects.get()
    lines = out.splitlines()
    assert lines[0] == f"job {job.pk} queued: migrate mg-web-1 from lab-a to lab-b (auto)"
    assert "status: running (worker started)" in lines
    if code == 0:
        assert job.status == JobStatus.SUCCEEDED
        assert lines[-1].startswith(f"job {job.pk} succeeded in")
    else:
        assert job.status == JobStatus.ROLLED_BACK
        assert f"Job {job.pk} rolled back" in err and "Failing check:" in err


# --- dry run -------------------------------------------------------------------------------------


def a_plan(*, ready: bool = True) -> dict:
    difference = MACHINE_TYPE_DIFFERENCE
    return {
        "vm": "mg-web-1",
        "source": "lab-a",
        "target": "lab-b",
        "profile_version": "mg-web@1",
        "running": True,
        "requested_mode": "auto",
        "ready": ready,
        "verdict": (
            "Would move mg-web-1 cold: the target needs changes a live migration cannot make."
            if ready
            else "Blocked: disk sdb: lab-b has no SATA bus."
        ),
        "path": "cold" if ready else None,
        "path_reason": "the target needs changes a live migration cannot make" if ready else "",
        "refused": "",
        "ok": ready,
        "problems": [] if ready else ["disk sdb: lab-b has no SATA bus."],
        "cpu_compatible": True,
        "differences": [difference],
        "fixes": [
            {
                "fix_id": "builtin:machine-type",
                "description": "Land on the target's machine type",
                "action": {},
                "when": "definition",
                "differences": [difference],
                "changes": ["machine: pc-i440fx-7.2 -> pc-q35-7.2"],
            }
        ],
        "guest_commands_before": [],
        "guest_commands_after": [
            {
                "fix_id": "renumber-nics",
                "description": "Rename the NIC",
                "action": {
                    "type": "guest_command",
                    "command": ["/bin/sh", "-c", "ip link set eth0 up"],
                    "when": "after_cutover",
                    "timeout": 30,
                    "expect_exit_code": 0,
                },
                "when": "after_cutover",
                "differences": [],
                "changes": [],
            }
        ],
        "hardware_changes": ["machine type: pc-i440fx-7.2 -> pc-q35-7.2"],
        "notes": ["The VM is shut down while its disks are copied."],
        "disks": [
            {
                "volume": "mg-web-1.qcow2",
                "target": "vda",
                "capacity_bytes": 1 << 30,
                "allocation_bytes": 3 << 20,
                "encrypted": True,
                "from_pool": "persona",
                "to_pool": "default",
            }
        ],
        "copy_bytes": 3 << 20,
        "xml_diff": [
            "--- source",
            "+++ target",
            "@@ -3 +3 @@",
            "-    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>",
            "+    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>",
        ],
    }


@pytest.fixture
def preview(monkeypatch):
    """The dry run answers a scripted plan, after the checks a real one makes."""
    calls: list[dict] = []
    answer = {"plan": a_plan()}

    def migration_preview(*, user, vm, target, mode="auto"):
        migration_services.migration_check(user=user, vm=vm, target=target, mode=mode)
        calls.append({"user": user, "vm": vm, "target": target, "mode": mode})
        return answer["plan"]

    monkeypatch.setattr("operations_app.services.migrations.migration_preview", migration_preview)
    return calls, answer


def test_plan_prints_a_report_and_queues_nothing(users, lab, vm, preview):
    calls, _ = preview
    code, out, err = persona(
        "migrate", "mg-web-1", "--to", "lab-b", "--plan", "--mode", "cold", "--as", "operator"
    )
    assert code == 0, err
    (call,) = calls
    assert call["vm"] == vm and call["target"] == lab[1] and call["mode"] == "cold"
    assert call["user"] == users["operator"]
    lines = out.splitlines()
    assert lines[0] == "migration:     mg-web-1: lab-a -> lab-b"
    assert "ready:         yes" in lines
    assert (
        "verdict:       Would move mg-web-1 cold: the target needs changes a live migration "
        "cannot make." in lines
    )
    assert "path:          cold: the target needs changes a live migration cannot make" in lines
    assert "to copy:       3.0 MiB" in lines
    # The differences table, the fixes, the guest commands and the disks, in that order.
    table = lines.index("differences:")
    assert lines[table + 1].split() == ["KIND", "SUBJECT", "SOURCE", "TARGET", "BLOCKING", "DETAIL"]
    assert lines[table + 2].split()[:5] == [
        "machine_type",
        "domain",
        "pc-i440fx-7.2",
        "pc-q35-7.2",
        "yes",
    ]
    assert lines[table + 2].endswith("lab-b offers q35 machines only.")
    fixes = lines.index("fixes:")
    assert (
        lines[fixes + 1] == "  builtin:machine-type (definition): Land on the target's machine type"
    )
    assert lines[fixes + 2] == "    - machine: pc-i440fx-7.2 -> pc-q35-7.2"
    after = lines.index("guest commands after the cutover:")
    assert lines[after + 1] == (
        "  renumber-nics: /bin/sh -c 'ip link set eth0 up'  (timeout 30s, expect exit 0)"
    )
    assert "  - machine type: pc-i440fx-7.2 -> pc-q35-7.2" in lines
    disks = lines.index("disks:")
    assert lines[disks + 2].split() == [
        "vda",
        "mg-web-1.qcow2",
        "1.0",
        "GiB",
        "3.0",
        "MiB",
        "yes",
        "persona",
        "->",
        "default",
    ]
    diff = lines.index("definition diff:")
    assert table < fixes < after < disks < diff
    assert lines[diff + 1 :] == [
        "  --- source",
        "  +++ target",
        "  @@ -3 +3 @@",
        "  -    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>",
        "  +    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>",
    ]
    assert not OperationJob.objects.exists()


def test_plan_that_would_not_go_ahead_exits_3(users, lab, vm, preview):
    _, answer = preview
    answer["plan"] = a_plan(ready=False)
    code, out, err = persona("migrate", "mg-web-1", "--to", "lab-b", "--plan", "--as", "operator")
    assert code == 3
    assert "ready:         no" in out.splitlines()
    assert "path:          -" in out.splitlines()
    assert "  ! disk sdb: lab-b has no SATA bus." in out.splitlines()
    assert "mg-web-1 would not be migrated: Blocked: disk sdb: lab-b has no SATA bus." in err


@pytest.mark.parametrize(("ready", "code"), [(True, 0), (False, 3)])
def test_plan_as_json(users, lab, vm, preview, ready, code):
    _, answer = preview
    answer["plan"] = a_plan(ready=ready)
    got, out, err = persona(
        "migrate", "mg-web-1", "--to", "lab-b", "--plan", "--json", "--as", "operator"
    )
    assert got == code, err
    assert json.loads(out) == a_plan(ready=ready)


def test_plan_runs_the_request_checks(users, lab, vm, preview):
    calls, _ = preview
    code, _, err = persona("migrate", "mg-web-1", "--to", "lab-b", "--plan", "--as", "viewer")
    assert code == 3 and "operators" in err
    code, _, err = persona("migrate", "mg-web-1", "--to", "lab-a", "--plan", "--as", "operator")
    assert code == 1 and err.strip() == "target: VM 'mg-web-1' already runs on lab-a."
    code, _, err = persona("migrate", "ghost", "--to", "lab-b", "--plan", "--as", "operator")
    assert code == 1 and "vm: no VM named 'ghost'" in err
    assert not calls and not OperationJob.objects.exists()
