"""Snapshots through the API (``kind: snapshot`` and ``kind: rollback``, a VM's snapshot
list) and the admin.

No host is contacted: requests are only queued, and snapshots are rows made here.
"""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from operations_app.models import JobKind, JobStatus, OperationJob, SnapshotOrigin, VMSnapshot
from tests.operations_app.job_support import (
    ADMIN_VMS,
    JOBS,
    approved_version,
    errors,
    managed_vm,
    snapshot,
    unmanaged_vm,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def vm(users, lab):
    return managed_vm(approved_version(users, "sn-web"), lab[0], "sn-web-1")


@pytest.fixture
def other_vm(vm, lab):
    return managed_vm(vm.profile_version, lab[0], "sn-web-2")


# --- snapshot requests ----------------------------------------------------------------------


def test_snapshot_request_queues_a_job(api, users, lab, vm):
    response = api(users["operator"]).post(
        JOBS, {"kind": "snapshot", "vm": vm.pk, "description": "before the upgrade"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    job = OperationJob.objects.get(pk=body["id"])
    assert response["Location"] == f"http://testserver/api/v1/jobs/{job.pk}/"
    assert body["kind"] == "snapshot" and body["status"] == "queued"
    assert body["vm"] == vm.pk and body["vm_name"] == "sn-web-1" and body["platform"] == "lab-a"
    assert body["params"] == {"description": "before the upgrade"}
    assert body["requested_by"] == "operator"
    assert job.kind == JobKind.SNAPSHOT and job.status == JobStatus.QUEUED
    assert not VMSnapshot.objects.exists()  # the worker takes it


def test_snapshot_request_names_the_vm_by_name_and_needs_no_description(api, users, lab, vm):
    response = api(users["operator"]).post(
        JOBS, {"kind": "snapshot", "vm": "sn-web-1"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["vm"] == vm.pk and response.json()["params"] == {"description": ""}


def test_snapshot_request_errors_carry_paths(api, users, lab, vm):
    client = api(users["operator"])
    response = client.post(JOBS, {"kind": "snapshot"}, format="json")
    assert response.status_code == 400 and set(errors(response)) == {"vm"}

    response = client.post(
        JOBS, {"kind": "snapshot", "vm": vm.pk, "description": "x" * 301}, format="json"
    )
    assert response.status_code == 400
    assert errors(response) == {"description": "at most 300 characters, on one line"}
    response = client.post(
        JOBS, {"kind": "snapshot", "vm": vm.pk, "description": "one\ntwo"}, format="json"
    )
    assert errors(response) == {"description": "at most 300 characters, on one line"}

    response = client.post(JOBS, {"kind": "snapshot", "vm": 424242}, format="json")
    assert response.status_code == 400
    assert errors(response) == {"vm": "no VM 424242 in the inventory"}
    response = client.post(JOBS, {"kind": "snapshot", "vm": "ghost"}, format="json")
    assert errors(response) == {"vm": "no VM named 'ghost' in the inventory"}
    assert not OperationJob.objects.exists()

    response = client.post(
        JOBS, {"kind": "snapshot", "vm": vm.pk, "description": "x" * 300}, format="json"
    )
    assert response.status_code == 201


def test_a_vm_name_on_two_platforms_needs_its_platform(api, users, lab, vm):
    unmanaged_vm(lab[1], "sn-web-1")
    client = api(users["operator"])
    response = client.post(JOBS, {"kind": "snapshot", "vm": "sn-web-1"}, format="json")
    assert errors(response) == {"vm": "several VMs are named 'sn-web-1'; name the platform too"}
    response = client.post(
        JOBS, {"kind": "snapshot", "vm": "sn-web-1", "platform": "lab-a"}, format="json"
    )
    assert response.status_code == 201 and response.json()["vm"] == vm.pk


def test_snapshot_request_refusals_and_conflicts(api, users, lab, vm):
    body = {"kind": "snapshot", "vm": vm.pk}
    for who in ("viewer", "author", "approver"):
        response = api(users[who]).post(JOBS, body, format="json")
        assert response.status_code == 403 and "operators" in response.json()["detail"]
    assert not OperationJob.objects.exists()

    operator = api(users["operator"])
    assert operator.post(JOBS, body, format="json").status_code == 201
    response = operator.post(JOBS, body, format="json")
    assert response.status_code == 409 and "already has an active job" in response.json()["detail"]

    unmanaged = unmanaged_vm(lab[0], "stray")
    response = operator.post(JOBS, {**body, "vm": unmanaged.pk}, format="json")
    assert response.status_code == 409 and "not made by VM Persona" in response.json()["detail"]

    assert APIClient().post(JOBS, body, format="json").status_code == 401


# --- rollback requests ----------------------------------------------------------------------


def test_rollback_request_queues_a_job_by_snapshot_name_or_id(api, users, lab, vm):
    snap = snapshot(vm, "snap-1")
    client = api(users["operator"])
    response = client.post(
        JOBS, {"kind": "rollback", "vm": "sn-web-1", "snapshot": "snap-1"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "rollback" and body["status"] == "queued" and body["vm"] == vm.pk
    assert body["params"] == {"snapshot": "snap-1", "snapshot_id": snap.pk}
    assert OperationJob.objects.get(pk=body["id"]).kind == JobKind.ROLLBACK

    OperationJob.objects.filter(pk=body["id"]).update(status=JobStatus.SUCCEEDED)
    response = client.post(
        JOBS, {"kind": "rollback", "vm": vm.pk, "snapshot": snap.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["params"]["snapshot_id"] == snap.pk


def test_rollback_request_errors_carry_paths(api, users, lab, vm, other_vm):
    theirs = snapshot(other_vm, "snap-theirs")
    client = api(users["operator"])
    base = {"kind": "rollback", "vm": vm.pk}

    response = client.post(JOBS, {"kind": "rollback", "vm": vm.pk}, format="json")
    assert response.status_code == 400 and errors(response) == {
        "snapshot": "This field is required."
    }
    response = client.post(JOBS, {**base, "snapshot": theirs.pk}, format="json")
    assert response.status_code == 400
    assert errors(response) == {"snapshot": "snapshot is not one of sn-web-1's"}
    response = client.post(JOBS, {**base, "snapshot": "snap-theirs"}, format="json")
    assert response.status_code == 400
    assert errors(response) == {"snapshot": "sn-web-1 has no snapshot named 'snap-theirs'"}
    response = client.post(JOBS, {**base, "snapshot": 424242}, format="json")
    assert errors(response) == {"snapshot": "no snapshot 424242"}
    response = client.post(JOBS, {**base, "snapshot": ["snap-1"]}, format="json")
    assert errors(response) == {"snapshot": "an id (integer) or a name (string)"}
    response = client.post(JOBS, {**base, "vm": "ghost", "snapshot": "snap-1"}, format="json")
    assert errors(response) == {"vm": "no VM named 'ghost' in the inventory"}
    assert not OperationJob.objects.exists()


def test_rollback_to_a_removed_snapshot_or_one_on_another_platform_conflicts(api, users, lab, vm):
    gone = snapshot(vm, "snap-old", removed="retention: kept the newest 3")
    elsewhere = snapshot(vm, "snap-b", platform=lab[1])
    client = api(users["operator"])
    base = {"kind": "rollback", "vm": vm.pk}

    for ref in (gone.pk, "snap-old"):
        response = client.post(JOBS, {**base, "snapshot": ref}, format="json")
        assert response.status_code == 409
        assert response.json()["detail"] == (
            "Snapshot snap-old was removed (retention: kept the newest 3)."
        )
    response = client.post(JOBS, {**base, "snapshot": elsewhere.pk}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "Snapshot snap-b was taken on lab-b; sn-web-1 now runs on lab-a."
    )
    assert not OperationJob.objects.exists()


def test_rollback_by_name_prefers_the_present_snapshot(api, users, lab, vm):
    snapshot(vm, "snap-1", removed="deleted on request")
    present = snapshot(vm, "snap-1")
    response = api(users["operator"]).post(
        JOBS, {"kind": "rollback", "vm": vm.pk, "snapshot": "snap-1"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["params"]["snapshot_id"] == present.pk


def test_rollback_needs_the_operators_role(api, users, lab, vm):
    snap = snapshot(vm, "snap-1")
    body = {"kind": "rollback", "vm": vm.pk, "snapshot": snap.pk}
    for who in ("viewer", "author"):
        response = api(users[who]).post(JOBS, body, format="json")
        assert response.status_code == 403 and "may not roll VMs back" in response.json()["detail"]
    assert not OperationJob.objects.exists()


def test_unknown_kind_lists_snapshot_and_rollback(api, users):
    response = api(users["operator"]).post(JOBS, {"kind": "teleport"}, format="json")
    assert response.status_code == 400
    assert errors(response) == {"kind": "one of: clone, migrate, snapshot, rollback, decommission"}


# --- listing ------------------------------------------------------------------------------


def test_vm_snapshots_lists_present_ones_newest_first(api, users, lab, vm, other_vm):
    first = snapshot(vm, "snap-1", with_memory=True, description="first")
    snapshot(vm, "snap-0", removed="retention: kept the newest 3")
    job = OperationJob.objects.create(
        kind=JobKind.ROLLBACK, platform=lab[0], vm=vm, vm_name=vm.name
    )
    second = snapshot(vm, "before-rollback-1", origin=SnapshotOrigin.BEFORE_ROLLBACK, job=job)
    snapshot(other_vm, "snap-theirs")

    response = api(users["viewer"]).get(f"/api/v1/vms/{vm.pk}/snapshots/")
    assert response.status_code == 200
    body = response.json()
    assert [s["name"] for s in body] == ["before-rollback-1", "snap-1"]
    assert body[0] == {
        "id": second.pk,
        "name": "before-rollback-1",
        "kind": "internal",
        "with_memory": False,
        "vm_state": "running",
        "origin": "before_rollback",
        "description": "",
        "platform": "lab-a",
        "job": job.pk,
        "created_at": body[0]["created_at"],
        "removed_at": None,
        "removed_reason": "",
    }
    assert body[1]["id"] == first.pk and body[1]["with_memory"] is True
    assert body[1]["origin"] == "manual" and body[1]["description"] == "first"
    assert body[1]["job"] is None and body[1]["created_at"]


def test_vm_snapshots_all_includes_removed_ones(api, users, lab, vm):
    snapshot(vm, "snap-1")
    snapshot(vm, "snap-0", platform=lab[1], removed="went with the source of a migration")
    client = api(users["viewer"])
    body = client.get(f"/api/v1/vms/{vm.pk}/snapshots/?all=1").json()
    assert [s["name"] for s in body] == ["snap-0", "snap-1"]
    removed = body[0]
    assert removed["platform"] == "lab-b" and removed["removed_at"]
    assert removed["removed_reason"] == "went with the source of a migration"
    assert [s["name"] for s in client.get(f"/api/v1/vms/{vm.pk}/snapshots/?all=0").json()] == [
        "snap-1"
    ]


def test_vm_snapshots_errors(api, users, lab, vm):
    client = api(users["viewer"])
    assert client.get(f"/api/v1/vms/{vm.pk}/snapshots/").json() == []
    response = client.get("/api/v1/vms/424242/snapshots/")
    assert response.status_code == 404 and "No VM 424242" in response.json()["detail"]
    response = client.get(f"/api/v1/vms/{vm.pk}/snapshots/?all=maybe")
    assert response.status_code == 400 and set(errors(response)) == {"all"}
    assert APIClient().get(f"/api/v1/vms/{vm.pk}/snapshots/").status_code == 401
    detail = client.get(f"/api/v1/vms/{vm.pk}/").json()
    assert detail["links"]["snapshots"] == f"http://testserver/api/v1/vms/{vm.pk}/snapshots/"


def test_openapi_documents_snapshots(api, users, lab, vm):
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    components = schema["components"]["schemas"]
    mapping = components["NewJobRequest"]["discriminator"]["mapping"]
    assert mapping["snapshot"] == "#/components/schemas/SnapshotJobRequest"
    assert mapping["rollback"] == "#/components/schemas/RollbackJobRequest"
    assert set(components["SnapshotJobRequest"]["required"]) == {"kind", "vm"}
    assert set(components["RollbackJobRequest"]["required"]) == {"kind", "vm", "snapshot"}
    listing = schema["paths"]["/api/v1/vms/{id}/snapshots/"]["get"]
    assert [p["name"] for p in listing["parameters"] if p["in"] == "query"] == ["all"]
    assert components["SnapshotOriginEnum"]["enum"] == list(SnapshotOrigin.values)
    # Every field the list answers is documented, and nothing else.
    snapshot(vm, "snap-1")
    body = api(users["viewer"]).get(f"/api/v1/vms/{vm.pk}/snapshots/").json()
    assert set(components["VMSnapshot"]["properties"]) == set(body[0])


# --- admin -----------------------------------------------------------------------------------


def test_admin_action_queues_a_snapshot_per_vm(users, lab, vm, other_vm):
    stray = unmanaged_vm(lab[0], "stray")
    client = Client()
    client.force_login(users["admin"])
    response = client.post(
        ADMIN_VMS,
        {"action": "snapshot_vms", "_selected_action": [vm.pk, other_vm.pk, stray.pk]},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == ADMIN_VMS
    jobs = {job.vm_name: job for job in OperationJob.objects.all()}
    assert set(jobs) == {"sn-web-1", "sn-web-2"}
    assert all(
        j.kind == JobKind.SNAPSHOT and j.requested_by == users["admin"] for j in jobs.values()
    )
    shown = [str(m) for m in response.context["messages"]]
    assert shown == [
        f"sn-web-1: snapshot queued as job #{jobs['sn-web-1'].pk}",
        f"sn-web-2: snapshot queued as job #{jobs['sn-web-2'].pk}",
        "stray: VM 'stray' was not made by VM Persona; it is left alone.",
    ]


def test_admin_lists_snapshots_read_only(users, lab, vm):
    snap = snapshot(vm, "snap-1", with_memory=True)
    client = Client()
    client.force_login(users["admin"])
    page = client.get("/admin/operations_app/vmsnapshot/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "snap-1" in html and "lab-a" in html
    assert client.get("/admin/operations_app/vmsnapshot/add/").status_code == 403
    detail = client.get(f"/admin/operations_app/vmsnapshot/{snap.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    response = client.post(f"/admin/operations_app/vmsnapshot/{snap.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert VMSnapshot.objects.filter(pk=snap.pk).exists()
