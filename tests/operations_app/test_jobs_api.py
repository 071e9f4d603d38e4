"""The jobs and notifications API: requests, reads, visibility and error answers."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from operations_app.models import JobStatus, ManagedVM, Notification, OperationJob, VMState
from operations_app.services import jobs as job_services
from tests.operations_app.job_support import (
    CHECKS,
    JOBS,
    approved_version,
    clone_job,
    drive,
    errors,
    make_platform,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(users):
    return approved_version(users), make_platform()


@pytest.fixture
def jobs(users, setup):
    version, platform = setup
    ok = drive(clone_job(users, vm_name="web-ok", version=version, platform=platform))
    bad = drive(
        clone_job(users, vm_name="web-bad", version=version, platform=platform),
        outcome="fail_check",
    )
    mine = clone_job(users, by="author", vm_name="web-mine", version=version, platform=platform)
    return ok, bad, mine


# --- requests --------------------------------------------------------------------------------


def test_clone_request_defaults_to_the_approved_version(api, users, setup):
    version, _ = setup
    response = api(users["operator"]).post(
        JOBS,
        {"kind": "clone", "profile": "web", "platform": "lab", "vm_name": "web-02"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    job = OperationJob.objects.get(pk=body["id"])
    assert response["Location"] == f"http://testserver/api/v1/jobs/{job.pk}/"
    assert body["kind"] == "clone" and body["status"] == "queued"
    assert body["profile"] == "web" and body["profile_version"] == 1
    assert body["content_hash"] == version.content_hash
    assert body["platform"] == "lab" and body["vm_name"] == "web-02"
    assert body["requested_by"] == "operator" and body["event_seq"] == 1
    assert body["links"]["page"] == f"http://testserver/ops/jobs/{job.pk}/"
    assert body["links"]["events"].endswith(f"/api/v1/jobs/{job.pk}/events/")
    assert body["checks"] == {"total": 0, "passed": 0, "failed": 0}


def test_clone_request_errors_carry_paths(api, users, setup):
    version, platform = setup
    client = api(users["operator"])
    ManagedVM.objects.create(platform=platform, name="taken", domain_uuid=uuid.uuid4())

    response = client.post(JOBS, {"kind": "clone"}, format="json")
    assert response.status_code == 400
    # the platform may be left out: placement then chooses it
    assert set(errors(response)) == {"profile", "vm_name"}

    response = client.post(JOBS, {"kind": "nonsense"}, format="json")
    assert response.status_code == 400 and "kind" in errors(response)

    base = {"kind": "clone", "profile": "web", "platform": "lab"}
    response = client.post(JOBS, {**base, "vm_name": "Bad_Name"}, format="json")
    assert response.status_code == 400
    assert "lowercase letters" in errors(response)["vm_name"]

    response = client.post(JOBS, {**base, "vm_name": "taken"}, format="json")
    assert errors(response) == {"vm_name": "a VM named 'taken' already exists"}

    response = client.post(JOBS, {**base, "profile": "nope", "vm_name": "a"}, format="json")
    assert errors(response) == {"profile": "no profile named 'nope'"}
    response = client.post(JOBS, {**base, "version": 7, "vm_name": "a"}, format="json")
    assert errors(response) == {"version": "web has no version 7"}
    response = client.post(JOBS, {**base, "platform": "mars", "vm_name": "a"}, format="json")
    assert errors(response) == {"platform": "no platform named 'mars'"}
    assert not OperationJob.objects.exists()


def test_clone_request_conflicts_and_refusals(api, users, setup):
    from profiles_app.services import versions as version_services

    version, platform = setup
    base = {"kind": "clone", "profile": "web", "platform": "lab"}

    response = api(users["viewer"]).post(JOBS, {**base, "vm_name": "v-1"}, format="json")
    assert response.status_code == 403 and "operators" in response.json()["detail"]

    operator = api(users["operator"])
    assert operator.post(JOBS, {**base, "vm_name": "dup"}, format="json").status_code == 201
    response = operator.post(JOBS, {**base, "vm_name": "dup"}, format="json")
    assert response.status_code == 409 and "already has an active job" in response.json()["detail"]

    version_services.version_create_draft(user=users["author"], policy=version.policy)
    response = operator.post(JOBS, {**base, "version": 2, "vm_name": "v-2"}, format="json")
    assert response.status_code == 409 and "only approved versions" in response.json()["detail"]

    platform.enabled = False
    platform.save()
    response = operator.post(JOBS, {**base, "vm_name": "v-3"}, format="json")
    assert response.status_code == 409 and "disabled" in response.json()["detail"]

    version_services.version_retire(user=users["approver"], version=version)
    response = operator.post(JOBS, {**base, "vm_name": "v-4"}, format="json")
    assert response.status_code == 409 and "no approved version" in response.json()["detail"]


def test_decommission_request(api, users, setup):
    version, platform = setup
    vm = ManagedVM.objects.create(
        platform=platform, name="old", domain_uuid=uuid.uuid4(), state=VMState.RUNNING
    )
    body = {"kind": "decommission", "vm": vm.pk}
    response = api(users["author"]).post(JOBS, body, format="json")
    assert response.status_code == 403
    response = api(users["operator"]).post(JOBS, body, format="json")
    assert response.status_code == 201
    assert response.json()["kind"] == "decommission" and response.json()["vm"] == vm.pk
    response = api(users["operator"]).post(
        JOBS, {"kind": "decommission", "vm": 424242}, format="json"
    )
    assert response.status_code == 400 and errors(response) == {
        "vm": "no VM 424242 in the inventory"
    }
    response = api(users["operator"]).post(JOBS, {"kind": "decommission"}, format="json")
    assert response.status_code == 400 and "vm" in errors(response)


def test_requests_need_authentication(setup):
    response = APIClient().post(JOBS, {"kind": "clone"}, format="json")
    assert response.status_code == 401
    assert APIClient().get(JOBS).status_code == 401


# --- reads and visibility -------------------------------------------------------------------------


def test_list_filters_and_visibility(api, users, jobs):
    ok, bad, mine = jobs

    def ids(user, **params):
        response = api(users[user]).get(JOBS, params)
        assert response.status_code == 200, response.content
        return {j["id"] for j in response.json()["results"]}

    for role in ("admin", "operator", "approver", "viewer"):
        assert ids(role) == {ok.pk, bad.pk, mine.pk}
    assert ids("author") == {mine.pk}
    assert ids("author2") == set()
    assert ids("operator", status="succeeded") == {ok.pk}
    assert ids("operator", status="succeeded,rolled_back") == {ok.pk, bad.pk}
    assert ids("operator", status="active") == {mine.pk}
    assert ids("operator", kind="clone", platform="lab") == {ok.pk, bad.pk, mine.pk}
    assert ids("operator", vm_name="web-bad") == {bad.pk}
    assert ids("operator", mine="true") == {ok.pk, bad.pk}
    response = api(users["operator"]).get(JOBS, {"status": "bogus"})
    assert response.status_code == 400 and "status" in errors(response)


def test_detail_and_404_for_invisible_jobs(api, users, jobs):
    ok, bad, mine = jobs
    response = api(users["viewer"]).get(f"{JOBS}{bad.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "rolled_back"
    assert body["error"].startswith("Verification failed")
    assert "eth0 on network default" in body["failing_check"]
    assert body["checks"] == {"total": 5, "passed": 4, "failed": 1}
    assert body["duration_s"] is not None and body["finished_at"]

    for path in ("", "events/", "steps/", "checks/"):
        assert api(users["author"]).get(f"{JOBS}{ok.pk}/{path}").status_code == 404
        assert api(users["author"]).get(f"{JOBS}{mine.pk}/{path}").status_code == 200
    assert api(users["operator"]).get(f"{JOBS}999999/").json() == {"detail": "No job #999999."}


def test_events_after_a_seq_in_order_with_limit(api, users, jobs):
    ok, _, _ = jobs
    client = api(users["viewer"])
    response = client.get(f"{JOBS}{ok.pk}/events/")
    body = response.json()
    assert body["status"] == "succeeded" and body["last_seq"] == ok.event_seq
    assert [e["seq"] for e in body["events"]] == list(range(1, ok.event_seq + 1))
    assert body["more"] is False

    # Page through five at a time: nothing missed, nothing twice.
    seen, after = [], 0
    while True:
        page = client.get(f"{JOBS}{ok.pk}/events/", {"after": after, "limit": 5}).json()
        seen += [e["seq"] for e in page["events"]]
        if not page["more"]:
            break
        after = page["events"][-1]["seq"]
    assert seen == list(range(1, ok.event_seq + 1))

    first = body["events"][0]
    assert first["kind"] == "status" and first["payload"]["status"] == "queued"
    assert {"job", "seq", "kind", "payload", "at"} <= set(first)
    response = client.get(f"{JOBS}{ok.pk}/events/", {"after": -1, "limit": 0})
    assert response.status_code == 400 and set(errors(response)) == {"after", "limit"}


def test_steps_and_checks(api, users, jobs):
    _, bad, _ = jobs
    client = api(users["approver"])
    steps = client.get(f"{JOBS}{bad.pk}/steps/").json()
    assert [(s["index"], s["name"], s["status"]) for s in steps] == [
        (0, "prepare", "succeeded"),
        (1, "define_domain", "succeeded"),
        (2, "verify", "failed"),
    ]
    assert steps[0]["duration_s"] is not None and "platform reachable" in steps[0]["output"]
    checks = client.get(f"{JOBS}{bad.pk}/checks/").json()
    assert [c["pointer"] for c in checks] == [c[1] for c in CHECKS]
    failed = [c for c in checks if not c["passed"]]
    assert (
        len(failed) == 1 and failed[0]["actual"] == "isolated" and failed[0]["source"] == "libvirt"
    )


# --- cancel -----------------------------------------------------------------------------------------


def test_cancel(api, users, jobs):
    ok, _, mine = jobs
    assert api(users["viewer"]).post(f"{JOBS}{mine.pk}/cancel/").status_code == 403
    assert api(users["author2"]).post(f"{JOBS}{mine.pk}/cancel/").status_code == 404
    response = api(users["author"]).post(f"{JOBS}{mine.pk}/cancel/")  # the requester
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled" and response.json()["cancel_requested"]
    response = api(users["operator"]).post(f"{JOBS}{ok.pk}/cancel/")
    assert response.status_code == 409 and "already ended" in response.json()["detail"]


def test_cancel_a_running_job_leaves_it_running_until_its_next_step(api, users, setup):
    version, platform = setup
    job = clone_job(users, version=version, platform=platform)
    job_services.job_transition(job=job, to=JobStatus.RUNNING, allowed=[JobStatus.QUEUED])
    response = api(users["operator"]).post(f"{JOBS}{job.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "running" and response.json()["cancel_requested"] is True


# --- notifications ----------------------------------------------------------------------------------


def test_notifications_list_and_mark_read(api, users, setup):
    viewer = users["viewer"]
    notes = [Notification.objects.create(recipient=viewer, message=f"n{i}") for i in range(3)]
    Notification.objects.create(recipient=users["operator"], message="theirs")
    client = api(viewer)
    body = client.get("/api/v1/notifications/").json()
    assert [n["message"] for n in body["results"]] == ["n2", "n1", "n0"]
    assert body["results"][0]["severity"] == "info" and body["results"][0]["read"] is False

    response = client.post("/api/v1/notifications/read/", {"ids": [notes[0].pk]}, format="json")
    assert response.json() == {"marked": 1, "unread": 2}
    unread = client.get("/api/v1/notifications/", {"unread": "true"}).json()
    assert [n["message"] for n in unread["results"]] == ["n2", "n1"]
    response = client.post("/api/v1/notifications/read/", {}, format="json")
    assert response.json() == {"marked": 2, "unread": 0}
    assert Notification.objects.get(message="theirs").read is False
    response = client.post("/api/v1/notifications/read/", {"ids": ["x"]}, format="json")
    assert response.status_code == 400 and "ids/0" in errors(response)


def test_openapi_lists_the_job_operations():
    from io import StringIO

    import yaml
    from django.core.management import call_command

    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    paths = schema["paths"]
    for path, method in [
        ("/api/v1/jobs/", "get"),
        ("/api/v1/jobs/", "post"),
        ("/api/v1/jobs/{id}/", "get"),
        ("/api/v1/jobs/{id}/cancel/", "post"),
        ("/api/v1/jobs/{id}/events/", "get"),
        ("/api/v1/jobs/{id}/steps/", "get"),
        ("/api/v1/jobs/{id}/checks/", "get"),
        ("/api/v1/notifications/", "get"),
        ("/api/v1/notifications/read/", "post"),
    ]:
        assert method in paths.get(path, {}), (path, method)
    request = schema["components"]["schemas"]["NewJobRequest"]
    assert request["discriminator"]["propertyName"] == "kind"
