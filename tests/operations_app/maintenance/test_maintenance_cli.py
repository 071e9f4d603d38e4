"""``persona maintenance plan|start|end|show|list``: the maintenance service at the shell.
``start`` shows the plan and changes nothing without ``--yes``; problems print as
``path: message`` (exit 1), refusals and conflicts exit 3, usage errors exit 2."""

from __future__ import annotations

import json

import pytest

from operations_app.models import HostMaintenance, JobKind, ManagedVM, OperationJob
from operations_app.placement.evacuation import DryRunVerdict
from operations_app.services import maintenance as maintenance_services
from tests.operations_app.job_support import persona, unmanaged_vm
from tests.operations_app.scheduling_support import blackout, tomorrow, window

from .support import answer_dry_runs, fleet

pytestmark = pytest.mark.django_db

AS_OPERATOR = ("--as", "operator")


@pytest.fixture
def lab(users, monkeypatch):
    f = fleet(users, hosts=("lab-a", "lab-b", "lab-c"), vms=3)
    f["a"], f["b"] = f["platforms"]["lab-a"], f["platforms"]["lab-b"]
    f["asked"] = answer_dry_runs(
        monkeypatch,
        {
            ("web-3", "lab-b"): DryRunVerdict(False, reason="lab-b lacks virtio-scsi"),
            ("web-3", "lab-c"): DryRunVerdict(False, reason="lab-c offers q35 only"),
        },
    )
    unmanaged_vm(f["a"], "legacy-db", vcpus=1, memory_mib=256)
    f["window"] = window(users, "host-work")
    return f


def maintenance(*args: str) -> tuple[int, str, str]:
    return persona("maintenance", *args)


# --- the plan -----------------------------------------------------------------------------


def test_plan_shows_each_vm_the_ones_that_cannot_move_and_the_unmanaged(users, lab):
    code, out, err = maintenance("plan", "lab-a", *AS_OPERATOR)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Evacuation plan for lab-a (made ")
    assert lines[1] == (
        "1 of 3 managed VMs cannot move now and would stay on lab-a (in a window, they are "
        "tried again each time it opens)."
    )
    assert lines[2:6] == [
        "moves (largest first):",
        "  VM     TO     PATH  WHY",
        "  web-1  lab-b  live  running, no changes",
        "  web-2  lab-c  live  running, no changes",
    ]
    assert lines[6:8] == [
        "cannot move:",
        "  web-3: no platform can take it (lab-b: lab-b lacks virtio-scsi; lab-c: lab-c "
        "offers q35 only)",
    ]
    assert "left alone (not managed by VM Persona): legacy-db" in lines
    assert "  lab-b     0% -> 6%  0% -> 12%  0% -> 0%" in lines
    assert not HostMaintenance.objects.exists()


def test_plan_with_verdicts_and_as_json(users, lab):
    code, out, _ = maintenance("plan", "lab-a", "--verdicts", *AS_OPERATOR)
    assert code == 0
    assert "  web-1, each platform:" in out
    assert "    lab-b: chosen (score 71.87)" in out
    assert "    lab-c: refused by dry run: lab-c offers q35 only" in out
    code, out, _ = maintenance("plan", "lab-a", "--json", *AS_OPERATOR)
    assert code == 0
    plan = json.loads(out)
    assert [m["vm"] for m in plan["moves"]] == ["web-1", "web-2"]
    assert plan["unmovable"][0]["vm"] == "web-3" and plan["unmanaged"] == ["legacy-db"]


# --- starting -----------------------------------------------------------------------------


def test_start_without_yes_shows_the_plan_and_how_to_confirm(users, lab):
    code, out, err = maintenance(
        "start", "lab-a", "--window", "host-work", "--reason", "BIOS update", *AS_OPERATOR
    )
    assert code == 0, err
    assert out.startswith("Evacuation plan for lab-a")
    assert out.splitlines()[-2:] == [
        "Nothing changed. To start the maintenance with this plan:",
        "  python manage.py persona maintenance start lab-a --window host-work --reason "
        "'BIOS update' --yes --as operator",
    ]
    assert not HostMaintenance.objects.exists()


def test_start_with_yes_starts_it_and_records_the_plan_shown(users, lab):
    code, out, err = maintenance(
        "start", "lab-a", "--window", "host-work", "--move-back", "--reason", "BIOS update",
        "--yes", *AS_OPERATOR,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("Evacuation plan for lab-a")
    assert out.splitlines()[-1] == (
        "lab-a is entering maintenance: no new VM is placed there; its 3 managed VMs (1 "
        "cannot move now) move inside window 'host-work', a few at a time; they come back "
        "when it ends. Follow it: python manage.py persona maintenance show lab-a"
    )
    row = HostMaintenance.objects.get()
    assert row.state == "entering" and row.window == lab["window"]
    assert row.move_back is True and row.reason == "BIOS update"
    assert row.requested_by == users["operator"]
    assert [m["vm"] for m in row.plan["moves"]] == ["web-1", "web-2"]
    assert row.plan["unmovable"][0]["vm"] == "web-3"


def test_start_as_json_prints_what_the_api_answers(users, lab):
    code, out, err = maintenance("start", "lab-a", "--yes", "--json", *AS_OPERATOR)
    assert code == 0, err
    body = json.loads(out)
    assert body["platform"] == "lab-a" and body["state"] == "entering"
    assert body["window"] is None and body["progress"]["waiting"] == 3
    assert body["plan"]["platform"] == "lab-a"
    code, _, err = maintenance("start", "lab-b", "--json", *AS_OPERATOR)
    assert code == 2 and "--json goes with --yes" in err


def test_starting_twice_is_refused(users, lab):
    assert maintenance("start", "lab-a", "--yes", *AS_OPERATOR)[0] == 0
    asked = len(lab["asked"])
    code, out, err = maintenance("start", "lab-a", "--yes", *AS_OPERATOR)
    assert code == 3
    assert err.strip() == "Platform lab-a is already entering maintenance."
    assert out == ""  # refused before a plan was made
    assert len(lab["asked"]) == asked
    assert HostMaintenance.objects.count() == 1


def test_bad_windows_print_the_problem_at_window(users, lab):
    code, _, err = maintenance("start", "lab-a", "--window", "nope", "--yes", *AS_OPERATOR)
    assert code == 1
    assert err.strip() == "window: no maintenance window named 'nope'"
    freeze = blackout(users, "freeze", start=tomorrow(), minutes=60)
    code, _, err = maintenance("start", "lab-a", "--window", freeze.name, "--yes", *AS_OPERATOR)
    assert code == 1
    assert err.strip() == "window: 'freeze' is a blackout; maintenance needs a maintenance window."
    code, _, err = maintenance("start", "lab-a", "--reason", "x" * 501, "--yes", *AS_OPERATOR)
    assert code == 1 and err.strip() == "reason: At most 500 characters."
    assert not HostMaintenance.objects.exists()


def test_who_asks_must_be_named_and_be_an_operator(users, lab, no_cli_user):
    for action in ("plan", "start", "end"):
        code, _, err = maintenance(action, "lab-a", "--as", "viewer")
        assert code == 3, action
        assert "viewer may not" in err and "'operators' role" in err
        code, _, err = maintenance(action, "lab-a")
        assert code == 2, action
        assert "Say who is asking: --as USER, or set VMPERSONA_CLI_USER." in err
    code, _, err = maintenance("start", "lab-a", "--yes", "--as", "nobody")
    assert code == 3 and "No active user named 'nobody'." in err
    assert not HostMaintenance.objects.exists()


def test_unknown_platforms_exit_3(users, lab):
    for args in (
        ("plan", "nope", *AS_OPERATOR),
        ("start", "nope", "--yes", *AS_OPERATOR),
        ("end", "nope", *AS_OPERATOR),
        ("show", "nope"),
        ("list", "--platform", "nope"),
    ):
        code, _, err = maintenance(*args)
        assert code == 3, args
        assert err.strip() == "No platform named 'nope'.", args


# --- reading ------------------------------------------------------------------------------


def test_show_the_state_the_window_and_each_vm(users, lab):
    code, out, _ = maintenance("show", "lab-a")
    assert code == 0 and out.strip() == "lab-a is in service (not in maintenance)."
    assert maintenance(
        "start", "lab-a", "--window", "host-work", "--reason", "BIOS", "--yes", *AS_OPERATOR
    )[0] == 0  # fmt: skip
    row = HostMaintenance.objects.get()
    row.vms["web-1"].update(status="moved", job=12, target="lab-b", path="live")
    row.vms["web-2"].update(status="moving", job=13, target="lab-c", path="live")
    row.vms["web-3"].update(status="unmovable", reason="no platform can take it")
    HostMaintenance.objects.filter(pk=row.pk).update(vms=row.vms)
    code, out, _ = maintenance("show", "lab-a")
    assert code == 0
    lines = out.splitlines()
    assert lines[:2] == ["platform:  lab-a", "state:     entering maintenance"]
    assert lines[2].startswith("window:    host-work: Every day, 01:00–05:00 UTC; next ")
    assert lines[3].startswith("started:   ") and lines[3].endswith(" by operator")
    assert lines[4:8] == [
        "reason:    BIOS",
        "move back: no",
        "evacuated: -",
        "progress:  3 VMs: 1 moved, 1 unmovable, 1 moving",
    ]
    assert lines[8:13] == [
        "vms:",
        "  VM     STATUS     TO     PATH  JOB  WHY",
        "  web-3  unmovable  -      -     -    no platform can take it",
        "  web-2  moving     lab-c  live  13   -",
        "  web-1  moved      lab-b  live  12   -",
    ]
    assert lines[13] == "left alone (not managed by VM Persona): legacy-db"
    code, out, _ = maintenance("show", "lab-a", "--json")
    body = json.loads(out)["maintenance"]
    assert body["id"] == row.pk and body["vms"][0]["job"] == 12


def test_list_and_its_filters(users, lab):
    code, out, _ = maintenance("list")
    assert code == 0 and out.strip() == "no maintenances"
    ended = maintenance_services.maintenance_start(
        user=users["operator"], platform=lab["a"], window=lab["window"]
    )
    maintenance_services.maintenance_end(user=users["operator"], platform=lab["a"])
    current = maintenance_services.maintenance_start(user=users["operator"], platform=lab["b"])
    code, out, _ = maintenance("list")
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID",
        "PLATFORM",
        "STATE",
        "WINDOW",
        "STARTED",
        "BY",
        "ENDED",
        "VMS",
    ]
    assert lines[1].split()[:4] == [str(current.pk), "lab-b", "in_maintenance", "(at"]
    assert lines[1].endswith("0/0 moved")
    assert lines[2].split()[:4] == [str(ended.pk), "lab-a", "ended", "host-work"]
    code, out, _ = maintenance("list", "--active")
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["lab-b"]
    code, out, _ = maintenance("list", "--ended", "--json")
    assert [m["platform"] for m in json.loads(out)] == ["lab-a"]
    code, out, _ = maintenance("list", "--platform", "lab-b", "--json")
    assert [m["id"] for m in json.loads(out)] == [current.pk]


# --- ending -------------------------------------------------------------------------------


def test_end_puts_it_back_in_service_and_moves_back(users, lab):
    row = maintenance_services.maintenance_start(
        user=users["operator"], platform=lab["a"], window=lab["window"]
    )
    row.vms["web-1"].update(status="moved", target="lab-b", path="live")
    HostMaintenance.objects.filter(pk=row.pk).update(vms=row.vms)
    ManagedVM.objects.filter(name="web-1").update(platform=lab["b"])
    code, out, err = maintenance("end", "lab-a", "--move-back", *AS_OPERATOR)
    assert code == 0, err
    job = OperationJob.objects.get(kind=JobKind.MIGRATE)
    assert out.splitlines() == [
        "lab-a is back in service (maintenance ended by operator).",
        f"moving back: web-1 (job {job.pk})",
        "never moved away, still on lab-a: web-2, web-3",
    ]
    assert HostMaintenance.objects.get().state == "ended"
    code, out, _ = maintenance("show", "lab-a")
    assert out.startswith("lab-a is in service (not in maintenance); its last maintenance ended ")
    code, _, err = maintenance("end", "lab-a", *AS_OPERATOR)
    assert code == 3 and err.strip() == "Platform lab-a is not in maintenance."


def test_end_without_moving_back_and_as_json(users, lab):
    row = maintenance_services.maintenance_start(
        user=users["operator"], platform=lab["a"], move_back=True
    )
    row.vms["web-1"].update(status="moved", target="lab-b")
    HostMaintenance.objects.filter(pk=row.pk).update(vms=row.vms)
    ManagedVM.objects.filter(name="web-1").update(platform=lab["b"])
    code, out, err = maintenance("end", "lab-a", "--no-move-back", "--json", *AS_OPERATOR)
    assert code == 0, err
    body = json.loads(out)
    assert body["state"] == "ended" and body["ended_by"] == "operator"
    assert not OperationJob.objects.filter(kind=JobKind.MIGRATE).exists()
    code, _, err = maintenance("end", "lab-a", "--move-back", "--no-move-back", *AS_OPERATOR)
    assert code != 0 and "not allowed with argument" in err


def test_retry_tries_the_vms_left_behind_again(users, lab):
    row = maintenance_services.maintenance_start(user=users["operator"], platform=lab["a"])
    row.vms["web-3"].update(status="unmovable", reason="no platform can take it", occurrence="")
    HostMaintenance.objects.filter(pk=row.pk).update(vms=row.vms)
    code, out, err = maintenance("retry", "lab-a", *AS_OPERATOR)
    assert code == 0, err
    assert "web-3" in out and "will be tried again at the next tick" in out
    code, _, err = maintenance("retry", "lab-a", *AS_OPERATOR)
    assert code == 3 and "No VM of lab-a is waiting to be tried again" in err
