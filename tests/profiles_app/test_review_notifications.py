"""Notifications of a version's review: submitting tells the approvers who may approve
it (never its authors), approving and rejecting tell its authors with the reviewer's
comment, retiring an active version tells them too; each links to the version's page.
Email follows each person's preferences; the bell shows everything. The optional review
webhook is a local HTTP server on 127.0.0.1 started by the test."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.test import override_settings

from operations_app.models import Notification
from operations_app.services import review_notices
from profiles_app.kinds import get_kind
from profiles_app.models import PolicyKind, VersionStatus
from profiles_app.services import versions as version_services
from vmpersona.accounts import services as account_services
from vmpersona.accounts.models import NotificationKind

pytestmark = pytest.mark.django_db

APPROVERS = {"approver", "approver2", "author_approver", "admin"}


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    """The local webhook server is reached directly, whatever the environment says."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def notified(username: str) -> list[Notification]:
    return list(Notification.objects.filter(recipient__username=username).order_by("pk"))


def recipients() -> set[str]:
    return set(Notification.objects.values_list("recipient__username", flat=True))


def pending(users, make_document, *, author="author", name="web", kind=PolicyKind.VPPD):
    document = get_kind(kind).starter() if kind != PolicyKind.VPPD else make_document(name)
    if kind != PolicyKind.VPPD:
        document["name"] = name
    version = version_services.policy_create(
        user=users[author], document=document, kind=kind, change_note="first cut"
    )
    return version_services.version_submit(user=users[author], version=version)


# --------------------------------------------------------------------------- the bell


def test_submitting_tells_the_approvers_and_not_the_author(users, make_document):
    version = pending(users, make_document, author="author_approver")
    assert recipients() == APPROVERS - {"author_approver"}
    note = notified("approver")[0]
    assert note.message == "Profile web@1 by author_approver waits for your review."
    assert note.link == "/profiles/web/v/1/"
    assert note.link == version.get_absolute_url()
    assert not notified("author_approver") and not notified("operator")


def test_a_coauthor_who_approves_is_not_asked_to_review(users, make_document):
    version = version_services.policy_create(
        user=users["author_approver"], document=make_document("web")
    )
    version.authors.add(users["approver2"])  # wrote some of it too
    version_services.version_submit(user=users["author_approver"], version=version)
    assert recipients() == {"approver", "admin"}


def test_approving_tells_the_author_with_the_comment_and_link(users, make_document):
    version = pending(users, make_document)
    Notification.objects.all().delete()
    version_services.version_approve(user=users["approver"], version=version, comment="Ship it")
    assert recipients() == {"author"}
    note = notified("author")[0]
    assert note.message == "approver approved profile web@1: “Ship it”"
    assert note.severity == "success"
    assert note.link == "/profiles/web/v/1/"


def test_rejecting_tells_every_author_with_the_reason(users, make_document):
    version = version_services.policy_create(user=users["author"], document=make_document("web"))
    version_services.version_update_draft(
        user=users["admin"], version=version, document=make_document("web", description="x")
    )
    version = version_services.version_submit(user=users["author"], version=version)
    Notification.objects.all().delete()
    version_services.version_reject(
        user=users["approver"], version=version, comment="Too much memory"
    )
    assert recipients() == {"author", "admin"}
    assert notified("author")[0].message == "approver rejected profile web@1: “Too much memory”"
    assert notified("author")[0].severity == "warning"


def test_retiring_an_active_version_tells_its_authors(users, make_document):
    version = pending(users, make_document)
    version = version_services.version_approve(user=users["approver"], version=version)
    Notification.objects.all().delete()
    version_services.version_retire(user=users["approver2"], version=version, comment="EOL")
    assert recipients() == {"author"}
    assert notified("author")[0].message == (
        "approver2 retired profile web@1; it may no longer be used: “EOL”"
    )


def test_retiring_a_superseded_version_tells_nobody(users, make_document):
    first = version_services.version_approve(
        user=users["approver"], version=pending(users, make_document)
    )
    second = version_services.version_create_draft(
        user=users["author"], policy=first.policy, parent=first
    )
    second = version_services.version_submit(user=users["author"], version=second)
    version_services.version_approve(user=users["approver"], version=second)
    Notification.objects.all().delete()
    first.refresh_from_db()
    assert first.status == VersionStatus.SUPERSEDED
    version_services.version_retire(user=users["approver"], version=first)
    assert recipients() == set()


def test_a_scheduling_policy_links_to_its_policy_page(users, make_document):
    version = pending(users, make_document, name="balance", kind=PolicyKind.SCHEDULING)
    note = notified("approver")[0]
    assert note.message == "Scheduling policy balance@1 by author waits for your review."
    assert note.link == "/policies/balance/v/1/" == version.get_absolute_url()
    assert "author" not in recipients()
    version_services.version_approve(user=users["approver"], version=version, comment="ok")
    decision = notified("author")[0]
    assert decision.link.startswith("/policies/balance/")
    assert decision.message == "approver approved scheduling policy balance@1: “ok”"


def test_the_bell_lists_the_review_request(client, users, make_document, password):
    pending(users, make_document)
    client.login(username="approver", password=password("approver"))
    body = client.get("/api/v1/notifications/").json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    assert any(
        r["message"] == "Profile web@1 by author waits for your review."
        and r["link"] == "/profiles/web/v/1/"
        for r in rows
    )


def test_a_failing_notification_never_undoes_the_review(users, make_document, monkeypatch):
    version = pending(users, make_document)

    def broken(**kwargs):
        raise RuntimeError("mail server on fire")

    monkeypatch.setattr(review_notices, "notify", broken)
    version = version_services.version_approve(user=users["approver"], version=version)
    version.refresh_from_db()
    assert version.status == VersionStatus.APPROVED


# --------------------------------------------------------------------------- email


def test_email_goes_after_commit_with_the_comment_and_link(
    users, make_document, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        version = pending(users, make_document)
    sent = {tuple(m.to) for m in mail.outbox}
    assert ("author@example.test",) not in sent
    (request,) = [m for m in mail.outbox if "approver@example.test" in m.to]
    assert "Profile web@1 by author waits for your review." in request.subject
    assert "Change note: first cut" in request.body
    assert request.body.endswith("/profiles/web/v/1/")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        version_services.version_reject(user=users["approver"], version=version, comment="No")
    (decision,) = mail.outbox
    assert decision.to == ["author@example.test"]
    assert "approver rejected profile web@1: “No”" in decision.body
    assert "/profiles/web/v/1/" in decision.body


def test_email_respects_each_persons_preference_and_the_bell_still_shows(
    users, make_document, django_capture_on_commit_callbacks
):
    account_services.notification_preferences_set(
        user=users["approver"], email={NotificationKind.REVIEW_REQUESTS: False}
    )
    account_services.notification_preferences_set(
        user=users["approver2"], email={NotificationKind.REVIEW_DECISIONS: False}
    )
    with django_capture_on_commit_callbacks(execute=True):
        version = pending(users, make_document)
    emailed = {address for m in mail.outbox for address in m.to}
    assert "approver@example.test" not in emailed
    assert "approver2@example.test" in emailed  # only decisions were turned off
    assert notified("approver")  # the bell shows it all the same

    account_services.notification_preferences_set(
        user=users["author"], email={NotificationKind.REVIEW_DECISIONS: False}
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        version_services.version_approve(user=users["approver2"], version=version)
    assert mail.outbox == []
    assert notified("author")[0].message == "approver2 approved profile web@1."


# --------------------------------------------------------------------------- webhook


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


@pytest.fixture
def worker_inline(monkeypatch):
    """The task queue runs tasks at once, in this process (django-q's sync mode), with
    no waiting between webhook attempts."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(review_notices, "RETRY_DELAYS_S", (0.0, 0.0))


def refused_url() -> str:
    """An address on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def test_the_webhook_gets_each_step_signed_after_commit(
    users, make_document, hook, worker_inline, django_capture_on_commit_callbacks
):
    with override_settings(
        VMPERSONA_REVIEW_WEBHOOK_URL=hook.url, VMPERSONA_REVIEW_WEBHOOK_SECRET="s3cret"
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            version = pending(users, make_document)
        assert hook.requests == []  # nothing before the commit
        for callback in callbacks:
            callback()
        with django_capture_on_commit_callbacks(execute=True):
            version_services.version_approve(user=users["approver"], version=version, comment="ok")
    events = [json.loads(r["body"]) for r in hook.requests]
    assert [e["event"] for e in events] == ["version.submitted", "version.approved"]
    approved = events[1]
    assert approved["label"] == "web@1" and approved["kind"] == "vppd"
    assert approved["actor"] == "approver" and approved["comment"] == "ok"
    assert approved["status"] == "approved" and approved["authors"] == ["author"]
    assert approved["url"].endswith("/profiles/web/v/1/")
    assert approved["text"] == "approver approved profile web@1: “ok”"
    for request in hook.requests:
        expected = hmac.new(b"s3cret", request["body"], hashlib.sha256).hexdigest()
        assert request["headers"]["x-vmpersona-signature"] == f"sha256={expected}"
        assert request["headers"]["x-vmpersona-event"].startswith("version.")
        assert request["headers"]["content-type"] == "application/json"


def test_a_redirecting_webhook_is_not_followed(
    users, make_document, hook, worker_inline, django_capture_on_commit_callbacks
):
    elsewhere = Hook()
    try:
        hook.status, hook.location = 302, elsewhere.url
        with override_settings(VMPERSONA_REVIEW_WEBHOOK_URL=hook.url):
            with django_capture_on_commit_callbacks(execute=True):
                pending(users, make_document)
            assert len(hook.requests) == 3  # tried three times, never more
            assert elsewhere.requests == []
            assert review_notices.review_webhook_deliver({"event": "version.submitted"}) == (
                "HTTP 302: redirects are not followed"
            )
    finally:
        elsewhere.close()


def test_a_failing_webhook_is_tried_three_times_and_never_breaks_the_approval(
    users, make_document, hook, worker_inline, django_capture_on_commit_callbacks
):
    version = pending(users, make_document)
    hook.status = 500
    with override_settings(VMPERSONA_REVIEW_WEBHOOK_URL=hook.url):
        with django_capture_on_commit_callbacks(execute=True):
            version = version_services.version_approve(user=users["approver"], version=version)
    assert len(hook.requests) == 3
    version.refresh_from_db()
    assert version.status == VersionStatus.APPROVED
    assert notified("author")


def test_an_unreachable_webhook_or_task_queue_never_breaks_the_review(
    users, make_document, worker_inline, django_capture_on_commit_callbacks, monkeypatch
):
    with override_settings(VMPERSONA_REVIEW_WEBHOOK_URL=refused_url()):
        with django_capture_on_commit_callbacks(execute=True):
            version = pending(users, make_document)
        assert version.status == VersionStatus.PENDING

        import django_q.tasks

        def no_queue(*args, **kwargs):
            raise ConnectionError("redis is down")

        monkeypatch.setattr(django_q.tasks, "async_task", no_queue)
        with django_capture_on_commit_callbacks(execute=True):
            version = version_services.version_approve(user=users["approver"], version=version)
    version.refresh_from_db()
    assert version.status == VersionStatus.APPROVED


def test_without_a_webhook_url_nothing_is_queued(
    users, make_document, django_capture_on_commit_callbacks, monkeypatch
):
    import django_q.tasks

    queued: list = []
    monkeypatch.setattr(django_q.tasks, "async_task", lambda *a, **k: queued.append(a))
    with override_settings(VMPERSONA_REVIEW_WEBHOOK_URL=""):
        with django_capture_on_commit_callbacks(execute=True):
            pending(users, make_document)
    assert queued == []
