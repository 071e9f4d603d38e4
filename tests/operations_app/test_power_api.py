"""``POST /api/v1/vms/<id>/power/``: a power job queued (202 with the job), refusals as
400 with the field's path, 403 and 409, and the endpoint in the API description.

No host is contacted: requests are only queued.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from operations_app.models import JobKind, JobStatus, OperationJob, VMState
from operations_app.services import snapshots as snapshot_services
from tests.operations_app.job_support import approved_version, errors, managed_vm, unmanaged_vm

pytestmark = pytest.mark.django_db

API = "/api/v1"


def power_url(vm) -> str:
    return f"{API}/vms/{vm.pk}/power/"


@pytest.fixture
def vm(users, lab):
    return managed_vm(approved_version(users, "pw-web"), lab[0], "pw-web-1")


def test_a_power_request_answers_202_with_the_job(api, users, lab, vm):
    response = api(users["operator"]).post(power_url(vm), {"action": "shutdown"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    job = OperationJob.objects.get()
    assert response["Location"] == f"http://testserver/api/v1/jobs/{job.pk}/"
    assert body["id"] == job.pk and body["kind"] == "power" and body["status"] == "queued"
    assert body["params"] == {"action": "shutdown"}
    assert body["vm"] == vm.pk and body["vm_name"] == "pw-web-1" and body["platform"] == "lab-a"
    assert body["requested_by"] == "operator"
    assert body["links"]["events"].endswith(f"/api/v1/jobs/{job.pk}/events/")
    assert job.kind == JobKind.POWER and job.status == JobStatus.QUEUED
    # The job is one of the jobs like any other.
    listed = api(users["viewer"]).get(f"{API}/jobs/", {"kind": "power"}).json()
    assert [j["id"] for j in listed["results"]] == [job.pk]


def test_the_vm_links_to_its_power_endpoint(api, users, lab, vm):
    body = api(users["viewer"]).get(f"{API}/vms/{vm.pk}/").json()
    assert body["links"]["power"] == f"http://testserver{power_url(vm)}"


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"action": "halt"}, "one of: start, shutdown, reboot, force_off"),
        ({"action": ""}, "one of: start, shutdown, reboot, force_off"),
        ({}, "This field is required."),
    ],
)
def test_a_bad_action_answers_400_at_its_path(api, users, lab, vm, payload, message):
    response = api(users["operator"]).post(power_url(vm), payload, format="json")
    assert response.status_code == 400
    assert errors(response) == {"action": message}
    assert not OperationJob.objects.exists()


@pytest.mark.parametrize("who", ["viewer", "author", "approver"])
def test_other_roles_get_403(api, users, lab, vm, who):
    response = api(users[who]).post(power_url(vm), {"action": "force_off"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"{who} may not start or stop VMs: this needs the 'operators' role."
    )
    assert not OperationJob.objects.exists()


def test_conflicts_answer_409_with_the_reason(api, users, lab, vm):
    operator = api(users["operator"])
    response = operator.post(power_url(vm), {"action": "start"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == "pw-web-1 is already running."

    snap = snapshot_services.job_request_snapshot(user=users["operator"], vm=vm)
    response = operator.post(power_url(vm), {"action": "reboot"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"VM 'pw-web-1' already has an active job (#{snap.pk}, take a snapshot, queued); "
        "wait for it or cancel it."
    )

    stray = unmanaged_vm(lab[0], "stray", state=VMState.RUNNING)
    response = operator.post(power_url(stray), {"action": "shutdown"}, format="json")
    assert response.status_code == 409 and "not made by VM Persona" in response.json()["detail"]
    assert OperationJob.objects.filter(kind=JobKind.POWER).count() == 0


def test_unknown_vms_and_other_methods(api, users, lab, vm):
    operator = api(users["operator"])
    response = operator.post(f"{API}/vms/999999/power/", {"action": "start"}, format="json")
    assert response.status_code == 404
    assert operator.get(power_url(vm)).status_code == 405
    assert APIClient().post(power_url(vm), {"action": "start"}, format="json").status_code == 401


def test_openapi_describes_the_power_endpoint(api, users):
    schema = api(users["viewer"]).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/vms/{id}/power/"]["post"]
    assert operation["operationId"] == "vms_power"
    assert set(operation["responses"]) == {"202", "400", "403", "404", "409"}
    request = schema["components"]["schemas"]["PowerRequestRequest"]
    assert (
        request["required"] == ["action"]
        and "force_off" in request["properties"]["action"]["description"]
    )
    assert "power" in schema["components"]["schemas"]["JobKindEnum"]["enum"]
