"""The health watch on the job page: the panel while a job watches, who gets Confirm and
Extend, what they do, and the answers to refusals and invalid minutes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from operations_app.models import JobStatus
from operations_app.services import jobs as job_services
from operations_app.services.watch import watch_latest_end
from tests.operations_app.job_support import approved_version, clone_job, drive, make_platform
from tests.operations_app.watch_support import ROUND_CHECKS, watch_events, watching_job

pytestmark = pytest.mark.django_db


def page(client, user, path, **params):
    client.force_login(user)
    response = client.get(path, params)
    return response, response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def panel(html: str) -> str:
    """The watch panel's HTML ("" when the page has none)."""
    found = re.search(r'<section class="panel watch-panel" id="watch".*?</section>', html, re.S)
    return found.group(0) if found else ""


@pytest.fixture
def setup(users):
    return approved_version(users), make_platform()


@pytest.fixture
def job(users, setup):
    """Watching for ten more minutes, three rounds in; requested by "author"."""
    version, platform = setup
    return watching_job(users, version=version, platform=platform, rounds=3)


# --- the panel ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["operator", "admin", "author"])
def test_the_panel_offers_confirm_and_extend_to_operators_and_the_requester(
    client, users, job, name
):
    response, html = page(client, users[name], reverse("operations:job", args=[job.pk]))
    assert response.status_code == 200
    box = panel(html)
    assert box and "hidden" not in box.split(">", 1)[0]
    assert 'id="watch-confirm-form"' in box and ">Confirm now</button>" in box
    assert f'action="{reverse("operations:job_watch_confirm", args=[job.pk])}"' in box
    assert f'action="{reverse("operations:job_watch_extend", args=[job.pk])}"' in box
    assert re.search(r'<input type="number" id="watch-minutes" name="minutes" value="15"', box)
    assert ">Extend</button>" in box
    # Under the page's policy: the confirm dialog comes from the static script.
    assert "data-confirm=" in box and "onsubmit" not in box and "onclick" not in box


def test_a_viewer_sees_the_watch_without_the_buttons(client, users, job):
    _, html = page(client, users["viewer"], reverse("operations:job", args=[job.pk]))
    box = panel(html)
    assert "Watching <strong" in box and "web-w" in box
    assert "watch-confirm-form" not in box and "watch-extend-form" not in box
    assert "job-cancel-form" not in html


def test_the_panel_shows_the_end_and_the_last_round(client, users, job):
    _, html = page(client, users["viewer"], reverse("operations:job", args=[job.pk]))
    box = panel(html)
    until = timezone.localtime(job.watch_until)
    assert f'id="watch-until" class="js-time" datetime="{until.isoformat()}"' in box
    assert f">{until:%H:%M:%S}</time>" in box
    assert re.search(r'id="watch-remaining">in (9 min( \d\d? s)?|10 min)<', box)
    assert "If the probes keep failing, the clone is rolled back" in box
    # The third round: two probes passed, the HTTP check failed.
    assert 'id="watch-state">failing<' in box
    assert "Health round 3: 2/3 passed; failed: http://127.0.0.1/healthz answers" in box
    for check in ROUND_CHECKS:
        assert check["name"] in box and check["pointer"] in box
    assert box.count('<tr class="pass">') == 2 and box.count('<tr class="fail">') == 1
    assert "HTTP 503" in box
    # The status badge, and the job list's filter.
    assert 'class="jb jb-watching" data-status="watching">Watching health<' in html
    assert ".jb-watching {" in html


def test_a_watch_at_its_latest_end_offers_no_extension(client, users, job):
    job.watch_until = watch_latest_end(job)
    job.save(update_fields=["watch_until"])
    _, html = page(client, users["operator"], reverse("operations:job", args=[job.pk]))
    box = panel(html)
    assert "watch-confirm-form" in box and "watch-extend-form" not in box
    assert "The watch cannot be extended further." in box


def test_the_extension_offered_fits_before_the_latest_end(client, users, job):
    job.watch_until = watch_latest_end(job) - timedelta(minutes=6, seconds=30)
    job.save(update_fields=["watch_until"])
    _, html = page(client, users["operator"], reverse("operations:job", args=[job.pk]))
    assert 'name="minutes" value="6" min="1" max="6"' in panel(html)


def test_a_watch_without_a_round_yet(client, users, setup):
    version, platform = setup
    fresh = watching_job(users, version=version, platform=platform, rounds=0)
    _, html = page(client, users["operator"], reverse("operations:job", args=[fresh.pk]))
    box = panel(html)
    assert 'id="watch-empty">' in box and 'id="watch-table" hidden' in box
    assert 'id="watch-state" hidden' in box


def test_a_migration_says_where_the_vm_goes_back(client, users, setup, lab):
    version, platform = setup
    job = watching_job(users, version=version, platform=platform)
    job.kind, job.source_platform = "migrate", lab[0]
    job.save(update_fields=["kind", "source_platform"])
    _, html = page(client, users["operator"], reverse("operations:job", args=[job.pk]))
    assert "the VM moves back to lab-a (kept stopped until then)" in panel(html)
    assert "The copy on the source is then removed." in panel(html)


def test_an_active_job_carries_the_panel_hidden_and_a_finished_one_none(client, users, setup):
    version, platform = setup
    running = clone_job(users, vm_name="web-r", version=version, platform=platform)
    job_services.job_transition(job=running, to=JobStatus.RUNNING, allowed=[JobStatus.QUEUED])
    _, html = page(client, users["operator"], reverse("operations:job", args=[running.pk]))
    assert panel(html).startswith('<section class="panel watch-panel" id="watch" hidden')
    done = drive(clone_job(users, vm_name="web-d", version=version, platform=platform))
    _, html = page(client, users["operator"], reverse("operations:job", args=[done.pk]))
    assert panel(html) == ""


def test_the_job_list_filters_watching_jobs(client, users, job, setup):
    version, platform = setup
    clone_job(users, vm_name="web-other", version=version, platform=platform)
    _, html = page(client, users["viewer"], reverse("operations:jobs"), status="watching")
    assert '<option value="watching" selected>' in html
    assert f'data-job="{job.pk}"' in html and "web-other" not in html


# --- confirm and extend -------------------------------------------------------------------------


def test_the_requester_confirms_from_the_page(client, users, job):
    client.force_login(users["author"])
    before = timezone.now()
    response = client.post(reverse("operations:job_watch_confirm", args=[job.pk]), follow=True)
    assert response.status_code == 200
    assert any("Health watch confirmed" in m for m in messages_of(response))
    job.refresh_from_db()
    assert before <= job.watch_until <= timezone.now()
    [event] = watch_events(job)
    assert event["action"] == "confirm" and event["by"] == "author"
    # The log shows it.
    assert "watch confirmed by author" in response.content.decode()


def test_an_operator_extends_from_the_page(client, users, job):
    old = job.watch_until
    client.force_login(users["operator"])
    response = client.post(
        reverse("operations:job_watch_extend", args=[job.pk]), {"minutes": "20"}, follow=True
    )
    job.refresh_from_db()
    assert job.watch_until == old + timedelta(minutes=20)
    until = timezone.localtime(job.watch_until)
    assert any(f"extended by 20 min: until {until:%H:%M:%S}" in m for m in messages_of(response))
    [event] = watch_events(job)
    assert event["action"] == "extend" and event["minutes"] == 20 and event["by"] == "operator"
    html = response.content.decode()
    assert "watch extended by 20 min by operator" in html
    assert f">{until:%H:%M:%S}</time>" in panel(html)


@pytest.mark.parametrize("action", ["confirm", "extend"])
def test_viewers_are_refused(client, users, job, action):
    client.force_login(users["viewer"])
    url = reverse(f"operations:job_watch_{action}", args=[job.pk])
    response = client.post(url, {"minutes": "10"}, follow=True)
    assert any("Only operators or the job's requester" in m for m in messages_of(response))
    old = job.watch_until
    job.refresh_from_db()
    assert job.watch_until == old and watch_events(job) == []
    # Someone who may not see the job gets a 404.
    client.force_login(users["author2"])
    assert client.post(url, {"minutes": "10"}).status_code == 404


@pytest.mark.parametrize("action", ["confirm", "extend"])
def test_a_job_that_is_not_watching_is_refused(client, users, setup, action):
    version, platform = setup
    done = drive(clone_job(users, vm_name="web-d", version=version, platform=platform))
    client.force_login(users["operator"])
    response = client.post(
        reverse(f"operations:job_watch_{action}", args=[done.pk]), {"minutes": "10"}, follow=True
    )
    assert any("is succeeded, not watching" in m for m in messages_of(response))
    assert watch_events(done) == []


@pytest.mark.parametrize(
    "minutes, message",
    [
        ("0", "minutes: must be between 1 and 1440"),
        ("100000", "minutes: must be between 1 and 1440"),
        ("abc", "minutes: must be a whole number of minutes"),
        ("", "minutes: must be a whole number of minutes"),
        ("50", "minutes: the watch can end at"),
    ],
)
def test_invalid_minutes_are_refused_with_the_field(client, users, job, minutes, message):
    client.force_login(users["operator"])
    response = client.post(
        reverse("operations:job_watch_extend", args=[job.pk]), {"minutes": minutes}, follow=True
    )
    assert any(
        m.startswith(f"Could not extend the health watch of job #{job.pk}: {message}")
        for m in messages_of(response)
    ), messages_of(response)
    old = job.watch_until
    job.refresh_from_db()
    assert job.watch_until == old and watch_events(job) == []


@pytest.mark.parametrize("action", ["confirm", "extend"])
def test_confirm_and_extend_are_post_only(client, users, job, action):
    client.force_login(users["operator"])
    response = client.get(reverse(f"operations:job_watch_{action}", args=[job.pk]))
    assert response.status_code == 405
