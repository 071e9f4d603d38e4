"""Host maintenance through the API: the evacuation plan (a dry run), starting and ending
maintenance, a platform's current maintenance and the list; 400 with the field's path,
403 for non-operators, 404 for unknown platforms, 409 for a state that does not allow it.

No host is contacted beyond libvirt's in-process test driver; the adaptation dry run is
answered from a table (``answer_dry_runs``)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from operations_app.models import (
    HostMaintenance,
    JobKind,
    MaintenanceState,
    ManagedVM,
    OperationJob,
    Platform,
)
from operations_app.placement.evacuation import DryRunVerdict
from operations_app.services import maintenance as maintenance_services
from tests.operations_app.job_support import errors, make_platform, unmanaged_vm
from tests.operations_app.scheduling_support import blackout, tomorrow, window

from .support import answer_dry_runs, fleet, probed

pytestmark = pytest.mark.django_db

API = "/api/v1"
CURRENT = f"{API}/platforms/lab-a/maintenance/"
PLAN = f"{API}/platforms/lab-a/maintenance/plan/"
END = f"{API}/platforms/lab-a/maintenance/end/"
LIST = f"{API}/maintenances/"
UNREACHABLE_URI = "qemu+unix:///system?socket=/nonexistent"


@pytest.fixture
def lab(users, monkeypatch):
    f = fleet(users)
    f["a"], f["b"] = f["platforms"]["lab-a"], f["platforms"]["lab-b"]
    f["asked"] = answer_dry_runs(monkeypatch)
    f["window"] = window(users, "host-work")
    unmanaged_vm(f["a"], "legacy-db", vcpus=1, memory_mib=256)
    return f


def start(users, lab, **kw):
    plan = maintenance_services.evacuation_plan(user=users["operator"], platform=lab["a"])
    return maintenance_services.maintenance_start(
        user=users["operator"], platform=lab["a"], plan=plan, **kw
    )


# --- the plan -----------------------------------------------------------------------------


def test_the_plan_says_where_each_vm_goes_and_changes_nothing(api, users, lab):
    response = api(users["operator"]).post(PLAN)
    assert response.status_code == 200, response.content
    plan = response.json()
    assert plan["platform"] == "lab-a" and plan["complete"] is True
    assert [(m["vm"], m["target"], m["path"]) for m in plan["moves"]] == [
        ("web-1", "lab-b", "live"),
        ("web-2", "lab-b", "live"),
    ]
    assert plan["moves"][0]["path_reason"] == "running, no changes"
    assert plan["unmovable"] == [] and plan["unmanaged"] == ["legacy-db"]
    assert plan["hosts_after"]["lab-b"]["memory"] > plan["hosts_before"]["lab-b"]["memory"]
    verdict = plan["moves"][0]["verdicts"][0]
    assert verdict["host"] == "lab-b" and verdict["chosen"] is True
    assert not HostMaintenance.objects.exists() and not OperationJob.objects.exists()


def test_a_vm_nothing_can_take_is_in_the_plan_with_the_reason(api, users, lab, monkeypatch):
    answer_dry_runs(
        monkeypatch, {("web-2", "lab-b"): DryRunVerdict(False, reason="lab-b lacks virtio-scsi")}
    )
    plan = api(users["operator"]).post(PLAN).json()
    assert [m["vm"] for m in plan["moves"]] == ["web-1"]
    (stuck,) = plan["unmovable"]
    assert stuck["vm"] == "web-2" and stuck["target"] == ""
    assert "lab-b: lab-b lacks virtio-scsi" in stuck["reason"]
    assert plan["complete"] is False


def test_a_platform_that_cannot_be_reached_answers_409(api, users, lab):
    probed(make_platform("lab-x"))
    Platform.objects.filter(name="lab-x").update(uri=UNREACHABLE_URI)
    client = api(users["operator"])
    response = client.post(f"{API}/platforms/lab-x/maintenance/plan/")
    assert response.status_code == 409
    assert "lab-x cannot be reached" in response.json()["detail"]
    response = client.post(f"{API}/platforms/lab-x/maintenance/", {}, format="json")
    assert response.status_code == 409
    assert not HostMaintenance.objects.exists()


# --- starting -----------------------------------------------------------------------------


def test_an_operator_starts_maintenance_in_a_window_and_the_plan_is_recorded(api, users, lab):
    response = api(users["operator"]).post(
        CURRENT,
        {"window": "host-work", "move_back": True, "reason": "BIOS update"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    row = HostMaintenance.objects.get()
    assert response["Location"] == body["links"]["self"]
    assert body["links"]["self"].endswith(f"/api/v1/maintenances/{row.pk}/")
    assert body["platform"] == "lab-a" and body["window"] == "host-work"
    assert body["state"] == "entering" and body["active"] is True
    assert body["move_back"] is True and body["reason"] == "BIOS update"
    assert body["requested_by"] == "operator" and body["ended_by"] is None
    assert body["progress"] == {
        "total": 2,
        "waiting": 2,
        "moving": 0,
        "moved": 0,
        "failed": 0,
        "unmovable": 0,
        "gone": 0,
        "left": 0,
    }
    assert [(v["vm"], v["status"], v["job"]) for v in body["vms"]] == [
        ("web-1", "waiting", None),
        ("web-2", "waiting", None),
    ]
    assert [m["vm"] for m in body["plan"]["moves"]] == ["web-1", "web-2"]
    assert body["plan"]["unmanaged"] == ["legacy-db"]
    assert body["history"][0]["by"] == "operator"
    assert row.window == lab["window"] and row.requested_by == users["operator"]
    assert row.plan["moves"][0]["target"] == "lab-b"
    # Nothing moves before the window opens (it opens tomorrow).
    assert not OperationJob.objects.filter(kind=JobKind.MIGRATE).exists()


def test_without_a_window_it_starts_at_once(api, users, lab):
    response = api(users["operator"]).post(CURRENT, {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["window"] is None and body["move_back"] is False and body["reason"] == ""
    response = api(users["operator"]).post(
        f"{API}/platforms/lab-b/maintenance/", {"window": None}, format="json"
    )
    assert response.status_code == 201, response.content
    # lab-b has no managed VM: it is in maintenance at once.
    assert response.json()["state"] == "in_maintenance"
    assert response.json()["evacuated_at"] is not None


def test_starting_twice_conflicts(api, users, lab):
    client = api(users["operator"])
    assert client.post(CURRENT, {"window": "host-work"}, format="json").status_code == 201
    asked = len(lab["asked"])
    response = client.post(CURRENT, {"window": "host-work"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": "Platform lab-a is already entering maintenance."}
    assert len(lab["asked"]) == asked  # refused before the hosts were read
    assert HostMaintenance.objects.count() == 1


def test_bad_input_answers_400_with_the_field(api, users, lab):
    client = api(users["operator"])
    freeze = blackout(users, "freeze", start=tomorrow() + timedelta(days=2), minutes=60)
    cases = [
        ({"window": "nope"}, {"window": "no maintenance window named 'nope'"}),
        ({"window": ["host-work"]}, {"window": "Not a valid string."}),
        ({"move_back": "perhaps"}, {"move_back": "Must be a valid boolean."}),
        ({"reason": "x" * 501}, {"reason": "Ensure this field has no more than 500 characters."}),
        ({"colour": "red"}, {"colour": "not a maintenance setting"}),
    ]
    for body, expected in cases:
        response = client.post(CURRENT, body, format="json")
        assert response.status_code == 400, body
        assert errors(response) == expected, body
    response = client.post(CURRENT, {"window": freeze.name}, format="json")
    assert response.status_code == 400
    assert errors(response) == {
        "window": "'freeze' is a blackout; maintenance needs a maintenance window."
    }
    response = client.post(CURRENT, ["host-work"], format="json")
    assert response.status_code == 400 and set(errors(response)) == {""}
    assert not HostMaintenance.objects.exists()


def test_a_non_operator_is_refused(api, users, lab):
    viewer = api(users["viewer"])
    for response in (
        viewer.post(PLAN),
        viewer.post(CURRENT, {"window": "host-work"}, format="json"),
    ):
        assert response.status_code == 403
        assert "operators" in response.json()["detail"]
    assert not HostMaintenance.objects.exists()
    start(users, lab)
    response = viewer.post(END, {}, format="json")
    assert response.status_code == 403
    assert HostMaintenance.objects.get().state == MaintenanceState.ENTERING
    # Reading is for everyone signed in; nothing for anyone else.
    assert viewer.get(CURRENT).status_code == 200
    assert viewer.get(LIST).status_code == 200
    anonymous = APIClient()
    assert anonymous.get(CURRENT).status_code in (401, 403)
    assert anonymous.post(PLAN).status_code in (401, 403)


def test_unknown_platforms_are_404(api, users, lab):
    client = api(users["operator"])
    for response in (
        client.get(f"{API}/platforms/nope/maintenance/"),
        client.post(f"{API}/platforms/nope/maintenance/", {}, format="json"),
        client.post(f"{API}/platforms/nope/maintenance/plan/"),
        client.post(f"{API}/platforms/nope/maintenance/end/", {}, format="json"),
        client.get(f"{LIST}999999/"),
    ):
        assert response.status_code == 404
        assert response.json()["detail"]


# --- reading ------------------------------------------------------------------------------


def test_the_current_maintenance_with_each_vms_progress(api, users, lab):
    client = api(users["viewer"])
    assert client.get(CURRENT).json() == {"maintenance": None}
    row = start(users, lab, window=lab["window"])
    row.vms["web-1"].update(status="moving", job=7, target="lab-b", path="live")
    row.vms["web-2"].update(status="unmovable", reason="no platform can take it")
    HostMaintenance.objects.filter(pk=row.pk).update(vms=row.vms)
    body = client.get(CURRENT).json()["maintenance"]
    assert body["id"] == row.pk and body["state"] == "entering"
    assert body["vms"][0] == {
        "vm": "web-1",
        "status": "moving",
        "job": 7,
        "target": "lab-b",
        "path": "live",
        "reason": "",
        "at": None,
        "back_job": None,
        "back": "",
    }
    assert body["vms"][1]["status"] == "unmovable"
    assert body["vms"][1]["reason"] == "no platform can take it"
    assert body["progress"]["moving"] == 1 and body["progress"]["unmovable"] == 1
    assert body["links"]["current"].endswith("/api/v1/platforms/lab-a/maintenance/")


def test_platforms_show_their_maintenance(api, users, lab):
    client = api(users["viewer"])
    detail = client.get(f"{API}/platforms/lab-a/").json()
    assert detail["maintenance"] is None
    assert detail["links"]["maintenance"].endswith("/api/v1/platforms/lab-a/maintenance/")
    row = start(users, lab, window=lab["window"])
    detail = client.get(f"{API}/platforms/lab-a/").json()
    assert detail["maintenance"] == {
        "state": "entering",
        "window": "host-work",
        "started_at": row.started_at.isoformat().replace("+00:00", "Z"),
        "requested_by": "operator",
    }
    listed = {p["name"]: p for p in client.get(f"{API}/platforms/").json()["results"]}
    assert listed["lab-a"]["maintenance"]["state"] == "entering"
    assert listed["lab-b"]["maintenance"] is None


def test_the_list_filters_by_platform_and_activity(api, users, lab):
    ended = start(users, lab)
    maintenance_services.maintenance_end(user=users["operator"], platform=lab["a"])
    current = maintenance_services.maintenance_start(user=users["operator"], platform=lab["b"])
    client = api(users["viewer"])

    def ids(**query):
        response = client.get(LIST, query)
        assert response.status_code == 200, response.content
        return [m["id"] for m in response.json()["results"]]

    assert ids() == [current.pk, ended.pk]  # newest first
    assert ids(active="true") == [current.pk]
    assert ids(active="false") == [ended.pk]
    assert ids(platform="lab-a") == [ended.pk]
    assert ids(platform="lab-a", active="true") == []
    body = client.get(LIST).json()["results"][1]
    assert body["state"] == "ended" and body["ended_by"] == "operator"
    assert "plan" not in body and body["vms"][0]["status"] == "left"
    response = client.get(LIST, {"platform": "nope"})
    assert response.status_code == 400
    assert errors(response) == {"platform": "no platform named 'nope'"}
    response = client.get(LIST, {"active": "perhaps"})
    assert response.status_code == 400 and set(errors(response)) == {"active"}
    detail = client.get(f"{LIST}{ended.pk}/").json()
    assert detail["state"] == "ended" and detail["plan"]["platform"] == "lab-a"
    assert [h["state"] for h in detail["history"]] == ["Entering maintenance", "Ended"]


# --- ending -------------------------------------------------------------------------------


def test_an_operator_ends_it_and_the_vms_it_moved_come_back(api, users, lab):
    row = start(users, lab, window=lab["window"], move_back=True)
    # web-1 was moved to lab-b by the maintenance; web-2 never left.
    row.vms["web-1"].update(status="moved", job=None, target="lab-b", path="live")
    HostMaintenance.objects.filter(pk=row.pk).update(vms=row.vms)
    ManagedVM.objects.filter(name="web-1").update(platform=lab["b"])
    client = api(users["operator"])
    response = client.post(END, {}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "ended" and body["active"] is False
    assert body["ended_by"] == "operator" and body["ended_at"] is not None
    vms = {v["vm"]: v for v in body["vms"]}
    assert vms["web-2"]["status"] == "left"
    job = OperationJob.objects.get(kind=JobKind.MIGRATE)
    assert vms["web-1"]["back_job"] == job.pk
    assert job.vm_name == "web-1" and job.platform == lab["a"]
    assert client.get(CURRENT).json() == {"maintenance": None}

    response = client.post(END, {}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": "Platform lab-a is not in maintenance."}


def test_ending_with_move_back_false_leaves_them_where_they_are(api, users, lab):
    row = start(users, lab, move_back=True)
    row.vms["web-1"].update(status="moved", target="lab-b")
    HostMaintenance.objects.filter(pk=row.pk).update(vms=row.vms)
    ManagedVM.objects.filter(name="web-1").update(platform=lab["b"])
    response = api(users["operator"]).post(END, {"move_back": False}, format="json")
    assert response.status_code == 200, response.content
    assert not OperationJob.objects.filter(kind=JobKind.MIGRATE).exists()


def test_ending_refuses_bad_input(api, users, lab):
    start(users, lab)
    client = api(users["operator"])
    response = client.post(END, {"move_back": "perhaps"}, format="json")
    assert response.status_code == 400 and errors(response) == {
        "move_back": "Must be a valid boolean."
    }
    response = client.post(END, {"window": "host-work"}, format="json")
    assert response.status_code == 400
    assert errors(response) == {"window": "not a maintenance setting"}
    assert HostMaintenance.objects.get().state == MaintenanceState.ENTERING


# --- the API description ------------------------------------------------------------------


def test_openapi_documents_maintenance(api, users, lab):
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    paths = schema["paths"]
    assert set(paths["/api/v1/platforms/{name}/maintenance/"]) == {"get", "post"}
    for path in (
        "/api/v1/platforms/{name}/maintenance/plan/",
        "/api/v1/platforms/{name}/maintenance/end/",
    ):
        assert set(paths[path]) == {"post"}
    assert set(paths["/api/v1/maintenances/"]) == {"get"}
    assert set(paths["/api/v1/maintenances/{id}/"]) == {"get"}
    responses = paths["/api/v1/platforms/{name}/maintenance/"]["post"]["responses"]
    assert {"201", "400", "403", "404", "409"} <= set(responses)
    components = schema["components"]["schemas"]
    assert components["MaintenanceStateEnum"]["enum"] == ["entering", "in_maintenance", "ended"]
    # Every field answered is documented, and nothing else.
    client = api(users["operator"])
    plan = client.post(PLAN).json()
    assert set(components["EvacuationPlan"]["properties"]) == set(plan)
    assert set(components["VMPlacement"]["properties"]) == set(plan["moves"][0])
    assert set(components["HostVerdict"]["properties"]) == set(plan["moves"][0]["verdicts"][0])
    body = client.post(CURRENT, {}, format="json").json()
    assert set(components["MaintenanceDetail"]["properties"]) == set(body)
    assert set(components["MaintenanceVM"]["properties"]) == set(body["vms"][0])
    platform = client.get(f"{API}/platforms/lab-a/").json()
    assert set(components["PlatformMaintenance"]["properties"]) == set(platform["maintenance"])


def test_an_operator_has_the_vms_left_behind_tried_again(api, users, lab):
    row = start(users, lab)
    row.vms["web-1"].update(status="failed", reason="Verification failed", occurrence="")
    HostMaintenance.objects.filter(pk=row.pk).update(vms=row.vms)
    retry = f"{API}/platforms/lab-a/maintenance/retry/"
    assert api(users["viewer"]).post(retry).status_code == 403
    response = api(users["operator"]).post(retry)
    assert response.status_code == 200, response.content
    vms = {v["vm"]: v for v in response.json()["vms"]}
    assert vms["web-1"]["status"] == "waiting"
    response = api(users["operator"]).post(retry)
    assert response.status_code == 409
    assert "No VM of lab-a is waiting to be tried again" in response.json()["detail"]
