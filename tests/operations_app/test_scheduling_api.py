"""Scheduled jobs through the API: requests with ``window``, ``at`` and ``on_miss`` (and
bad values, each on its path), the job's schedule fields, moving, approving, rejecting
and cancelling one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from operations_app.models import JobStatus, OperationJob
from tests.operations_app.job_support import JOBS, errors
from tests.operations_app.scheduling_support import (
    LAST_START,
    OPENS,
    fleet,
    queued_tasks,
    tomorrow,
    window,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def f(users):
    made = fleet(users)
    window(users, "nightly")
    return made


def snapshot_body(vm, **when) -> dict:
    return {"kind": "snapshot", "vm": vm.pk, **when}


def post(api, user, body):
    return api(user).post(JOBS, body, format="json")


def test_a_snapshot_for_a_window_is_scheduled(api, users, f, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api, users["operator"], snapshot_body(f["web-1"], window="nightly"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "scheduled" and body["schedule"] == "window"
    assert body["window"] == "nightly" and body["on_miss"] == "next"
    assert body["not_before"] == (tomorrow() + OPENS).isoformat().replace("+00:00", "Z")
    assert body["not_after"] == (tomorrow() + LAST_START).isoformat().replace("+00:00", "Z")
    assert body["approval_required"] is False and body["approved_by"] is None
    assert body["links"]["schedule"].endswith(f"/jobs/{body['id']}/schedule/")
    assert body["links"]["approve"].endswith(f"/jobs/{body['id']}/approve/")
    assert queued_tasks() == []


def test_every_kind_takes_window_or_at(api, users, f):
    at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    migrate = post(
        api,
        users["operator"],
        {
            "kind": "migrate",
            "vm": "web-1",
            "target": "lab-b",
            "at": at.astimezone(timezone.get_fixed_timezone(120)).isoformat(),
            "on_miss": "expire",
        },
    )
    assert migrate.status_code == 201, migrate.content
    job = OperationJob.objects.get(pk=migrate.json()["id"])
    assert job.status == JobStatus.SCHEDULED and job.not_before == at and job.on_miss == "expire"
    clone = post(
        api,
        users["operator"],
        {
            "kind": "clone",
            "profile": "web",
            "platform": "lab-a",
            "vm_name": "web-9",
            "window": "auto",
        },
    )
    assert clone.status_code == 201, clone.content
    assert clone.json()["schedule"] == "auto" and clone.json()["window"] == "nightly"
    gone = post(
        api, users["operator"], {"kind": "decommission", "vm": f["web-1"].pk, "window": "nightly"}
    )
    assert gone.status_code == 201 and gone.json()["status"] == "scheduled"
    # Empty values: queued now.
    now = post(api, users["operator"], snapshot_body(f["web-1"], window="", at=None))
    assert now.status_code == 201 and now.json()["status"] == "queued"


@pytest.mark.parametrize(
    ("when", "path", "message"),
    [
        ({"window": "nope"}, "window", "no maintenance window named 'nope'"),
        ({"at": "2020-01-01T00:00:00Z"}, "at", "is in the past"),
        ({"at": "2031-01-01T00:00:00"}, "at", "needs its UTC offset"),
        ({"at": "soon"}, "at", "not a time"),
        ({"window": "nightly", "at": "2031-01-01T00:00:00Z"}, "at", "not both"),
        ({"window": "nightly", "on_miss": "retry"}, "on_miss", "not a valid choice"),
    ],
)
def test_bad_schedules_answer_400_on_their_path(api, users, f, when, path, message):
    response = post(api, users["operator"], snapshot_body(f["web-1"], **when))
    assert response.status_code == 400, response.content
    assert message in errors(response)[path]
    assert not OperationJob.objects.exists()


def test_a_window_that_does_not_cover_the_vm(api, users, f):
    window(users, "lab-b-only", platforms=["lab-b"])
    response = post(
        api,
        users["operator"],
        {"kind": "migrate", "vm": "web-1", "target": "lab-b", "window": "lab-b-only"},
    )
    assert response.status_code == 400
    assert errors(response) == {"window": "maintenance window 'lab-b-only' does not cover web-1"}


def test_list_filters_scheduled_jobs(api, users, f):
    scheduled = post(api, users["operator"], snapshot_body(f["web-1"], window="nightly")).json()
    post(api, users["operator"], snapshot_body(f["prod-1"]))
    response = api(users["operator"]).get(JOBS, {"status": "scheduled"})
    assert [j["id"] for j in response.json()["results"]] == [scheduled["id"]]
    active = api(users["operator"]).get(JOBS, {"status": "active"}).json()["results"]
    assert scheduled["id"] not in [j["id"] for j in active]


def test_move_a_scheduled_job(api, users, f):
    job = post(api, users["operator"], snapshot_body(f["web-1"], window="nightly")).json()
    url = f"{JOBS}{job['id']}/schedule/"
    at = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    response = api(users["operator"]).post(url, {"at": at.isoformat()}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["schedule"] == "at" and response.json()["window"] is None
    response = api(users["operator"]).post(url, {"on_miss": "expire"}, format="json")
    assert response.json()["on_miss"] == "expire" and response.json()["schedule"] == "at"
    response = api(users["operator"]).post(url, {"window": "nope"}, format="json")
    assert response.status_code == 400 and "nope" in errors(response)["window"]
    response = api(users["operator"]).post(url, {}, format="json")
    assert response.status_code == 400 and "say what changes" in errors(response)["window"]
    # A viewer sees it but may not move it; an author does not even see it.
    assert api(users["viewer"]).post(url, {"window": "auto"}, format="json").status_code == 403
    assert api(users["author"]).post(url, {"window": "auto"}, format="json").status_code == 404


def test_approval_through_the_api(api, users, f):
    job = post(api, users["operator"], snapshot_body(f["prod-1"], window="nightly")).json()
    assert job["approval_required"] is True
    approve = f"{JOBS}{job['id']}/approve/"
    response = api(users["operator"]).post(approve, {}, format="json")
    assert response.status_code == 403 and "'approvers' role" in response.json()["detail"]
    response = api(users["approver"]).post(approve, {"comment": "ok"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["approved_by"] == "approver" and response.json()["approved_at"]
    assert api(users["approver2"]).post(approve, {}, format="json").status_code == 409


def test_a_superuser_may_not_approve_their_own_job(api, users, f):
    job = post(api, users["admin"], snapshot_body(f["prod-1"], window="nightly")).json()
    response = api(users["admin"]).post(f"{JOBS}{job['id']}/approve/", {}, format="json")
    assert response.status_code == 403
    assert "admin requested job" in response.json()["detail"]
    assert OperationJob.objects.get(pk=job["id"]).approved_by is None


def test_reject_through_the_api(api, users, f):
    job = post(api, users["operator"], snapshot_body(f["prod-1"], window="nightly")).json()
    reject = f"{JOBS}{job['id']}/reject/"
    response = api(users["approver"]).post(reject, {}, format="json")
    assert response.status_code == 400 and "tells the requester why" in errors(response)["comment"]
    response = api(users["approver"]).post(reject, {"comment": "freeze week"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["error"] == "Rejected by approver: freeze week"
    assert (
        api(users["approver"]).post(reject, {"comment": "again"}, format="json").status_code == 409
    )


def test_cancel_a_scheduled_job(api, users, f):
    job = post(api, users["operator"], snapshot_body(f["web-1"], window="nightly")).json()
    response = api(users["operator"]).post(f"{JOBS}{job['id']}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
