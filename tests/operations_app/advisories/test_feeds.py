"""Advisory feeds imported periodically: each configured feed is imported as the system
when due, its last success and failure are kept and shown on /ops/advisories/ and by
``persona advisory feeds``, and the administrators are told once per failure streak.
The feeds are served by a local http.server."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from operations_app import tasks
from operations_app.models import Advisory, AdvisoryFeed, Notification
from operations_app.services import advisories as advisory_services
from tests.operations_app.job_support import persona

from .feeds import osv_feed, text
from .test_import import served

pytestmark = pytest.mark.django_db

JSON = {"Content-Type": "application/json"}


def test_the_schedule_runs_the_task():
    schedule = Schedule.objects.get(func="operations_app.tasks.import_advisory_feeds")
    assert schedule.schedule_type == "I" and schedule.minutes == 15


def test_due_feeds_are_imported_and_failures_told_once_per_streak(
    users, client, settings, no_cli_user
):
    routes = {"/osv.json": (200, JSON, text(osv_feed())), "/broken.json": (500, {}, b"oops")}
    with served(routes) as base:
        good, bad = f"{base}/osv.json", f"{base}/broken.json"
        settings.VMPERSONA_ADVISORY_FEEDS = [good, bad]
        settings.VMPERSONA_ADVISORY_FEED_HOURS = 6
        now = timezone.now()
        assert advisory_services.advisory_feeds_tick(now=now) == {
            good: "imported",
            bad: "failed",
        }
        assert Advisory.objects.count() == 3
        ok = AdvisoryFeed.objects.get(url=good)
        assert ok.last_success_at == now and ok.failures == 0
        assert ok.last_counts["created"] == 3 and ok.last_counts["total"] == 3
        broken = AdvisoryFeed.objects.get(url=bad)
        assert broken.failures == 1 and "answered 500" in broken.last_error
        told = Notification.objects.filter(message__contains=bad)
        administrators = told.values_list("recipient__username", flat=True)
        assert set(administrators) == {"operator", "admin"}

        # not due yet: nothing is fetched
        assert set(
            advisory_services.advisory_feeds_tick(now=now + timedelta(hours=1)).values()
        ) == {"not due"}
        # due again, still failing: recorded, not told again
        later = now + timedelta(hours=6)
        assert tasks.import_advisory_feeds  # the schedule's entry point
        assert advisory_services.advisory_feeds_tick(now=later)[bad] == "failed"
        broken.refresh_from_db()
        assert broken.failures == 2 and broken.last_failure_at == later
        assert told.count() == 2  # one per administrator, from the first failure

        # the page and the command line show both
        client.force_login(users["viewer"])
        page = client.get("/ops/advisories/").content.decode()
        assert good in page and "3 advisories: 0 new, 0 updated, 3 unchanged" in page
        assert bad in page and "answered 500" in page and "(2 in a row)" in page
        code, out, _ = persona("advisory", "feeds")
        assert code == 0 and good in out and "answered 500" in out and "2 in a row" in out
        code, out, _ = persona("advisory", "feeds", "--json")
        listed = {f["url"]: f for f in json.loads(out)}
        assert listed[good]["last_counts"]["total"] == 3 and listed[bad]["failures"] == 2

        # it comes back, then fails again: a new streak, told again
        routes["/broken.json"] = (200, JSON, text(osv_feed()))
        assert advisory_services.advisory_feeds_tick(now=later + timedelta(hours=6))[bad] == (
            "imported"
        )
        broken.refresh_from_db()
        assert broken.failures == 0 and broken.last_error == ""
        assert broken.last_counts["unchanged"] == 3
        routes["/broken.json"] = (200, JSON, b"{not json")
        assert advisory_services.advisory_feeds_tick(now=later + timedelta(hours=12))[bad] == (
            "failed"
        )
        broken.refresh_from_db()
        assert broken.last_error.startswith("/: not JSON")
        assert told.count() == 4


def test_a_bad_url_setting_is_a_failure_naming_the_field(users, settings):
    settings.VMPERSONA_ADVISORY_FEEDS = ["ftp://example.invalid/feed.json"]
    assert advisory_services.advisory_feeds_tick() == {"ftp://example.invalid/feed.json": "failed"}
    feed = AdvisoryFeed.objects.get()
    assert feed.last_error == "url: an http:// or https:// URL"


def test_without_feeds_nothing_is_done_and_the_page_says_how(users, client, settings):
    settings.VMPERSONA_ADVISORY_FEEDS = []
    assert advisory_services.advisory_feeds_tick() == {}
    client.force_login(users["viewer"])
    assert "VMPERSONA_ADVISORY_FEEDS" in client.get("/ops/advisories/").content.decode()
