"""Reminders before a window's occurrence opens, a summary when its work ended, and the
window's webhook (services.window_notices). The clock is driven by passing ``now``; the
webhook is a local HTTP server on 127.0.0.1 started by the test.

The windows (tests/operations_app/scheduling_support.py) open daily at 01:00 UTC from
tomorrow for 4 hours, no new work in the last 30 minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import Group, User
from django.test import override_settings

from operations_app import tasks
from operations_app.models import JobStatus, Notification, WindowOccurrenceRecord
from operations_app.services import jobs as job_services
from operations_app.services import scheduling, window_notices
from operations_app.services import snapshots as snapshot_services
from operations_app.services.window_notices import (
    WEBHOOK_ATTEMPTS,
    webhook_secret,
    window_reminders_tick,
)
from tests.operations_app.job_support import managed_vm
from tests.operations_app.scheduling_support import OPENS, fleet, tomorrow, window
from vmpersona.roles import OPERATORS

pytestmark = pytest.mark.django_db

START = OPENS  # the occurrence opens at tomorrow() + START
END = timedelta(hours=5)


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    """The local webhook server is reached directly, whatever the environment says."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def f(users):
    return fleet(users)


@pytest.fixture
def requester(users):
    """carol requested jobs as an operator and is no operator any more: she is told as
    their requester, not as an administrator."""
    carol = User.objects.create_user("carol", "carol@example.test", "pw-carol-Secret!1")
    carol.groups.add(Group.objects.get(name=OPERATORS))
    return carol


def demote(user) -> None:
    user.groups.clear()


class Hook:
    """A webhook receiver on 127.0.0.1: what it was sent, and what it answers."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.location = ""
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                hook.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(hook.status)
                if hook.location:
                    self.send_header("Location", hook.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def hook():
    receiver = Hook()
    yield receiver
    receiver.close()


def refused_url() -> str:
    """An address on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def snapshot(user, vm, **when):
    return snapshot_services.job_request_snapshot(user=user, vm=vm, **when)


def at(delta: timedelta):
    return tomorrow() + delta


def notes(**filters) -> list[Notification]:
    return list(Notification.objects.filter(**filters).order_by("pk"))


def window_notes() -> list[Notification]:
    return notes(message__startswith="Window '")


def tick(now):
    return window_reminders_tick(now=now)


def run_to(job, status: str, error: str = "") -> None:
    """Take a queued job through running to ``status``, as a worker would."""
    job = job_services.job_transition(
        job=job, to=JobStatus.RUNNING, allowed=[JobStatus.QUEUED], user=None
    )
    if status != JobStatus.RUNNING:
        job_services.job_transition(
            job=job, to=status, allowed=[JobStatus.RUNNING], user=None, error=error
        )


# --------------------------------------------------------------------------- reminders


def test_the_reminder_goes_out_once_an_hour_before_to_requesters_and_admins(
    users, f, requester, mailoutbox, django_capture_on_commit_callbacks
):
    window(users, "payments-patching")
    web2 = managed_vm(f["web"], f["lab-a"], "web-2", execution_flags=["Testing"])
    first = snapshot(requester, f["web-1"], window="payments-patching")
    second = snapshot(users["operator"], web2, window="payments-patching")
    demote(requester)
    Notification.objects.all().delete()

    assert tick(at(START - timedelta(minutes=61)))["reminded"] == []
    assert window_notes() == []

    with django_capture_on_commit_callbacks(execute=True):
        done = tick(at(START - timedelta(minutes=60)))
    assert done["reminded"] == [f"payments-patching@{at(START).isoformat()}"]
    sent = window_notes()
    assert {n.recipient.username for n in sent} == {"carol", "operator", "admin"}
    message = sent[0].message
    assert message.startswith("Window 'payments-patching' opens ")
    assert "01:00 UTC (in 60 min): 2 operations — " in message
    assert f"snapshot web-1 (#{first.pk})" in message
    assert f"snapshot web-2 (#{second.pk})" in message
    assert sent[0].link == "/ops/windows/payments-patching/#notices"
    assert sent[0].severity == "info"

    (mail,) = [m for m in mailoutbox if m.subject.startswith("[VM Persona] Info: Window")]
    assert set(mail.to) == {"carol@example.test", "operator@example.test", "admin@example.test"}
    assert f"/ops/jobs/{first.pk}/" in mail.body and f"/ops/jobs/{second.pk}/" in mail.body
    assert "requested by carol" in mail.body

    # Once per occurrence: later ticks before the opening send nothing more.
    for minutes in (59, 30, 1):
        assert tick(at(START - timedelta(minutes=minutes)))["reminded"] == []
    assert len(window_notes()) == 3
    record = WindowOccurrenceRecord.objects.get()
    assert record.occurrence_start == at(START) and record.occurrence_end == at(END)
    assert record.reminded_at == at(START - timedelta(minutes=60))
    assert record.summarized_at is None


def test_a_job_scheduled_after_the_reminder_time_is_reminded_of_with_the_minutes_left(users, f):
    window(users, "nightly")
    snapshot(users["operator"], f["web-1"], window="nightly")
    tick(at(START - timedelta(minutes=23, seconds=30)))
    (note,) = notes(recipient=users["operator"], message__startswith="Window")
    assert "(in 24 min): 1 operation — snapshot web-1" in note.message
    # After the opening no reminder goes out.
    window(users, "late")
    snapshot(users["operator"], f["prod-1"], window="late")
    assert tick(at(START + timedelta(minutes=1)))["reminded"] == []


@override_settings(VMPERSONA_WINDOW_REMINDER_MINUTES=15)
def test_the_reminder_time_is_a_setting(users, f):
    window(users, "nightly")
    snapshot(users["operator"], f["web-1"], window="nightly")
    assert tick(at(START - timedelta(minutes=16)))["reminded"] == []
    assert len(tick(at(START - timedelta(minutes=15)))["reminded"]) == 1


def test_windows_without_scheduled_jobs_send_nothing(users, f):
    window(users, "quiet")
    window(users, "also-quiet", webhook_url="http://127.0.0.1:9/never")
    # A job asked for at a time belongs to no window.
    snapshot(users["operator"], f["web-1"], at=at(START))
    Notification.objects.all().delete()
    for delta in (START - timedelta(minutes=60), START, END, END + timedelta(minutes=5)):
        done = tick(at(delta))
        assert done == {"reminded": [], "summarized": [], "delivered": [], "failed": []}
    assert window_notes() == []
    assert not WindowOccurrenceRecord.objects.exists()


# --------------------------------------------------------------------------- summaries


def test_the_summary_goes_out_once_when_the_work_ended(
    users, f, requester, mailoutbox, django_capture_on_commit_callbacks
):
    window(users, "nightly")
    vms = {
        name: managed_vm(f["web"], f["lab-a"], name, execution_flags=["Testing"])
        for name in ("web-2", "web-3", "web-4")
    }
    ok = snapshot(requester, f["web-1"], window="nightly")
    broken = snapshot(users["operator"], vms["web-2"], window="nightly")
    gone = snapshot(users["operator"], vms["web-3"], window="nightly")
    slow = snapshot(users["operator"], vms["web-4"], window="nightly")
    waits = snapshot(users["operator"], f["prod-1"], window="nightly")  # nobody approves it
    demote(requester)
    tick(at(START - timedelta(minutes=60)))

    vms["web-3"].state = "gone"
    vms["web-3"].save()
    queued = scheduling.scheduled_jobs_tick(now=at(START))["queued"]
    assert sorted(queued) == sorted([ok.pk, broken.pk, slow.pk])
    run_to(ok, JobStatus.SUCCEEDED)
    run_to(broken, JobStatus.ROLLED_BACK, error="Verification failed: network is isolated")
    run_to(slow, JobStatus.RUNNING)
    Notification.objects.all().delete()

    # Open, then ended with a job still running: no summary yet.
    assert tick(at(START + timedelta(hours=1)))["summarized"] == []
    scheduling.scheduled_jobs_tick(now=at(END))  # prod-1's job moves to the next night
    assert tick(at(END))["summarized"] == []
    assert tick(at(END + timedelta(minutes=10)))["summarized"] == []

    job_services.job_transition(
        job=slow, to=JobStatus.SUCCEEDED, allowed=[JobStatus.RUNNING], user=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        done = tick(at(END + timedelta(minutes=11)))
    assert done["summarized"] == [f"nightly@{at(START).isoformat()}"]
    sent = window_notes()
    assert {n.recipient.username for n in sent} == {"carol", "operator", "admin"}
    message = sent[0].message
    assert message.startswith("Window 'nightly' (")
    assert f"ran: snapshot web-1 (#{ok.pk}), snapshot web-4 (#{slow.pk})" in message
    assert f"failed: snapshot web-2 (#{broken.pk})" in message
    assert f"did not run: snapshot web-3 (#{gone.pk})" in message
    assert f"moved on: snapshot prod-1 (#{waits.pk})" in message
    assert sent[0].severity == "error"

    (mail,) = [m for m in mailoutbox if "Window 'nightly'" in m.subject]
    body = mail.body
    assert "Ran (2):" in body and f"/ops/jobs/{ok.pk}/" in body
    assert "Failed or rolled back (1):" in body
    assert "rolled back: Verification failed: network is isolated" in body
    assert "Skipped, expired, rejected or cancelled (1):" in body
    assert "VM 'web-3' is gone" in body
    assert "Moved to a later occurrence (1):" in body
    assert "now in maintenance window 'nightly', may start" in body

    # Exactly once.
    assert tick(at(END + timedelta(minutes=12)))["summarized"] == []
    assert tick(at(END + timedelta(hours=3)))["summarized"] == []
    assert len(window_notes()) == 3
    record = WindowOccurrenceRecord.objects.get(occurrence_start=at(START))
    assert record.summarized_at == at(END + timedelta(minutes=11))
    outcomes = {j["id"]: j["outcome"] for j in record.summary_payload["jobs"]}
    assert outcomes == {
        ok.pk: "ran",
        broken.pk: "failed",
        gone.pk: "not_run",
        slow.pk: "ran",
        waits.pk: "moved",
    }


def test_a_job_still_running_long_after_the_end_no_longer_holds_the_summary(users, f):
    window(users, "nightly")
    job = snapshot(users["operator"], f["web-1"], window="nightly")
    scheduling.scheduled_jobs_tick(now=at(START))
    run_to(job, JobStatus.RUNNING)
    assert tick(at(END + timedelta(hours=5)))["summarized"] == []
    assert len(tick(at(END + window_notices.SUMMARY_MAX_WAIT))["summarized"]) == 1
    (note,) = notes(recipient=users["operator"], message__startswith="Window")
    assert f"still going: snapshot web-1 (#{job.pk})" in note.message


def test_a_summary_also_goes_out_without_a_reminder_and_not_for_old_occurrences(users, f):
    window(users, "nightly")
    job = snapshot(users["operator"], f["web-1"], window="nightly")
    job_services.job_cancel(user=users["operator"], job=job)
    # Long after it ended: nothing (a worker down for days does not flood).
    assert tick(at(END + window_notices.SUMMARY_LOOKBACK + timedelta(minutes=1))) == {
        "reminded": [],
        "summarized": [],
        "delivered": [],
        "failed": [],
    }
    assert len(tick(at(END))["summarized"]) == 1
    (note,) = notes(recipient=users["operator"], message__startswith="Window")
    assert f"did not run: snapshot web-1 (#{job.pk})" in note.message


# --------------------------------------------------------------------------- the webhook


def test_the_webhook_receives_the_reminder_and_the_summary_signed(users, f, hook):
    window(users, "nightly", webhook_url=hook.url)
    job = snapshot(users["operator"], f["web-1"], window="nightly")
    done = tick(at(START - timedelta(minutes=60)))
    assert done["delivered"] == [f"nightly@{at(START).isoformat()} window.reminder"]
    (request,) = hook.requests
    assert request["path"] == "/hook"
    headers = request["headers"]  # names in lower case
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "VMPersona"
    assert headers["x-vmpersona-event"] == "window.reminder"
    # The signature: HMAC-SHA256 of the body, keyed with the installation's secret.
    from django.conf import settings

    secret = hmac.new(
        settings.SECRET_KEY.encode(), b"vmpersona.window-webhook.v1", hashlib.sha256
    ).hexdigest()
    assert webhook_secret() == secret.encode()
    expected = hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert headers["x-vmpersona-signature"] == f"sha256={expected}"

    payload = json.loads(request["body"])
    assert payload["event"] == "window.reminder"
    assert payload["window"] == "nightly"
    assert payload["occurrence"] == {"start": at(START).isoformat(), "end": at(END).isoformat()}
    (row,) = payload["jobs"]
    assert row == {
        "id": job.pk,
        "kind": "snapshot",
        "vm": "web-1",
        "status": "scheduled",
        "error": "",
        "url": f"http://127.0.0.1:8000/ops/jobs/{job.pk}/",
    }
    assert payload["text"].startswith("Window 'nightly' opens ")
    record = WindowOccurrenceRecord.objects.get()
    assert record.reminder_webhook_at == at(START - timedelta(minutes=60))
    assert record.reminder_webhook_attempts == 1 and record.webhook_error == ""

    job_services.job_cancel(user=users["operator"], job=job)
    tick(at(END))
    assert len(hook.requests) == 2
    summary = json.loads(hook.requests[1]["body"])
    assert summary["event"] == "window.summary"
    assert summary["jobs"][0]["status"] == "cancelled"
    assert summary["jobs"][0]["error"].startswith("Cancelled by operator")


@override_settings(VMPERSONA_WEBHOOK_SECRET="a-shared-secret")
def test_the_webhook_secret_can_be_set(users, f, hook):
    window(users, "nightly", webhook_url=hook.url)
    snapshot(users["operator"], f["web-1"], window="nightly")
    tick(at(START - timedelta(minutes=60)))
    (request,) = hook.requests
    expected = hmac.new(b"a-shared-secret", request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["x-vmpersona-signature"] == f"sha256={expected}"


def test_a_failing_webhook_is_recorded_and_tried_at_most_three_times(users, f, hook):
    hook.status = 500
    window(users, "nightly", webhook_url=hook.url)
    snapshot(users["operator"], f["web-1"], window="nightly")
    Notification.objects.all().delete()

    done = tick(at(START - timedelta(minutes=60)))
    # The notifications went out all the same.
    assert len(done["reminded"]) == 1 and len(window_notes()) == 2
    assert done["failed"] == [f"nightly@{at(START).isoformat()} window.reminder"]
    record = WindowOccurrenceRecord.objects.get()
    assert record.reminded_at is not None and record.reminder_webhook_at is None
    assert record.reminder_webhook_attempts == 1
    assert record.webhook_error == "window.reminder, attempt 1 of 3: HTTP 500 Internal Server Error"
    assert record.webhook_error_at == at(START - timedelta(minutes=60))

    for minutes in range(59, 50, -1):
        tick(at(START - timedelta(minutes=minutes)))
    assert len(hook.requests) == WEBHOOK_ATTEMPTS == 3
    record.refresh_from_db()
    assert record.reminder_webhook_attempts == 3
    assert record.webhook_error.startswith("window.reminder, attempt 3 of 3: HTTP 500")
    assert len(window_notes()) == 2  # no notification sent twice


def test_a_webhook_that_recovers_is_delivered_on_a_retry(users, f, hook):
    hook.status = 503
    window(users, "nightly", webhook_url=hook.url)
    snapshot(users["operator"], f["web-1"], window="nightly")
    tick(at(START - timedelta(minutes=60)))
    hook.status = 204
    done = tick(at(START - timedelta(minutes=59)))
    assert done["delivered"] == [f"nightly@{at(START).isoformat()} window.reminder"]
    record = WindowOccurrenceRecord.objects.get()
    assert record.reminder_webhook_attempts == 2
    assert record.reminder_webhook_at == at(START - timedelta(minutes=59))
    assert hook.requests[0]["body"] == hook.requests[1]["body"]  # the same payload
    assert tick(at(START - timedelta(minutes=58)))["delivered"] == []
    assert len(hook.requests) == 2


def test_a_webhook_that_refuses_connections_never_blocks_the_notifications(users, f):
    window(users, "nightly", webhook_url=refused_url())
    job = snapshot(users["operator"], f["web-1"], window="nightly")
    Notification.objects.all().delete()
    for minutes in (60, 59, 58, 57, 56):
        tick(at(START - timedelta(minutes=minutes)))
    record = WindowOccurrenceRecord.objects.get()
    assert record.reminder_webhook_attempts == 3
    assert "could not connect" in record.webhook_error
    assert len(window_notes()) == 2
    # The summary is still sent, and its own delivery tried on its own count.
    job_services.job_cancel(user=users["operator"], job=job)
    done = tick(at(END))
    assert len(done["summarized"]) == 1 and len(done["failed"]) == 1
    record.refresh_from_db()
    assert record.summary_webhook_attempts == 1
    assert record.webhook_error.startswith("window.summary, attempt 1 of 3: could not connect")


def test_redirects_are_not_followed(users, f, hook):
    hook.status = 302
    hook.location = hook.url + "/elsewhere"
    window(users, "nightly", webhook_url=hook.url)
    snapshot(users["operator"], f["web-1"], window="nightly")
    tick(at(START - timedelta(minutes=60)))
    assert [r["path"] for r in hook.requests] == ["/hook"]
    record = WindowOccurrenceRecord.objects.get()
    assert "HTTP 302: redirects are not followed" in record.webhook_error


# --------------------------------------------------------------------------- the task and the page


def test_the_scheduling_task_runs_the_notices_and_survives_their_trouble(users, f, monkeypatch):
    called = []
    monkeypatch.setattr(window_notices, "window_reminders_tick", lambda: called.append(1) or {})
    assert tasks.start_scheduled_jobs() == {
        "queued": [],
        "waiting": [],
        "moved": [],
        "expired": [],
        "skipped": [],
    }
    assert called == [1]

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(window_notices, "window_reminders_tick", broken)
    assert tasks.start_scheduled_jobs()["queued"] == []


def test_the_window_page_shows_what_was_sent_and_webhook_errors(users, f, client, hook):
    hook.status = 500
    window(users, "nightly", webhook_url=hook.url)
    job = snapshot(users["operator"], f["web-1"], window="nightly")
    client.force_login(users["viewer"])
    page = client.get("/ops/windows/nightly/").content.decode()
    assert 'id="notices"' in page and "Nothing sent yet" in page

    tick(at(START - timedelta(minutes=60)))
    page = client.get("/ops/windows/nightly/").content.decode()
    assert 'id="notices-table"' in page
    assert f'href="/ops/jobs/{job.pk}/"' in page
    assert "webhook: failed, retrying (1 of 3)" in page
    assert "HTTP 500 Internal Server Error" in page
    assert "not yet" in page  # the summary
