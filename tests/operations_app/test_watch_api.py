"""The health watch in the API: ``watch_until`` on a job, and confirming or extending the
watch (who may, in which state, and the answers to invalid minutes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from operations_app.services.watch import EXTEND_MINUTES_MAX, watch_latest_end
from tests.operations_app.job_support import (
    JOBS,
    approved_version,
    clone_job,
    errors,
    make_platform,
)
from tests.operations_app.watch_support import watch_events, watching_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(users):
    return approved_version(users), make_platform()


@pytest.fixture
def job(users, setup):
    """Watching for ten more minutes; requested by "author"."""
    version, platform = setup
    return watching_job(users, version=version, platform=platform)


def _until(body) -> object:
    return parse_datetime(body["watch_until"])


def test_a_watching_job_shows_when_its_watch_ends(api, users, job):
    body = api(users["viewer"]).get(f"{JOBS}{job.pk}/").json()
    assert body["status"] == "watching"
    assert _until(body) == job.watch_until
    assert body["links"]["watch_confirm"].endswith(f"/api/v1/jobs/{job.pk}/watch/confirm/")
    assert body["links"]["watch_extend"].endswith(f"/api/v1/jobs/{job.pk}/watch/extend/")
    listed = api(users["viewer"]).get(JOBS, {"status": "watching"}).json()["results"]
    assert [j["id"] for j in listed] == [job.pk] and listed[0]["watch_until"]


def test_a_job_that_never_watched_has_no_watch_until(api, users, setup):
    version, platform = setup
    queued = clone_job(users, vm_name="web-q", version=version, platform=platform)
    assert api(users["operator"]).get(f"{JOBS}{queued.pk}/").json()["watch_until"] is None


def test_the_requester_confirms_the_watch(api, users, job):
    before = timezone.now()
    response = api(users["author"]).post(f"{JOBS}{job.pk}/watch/confirm/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == job.pk and body["status"] == "watching"  # until the runner ends it
    assert before <= _until(body) <= timezone.now()
    job.refresh_from_db()
    assert job.watch_until == _until(body)
    [event] = watch_events(job)
    assert event["action"] == "confirm" and event["by"] == "author"
    assert parse_datetime(event["until"]) == job.watch_until
    assert job.history.first().history_change_reason == "health watch confirmed"
    assert job.history.first().history_user == users["author"]


def test_an_operator_extends_the_watch(api, users, job):
    old = job.watch_until
    response = api(users["operator"]).post(
        f"{JOBS}{job.pk}/watch/extend/", {"minutes": 30}, format="json"
    )
    assert response.status_code == 200, response.content
    assert _until(response.json()) == old + timedelta(minutes=30)
    job.refresh_from_db()
    assert job.watch_until == old + timedelta(minutes=30)
    [event] = watch_events(job)
    assert event == {
        "action": "extend",
        "by": "operator",
        "until": job.watch_until.isoformat(),
        "minutes": 30,
    }


def test_extend_defaults_to_fifteen_minutes_and_takes_a_form_body(api, users, job):
    old = job.watch_until
    response = api(users["author"]).post(f"{JOBS}{job.pk}/watch/extend/", {}, format="json")
    assert _until(response.json()) == old + timedelta(minutes=15)
    response = api(users["author"]).post(f"{JOBS}{job.pk}/watch/extend/", {"minutes": "5"})
    assert response.status_code == 200
    assert _until(response.json()) == old + timedelta(minutes=20)
    assert [e["minutes"] for e in watch_events(job)] == [15, 5]


def test_a_watch_ends_before_the_worker_would_be_stopped(api, users, job):
    latest = watch_latest_end(job)
    too_many = int((latest - job.watch_until).total_seconds() // 60) + 1
    response = api(users["operator"]).post(
        f"{JOBS}{job.pk}/watch/extend/", {"minutes": too_many}, format="json"
    )
    assert response.status_code == 400
    assert "at the latest" in errors(response)["minutes"]
    response = api(users["operator"]).post(
        f"{JOBS}{job.pk}/watch/extend/", {"minutes": too_many - 1}, format="json"
    )
    assert response.status_code == 200, response.content
    assert _until(response.json()) <= latest


def test_an_extension_of_a_watch_already_due_counts_from_now(api, users, setup):
    version, platform = setup
    due = watching_job(users, version=version, platform=platform, left=timedelta(minutes=-5))
    before = timezone.now()
    body = (
        api(users["operator"])
        .post(f"{JOBS}{due.pk}/watch/extend/", {"minutes": 10}, format="json")
        .json()
    )
    assert before + timedelta(minutes=10) <= _until(body) <= timezone.now() + timedelta(minutes=10)


@pytest.mark.parametrize("action", ["confirm", "extend"])
def test_viewers_and_other_authors_are_refused(api, users, job, action):
    url = f"{JOBS}{job.pk}/watch/{action}/"
    response = api(users["viewer"]).post(url, {"minutes": 10}, format="json")
    assert response.status_code == 403
    assert "Only operators or the job's requester" in response.json()["detail"]
    # Someone who may not see the job hears it does not exist.
    assert api(users["author2"]).post(url, {"minutes": 10}, format="json").status_code == 404
    assert api(users["operator"]).post(f"{JOBS}999999/watch/{action}/").status_code == 404
    old = job.watch_until
    job.refresh_from_db()
    assert job.watch_until == old and watch_events(job) == []


@pytest.mark.parametrize("action", ["confirm", "extend"])
def test_a_job_that_is_not_watching_answers_409(api, users, setup, action):
    version, platform = setup
    queued = clone_job(users, vm_name="web-q", version=version, platform=platform)
    response = api(users["operator"]).post(
        f"{JOBS}{queued.pk}/watch/{action}/", {"minutes": 10}, format="json"
    )
    assert response.status_code == 409
    assert "not watching" in response.json()["detail"]
    queued.refresh_from_db()
    assert queued.watch_until is None and watch_events(queued) == []


@pytest.mark.parametrize("minutes", [0, -5, "abc", 100000, EXTEND_MINUTES_MAX + 1, 1.5, True, None])
def test_invalid_minutes_answer_400_with_the_field(api, users, job, minutes):
    response = api(users["operator"]).post(
        f"{JOBS}{job.pk}/watch/extend/", {"minutes": minutes}, format="json"
    )
    assert response.status_code == 400, response.content
    assert list(errors(response)) == ["minutes"]
    old = job.watch_until
    job.refresh_from_db()
    assert job.watch_until == old and watch_events(job) == []


def test_the_range_is_named_in_the_answer(api, users, job):
    response = api(users["operator"]).post(
        f"{JOBS}{job.pk}/watch/extend/", {"minutes": 100000}, format="json"
    )
    assert errors(response) == {"minutes": f"must be between 1 and {EXTEND_MINUTES_MAX}"}


def test_openapi_documents_the_watch_endpoints():
    from io import StringIO

    import yaml
    from django.core.management import call_command

    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    confirm = schema["paths"]["/api/v1/jobs/{id}/watch/confirm/"]["post"]
    extend = schema["paths"]["/api/v1/jobs/{id}/watch/extend/"]["post"]
    assert confirm["operationId"] == "jobs_watch_confirm"
    assert extend["operationId"] == "jobs_watch_extend"
    assert {"200", "403", "404", "409"} <= set(confirm["responses"])
    assert {"200", "400", "403", "404", "409"} <= set(extend["responses"])
    body = extend["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert request["properties"]["minutes"]["type"] == "integer"
    job = schema["components"]["schemas"]["JobDetail"]["properties"]
    assert job["watch_until"]["format"] == "date-time" and job["watch_until"]["nullable"]
    assert "watching" in schema["components"]["schemas"]["JobStatusEnum"]["enum"]
