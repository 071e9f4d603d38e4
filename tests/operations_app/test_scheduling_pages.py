"""Scheduled jobs on the pages: "When" on the migrate and clone forms (and its errors on
their fields), a scheduled job's page with its schedule, Approve/Reject for approvers
other than its requester, Move and Cancel; the jobs list filtered on ``scheduled``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from operations_app.models import JobStatus, OperationJob
from operations_app.services import snapshots as snapshot_services
from tests.operations_app.scheduling_support import OPENS, fleet, tomorrow, window

pytestmark = pytest.mark.django_db


@pytest.fixture
def f(users):
    made = fleet(users)
    window(users, "nightly")
    window(users, "lab-b-only", platforms=["lab-b"])
    return made


def migrate(client, vm, **data):
    return client.post(
        reverse("operations:vm_migrate", args=[vm.pk]),
        {"target": "lab-b", "mode": "auto", "action": "migrate", **data},
    )


def field_errors(response) -> dict[str, str]:
    page = response.content.decode()
    return {
        path: re.sub(r"<[^>]+>", "", message).strip()
        for path, message in re.findall(
            r'<span class="field-error" role="alert" data-path="([^"]+)">(.*?)</span>', page
        )
    }


def scheduled(users, vm, by="operator", **when):
    return snapshot_services.job_request_snapshot(user=users[by], vm=vm, **when)


# --------------------------------------------------------------------------- forms


def test_the_migrate_form_offers_the_windows_covering_the_vm(client, users, f):
    client.force_login(users["operator"])
    page = client.get(reverse("operations:vm_migrate", args=[f["web-1"].pk])).content.decode()
    window_select = re.search(r'<select name="window".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', window_select) == ["", "nightly"]
    assert 'name="when" value="auto"' in page and 'name="at_zone"' in page
    assert not re.search(r"\son[a-z]+=", page)  # no inline handlers (CSP)


def test_migrate_in_a_window_from_the_form(client, users, f):
    client.force_login(users["operator"])
    response = migrate(client, f["web-1"], when="window", window="nightly", on_miss="expire")
    assert response.status_code == 302
    job = OperationJob.objects.get()
    assert job.status == JobStatus.SCHEDULED and job.window.name == "nightly"
    assert job.not_before == tomorrow() + OPENS and job.on_miss == "expire"
    page = client.get(response["Location"]).content.decode()
    assert "scheduled (job #" in page and "maintenance window &#x27;nightly&#x27;" in page


def test_migrate_at_a_local_time_in_a_zone(client, users, f):
    client.force_login(users["operator"])
    day = (timezone.now() + timedelta(days=5)).date()
    response = migrate(
        client, f["web-1"], when="at", at=f"{day.isoformat()}T02:30", at_zone="Europe/Berlin"
    )
    assert response.status_code == 302
    job = OperationJob.objects.get()
    expected = datetime(day.year, day.month, day.day, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert job.schedule == "at" and job.not_before == expected


def test_migrate_in_the_next_covering_window(client, users, f):
    client.force_login(users["operator"])
    assert migrate(client, f["web-1"], when="auto").status_code == 302
    assert OperationJob.objects.get().window.name == "nightly"


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"when": "window"}, "window", "choose a maintenance window"),
        ({"when": "window", "window": "nope"}, "window", "no maintenance window named"),
        ({"when": "window", "window": "lab-b-only"}, "window", "does not cover web-1"),
        ({"when": "at", "at": "2020-01-01T02:00"}, "at", "is in the past"),
        ({"when": "at", "at": ""}, "at", "give a date and time"),
        ({"when": "at", "at": "tomorrow"}, "at", "a date and time"),
    ],
)
def test_bad_when_comes_back_on_its_field(client, users, f, data, path, message):
    client.force_login(users["operator"])
    response = migrate(client, f["web-1"], **data)
    assert response.status_code == 400
    assert message in field_errors(response)[path]
    assert not OperationJob.objects.exists()


def test_clone_in_a_window_from_the_form(client, users, f):
    client.force_login(users["operator"])
    response = client.post(
        reverse("operations:clone"),
        {
            "version": f["web"].pk,
            "platform": "lab-a",
            "vm_name": "web-9",
            "when": "window",
            "window": "nightly",
        },
    )
    assert response.status_code == 302, field_errors(response)
    job = OperationJob.objects.get()
    assert job.kind == "clone" and job.status == JobStatus.SCHEDULED
    # The clone form still lists its own fields first, then When.
    page = client.get(reverse("operations:clone")).content.decode()
    assert page.index('id="field-version"') < page.index('id="field-when"')


# --------------------------------------------------------------------------- the job page


def test_the_job_page_shows_the_schedule_and_who_may_decide(client, users, f):
    job = scheduled(users, f["prod-1"], window="nightly")
    url = job.get_absolute_url()
    client.force_login(users["operator"])  # the requester
    page = client.get(url).content.decode()
    assert 'id="schedule"' in page and "waits for approval" in page
    assert "Tue" in page or "01:00" in page
    assert 'id="job-approve-form"' not in page  # not for its requester
    assert 'id="job-schedule-form"' in page and 'id="job-cancel-form"' in page
    assert "It ends now and never starts." in page

    client.force_login(users["approver"])
    page = client.get(url).content.decode()
    assert 'id="job-approve-form"' in page and 'id="job-reject-form"' in page
    assert 'data-confirm="Approve job' in page
    assert 'id="job-schedule-form"' not in page  # approvers do not move jobs


def test_a_superuser_requester_gets_no_approve_button_and_is_refused(client, users, f):
    job = scheduled(users, f["prod-1"], by="admin", window="nightly")
    client.force_login(users["admin"])
    assert 'id="job-approve-form"' not in client.get(job.get_absolute_url()).content.decode()
    response = client.post(reverse("operations:job_approve", args=[job.pk]), follow=True)
    assert "admin requested job" in response.content.decode()
    job.refresh_from_db()
    assert job.approved_by is None


def test_approve_and_reject_from_the_page(client, users, f):
    job = scheduled(users, f["prod-1"], window="nightly")
    other = scheduled(users, f["prod-1"], window="nightly")
    client.force_login(users["approver"])
    response = client.post(
        reverse("operations:job_approve", args=[job.pk]), {"comment": "ok"}, follow=True
    )
    assert f"Job #{job.pk} approved" in response.content.decode()
    job.refresh_from_db()
    assert job.approved_by == users["approver"]
    page = client.get(job.get_absolute_url()).content.decode()
    assert 'id="approval-state">approved' in page and 'id="job-approve-form"' not in page

    response = client.post(reverse("operations:job_reject", args=[other.pk]), follow=True)
    assert "a rejection needs a comment" in response.content.decode()
    client.post(reverse("operations:job_reject", args=[other.pk]), {"comment": "freeze"})
    other.refresh_from_db()
    assert other.status == JobStatus.REJECTED
    page = client.get(other.get_absolute_url()).content.decode()
    assert "Rejected by approver: freeze" in page


def test_move_and_cancel_from_the_page(client, users, f):
    job = scheduled(users, f["web-1"], window="nightly")
    client.force_login(users["operator"])
    at = (timezone.now() + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("operations:job_schedule", args=[job.pk]),
        {"when": "at", "at": at, "at_zone": "UTC", "on_miss": "expire"},
        follow=True,
    )
    assert f"Job #{job.pk} moved" in response.content.decode()
    job.refresh_from_db()
    assert job.schedule == "at" and job.on_miss == "expire"
    response = client.post(
        reverse("operations:job_schedule", args=[job.pk]),
        {"when": "window", "window": "lab-b-only", "on_miss": "next"},
        follow=True,
    )
    assert "does not cover web-1" in response.content.decode()
    response = client.post(
        reverse("operations:job_schedule", args=[job.pk]), {"when": "keep", "on_miss": "next"}
    )
    job.refresh_from_db()
    assert job.on_miss == "next" and job.schedule == "at"
    client.force_login(users["viewer"])
    client.post(reverse("operations:job_schedule", args=[job.pk]), {"when": "auto"})
    job.refresh_from_db()
    assert job.schedule == "at"
    client.force_login(users["operator"])
    response = client.post(reverse("operations:job_cancel", args=[job.pk]), follow=True)
    assert "cancelled before it started" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_the_jobs_list_filters_scheduled(client, users, f):
    job = scheduled(users, f["web-1"], window="nightly")
    queued = scheduled(users, f["prod-1"])
    client.force_login(users["operator"])
    page = client.get(reverse("operations:jobs"), {"status": "scheduled"}).content.decode()
    assert f'data-job="{job.pk}"' in page and f'data-job="{queued.pk}"' not in page
    assert '<option value="scheduled" selected' in page
    assert "nightly" in page


def test_the_calendar_lists_a_job_scheduled_for_a_window_under_its_occurrence(client, users, f):
    job = snapshot_services.job_request_snapshot(
        user=users["operator"], vm=f["web-1"], window="nightly"
    )
    client.force_login(users["viewer"])
    response = client.get(
        reverse("operations:window_calendar"),
        {"start": tomorrow().date().isoformat(), "weeks": "1", "tz": "UTC"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert f'<a href="{job.get_absolute_url()}">Take a snapshot web-1 (#{job.pk})</a>' in page
