"""The job and notification websockets, through the real ASGI application (session auth,
origin check, routing) and the channel layer.

Pushes happen when a transaction commits, so these tests commit (``transaction=True``).
Each test runs as one coroutine (``async_to_sync``) so the application and the channel
layer share one event loop; database work runs through ``database_sync_to_async``.
"""

from __future__ import annotations

import os
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from operations_app.models import JobEvent, Notification, OperationJob
from operations_app.selectors import jobs as selectors_jobs
from operations_app.services import events as event_services
from tests.operations_app.job_support import clone_job, drive
from vmpersona.asgi import application
from vmpersona.realtime import redis_channel_layer

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """A new in-memory layer per test: its queues belong to one event loop."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


db = database_sync_to_async


async def communicator(path: str, user=None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver")]
    if user is not None:
        headers.append((b"cookie", await db(session_cookie)(user)))
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_events(comm, *, until_seq: int) -> list[dict]:
    """Messages of type ``event`` until ``until_seq`` arrives (other types are skipped)."""
    got = []
    while not got or got[-1]["seq"] < until_seq:
        message = await comm.receive_json_from(timeout=TIMEOUT)
        if message["type"] == "event":
            got.append(message)
    return got


async def receive_until_caught_up(comm) -> tuple[list[dict], dict]:
    events = []
    while True:
        message = await comm.receive_json_from(timeout=TIMEOUT)
        if message["type"] == "caught_up":
            return events, message
        assert message["type"] == "event", message
        events.append(message)


def last_seq(job) -> int:
    return OperationJob.objects.values_list("event_seq", flat=True).get(pk=job.pk)


def all_seqs(job) -> list[int]:
    return list(JobEvent.objects.filter(job=job).order_by("seq").values_list("seq", flat=True))


# --- catch-up, live, reconnect ------------------------------------------------------------


def test_client_gets_every_event_in_order_stored_and_live(users):
    job = clone_job(users)
    for n in range(3):
        event_services.job_log(job=job, message=f"before connect {n}")
    stored = last_seq(job)
    assert stored == 4  # "queued" status plus three lines

    async def scenario():
        comm = await communicator(f"/ws/jobs/{job.pk}/?after=0", users["viewer"])
        connected, _ = await comm.connect(timeout=TIMEOUT)
        assert connected
        before, caught_up = await receive_until_caught_up(comm)
        assert [e["seq"] for e in before] == [1, 2, 3, 4]
        assert caught_up == {"type": "caught_up", "seq": 4, "status": "queued"}
        assert before[0]["kind"] == "status" and before[0]["payload"]["status"] == "queued"
        assert before[1]["payload"]["message"] == "before connect 0"

        finished = await db(drive)(job)
        assert finished.status == "succeeded"
        total = await db(last_seq)(job)
        live = await receive_events(comm, until_seq=total)
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()
        return before + live, total

    events, total = async_to_sync(scenario)()
    assert [e["seq"] for e in events] == list(range(1, total + 1)) == all_seqs(job)
    kinds = [e["kind"] for e in events]
    for kind in ("status", "progress", "step_started", "step_finished", "log", "check", "result"):
        assert kind in kinds
    assert events[-1]["kind"] == "status" and events[-1]["payload"]["status"] == "succeeded"
    assert all(e["job"] == job.pk for e in events)


def test_reconnect_after_last_seq_misses_and_repeats_nothing(users):
    job = clone_job(users)

    async def scenario():
        comm = await communicator(f"/ws/jobs/{job.pk}/", users["operator"])
        assert (await comm.connect(timeout=TIMEOUT))[0]
        first, caught_up = await receive_until_caught_up(comm)
        await db(event_services.job_log)(job=job, message="while connected")
        first += await receive_events(comm, until_seq=caught_up["seq"] + 1)
        await comm.disconnect()

        # Events happen while nobody listens: the whole job runs.
        await db(drive)(job, outcome="fail_check")
        seen = first[-1]["seq"]

        again = await communicator(f"/ws/jobs/{job.pk}/?after={seen}", users["operator"])
        assert (await again.connect(timeout=TIMEOUT))[0]
        second, caught_up = await receive_until_caught_up(again)
        assert caught_up["status"] == "rolled_back"
        await db(event_services.job_log)(job=job, message="after the end")
        second += await receive_events(again, until_seq=caught_up["seq"] + 1)
        await again.disconnect()
        return first, second

    first, second = async_to_sync(scenario)()
    seqs = [e["seq"] for e in first + second]
    assert seqs == all_seqs(job) == list(range(1, last_seq(job) + 1))
    assert len(set(seqs)) == len(seqs)
    assert second[0]["seq"] == first[-1]["seq"] + 1


def test_event_committed_during_catch_up_is_relayed(users):
    """The consumer joins the group before reading stored events, so an event committed
    while it reads them still reaches the client (and only once)."""
    job = clone_job(users)
    event_services.job_log(job=job, message="stored")
    original = selectors_jobs.job_events
    calls = []

    def racing_job_events(**kwargs):
        events = original(**kwargs)
        if not calls:
            # Committed (and pushed) after the stored events were read.
            event_services.job_log(job=job, message="committed during catch-up")
        calls.append(kwargs)
        return events

    async def scenario():
        with mock.patch.object(selectors_jobs, "job_events", racing_job_events):
            comm = await communicator(f"/ws/jobs/{job.pk}/", users["operator"])
            assert (await comm.connect(timeout=TIMEOUT))[0]
            events, caught_up = await receive_until_caught_up(comm)
            assert caught_up["seq"] == 2  # the catch-up read only the first two
            events += await receive_events(comm, until_seq=3)
            assert await comm.receive_nothing(timeout=0.2)
            await comm.disconnect()
        return events

    events = async_to_sync(scenario)()
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert events[-1]["payload"]["message"] == "committed during catch-up"


def test_stale_pushes_are_dropped_and_lost_pushes_are_filled_in(users):
    job = clone_job(users)

    async def scenario():
        comm = await communicator(f"/ws/jobs/{job.pk}/", users["operator"])
        assert (await comm.connect(timeout=TIMEOUT))[0]
        events, _ = await receive_until_caught_up(comm)
        assert [e["seq"] for e in events] == [1]

        # A late duplicate of an event already sent is dropped.
        layer = get_channel_layer()
        stale = await db(
            lambda: event_services.event_to_dict(JobEvent.objects.get(job=job, seq=1))
        )()
        await layer.group_send(f"job-{job.pk}", {"type": "push.message", "message": stale})
        assert await comm.receive_nothing(timeout=0.3)

        # Event 2's push is lost; when event 3 arrives, 2 is read from the database.
        with mock.patch.object(event_services, "push"):
            await db(event_services.job_log)(job=job, message="push lost")
        await db(event_services.job_log)(job=job, message="pushed")
        events = await receive_events(comm, until_seq=3)
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()
        return events

    events = async_to_sync(scenario)()
    assert [(e["seq"], e["payload"]["message"]) for e in events] == [
        (2, "push lost"),
        (3, "pushed"),
    ]


def test_ping_is_answered(users):
    job = clone_job(users)

    async def scenario():
        comm = await communicator(f"/ws/jobs/{job.pk}/?after=1", users["operator"])
        assert (await comm.connect(timeout=TIMEOUT))[0]
        _, caught_up = await receive_until_caught_up(comm)
        await comm.send_json_to({"type": "ping"})
        pong = await comm.receive_json_from(timeout=TIMEOUT)
        await comm.disconnect()
        return caught_up, pong

    caught_up, pong = async_to_sync(scenario)()
    assert caught_up["seq"] == 1  # nothing after 1 was stored
    assert pong == {"type": "pong"}


# --- who may connect -------------------------------------------------------------------------


async def refused(comm) -> tuple[dict, int]:
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected  # accepted, told why, then closed with the code
    message = await comm.receive_json_from(timeout=TIMEOUT)
    closing = await comm.receive_output(timeout=TIMEOUT)
    assert closing["type"] == "websocket.close"
    return message, closing["code"]


def test_users_who_may_not_see_the_job_are_refused(users):
    job = clone_job(users, by="author")  # authors may clone Testing profiles

    async def scenario():
        anonymous = await refused(await communicator(f"/ws/jobs/{job.pk}/"))
        other = await refused(await communicator(f"/ws/jobs/{job.pk}/", users["author2"]))
        missing = await refused(await communicator("/ws/jobs/999999/", users["viewer"]))
        missing_for_author = await refused(await communicator("/ws/jobs/999999/", users["author2"]))
        own = await communicator(f"/ws/jobs/{job.pk}/", users["author"])
        assert (await own.connect(timeout=TIMEOUT))[0]
        events, _ = await receive_until_caught_up(own)
        await own.disconnect()
        return anonymous, other, missing, missing_for_author, events

    anonymous, other, missing, missing_for_author, events = async_to_sync(scenario)()
    assert anonymous[1] == 4401 and anonymous[0]["type"] == "error"
    assert other == (
        {"type": "error", "code": 4403, "detail": f"You may not see job #{job.pk}."},
        4403,
    )
    assert missing[1] == 4404
    assert missing_for_author[1] == 4403  # no difference between "missing" and "not yours"
    assert [e["seq"] for e in events] == [1]


def test_every_role_that_sees_all_jobs_may_follow(users):
    job = clone_job(users)

    async def scenario():
        codes = {}
        for name in ("admin", "operator", "approver", "viewer"):
            comm = await communicator(f"/ws/jobs/{job.pk}/", users[name])
            assert (await comm.connect(timeout=TIMEOUT))[0]
            message = await comm.receive_json_from(timeout=TIMEOUT)
            codes[name] = message["type"]
            await comm.disconnect()
        return codes

    assert set(async_to_sync(scenario)().values()) == {"event"}


def test_a_foreign_origin_is_refused(users):
    job = clone_job(users)

    async def scenario():
        comm = WebsocketCommunicator(
            application,
            f"/ws/jobs/{job.pk}/",
            headers=[
                (b"origin", b"http://evil.example"),
                (b"cookie", await db(session_cookie)(users["admin"])),
            ],
        )
        connected, _ = await comm.connect(timeout=TIMEOUT)
        return connected

    assert async_to_sync(scenario)() is False


# --- notifications ---------------------------------------------------------------------------


def test_notifications_are_pushed_to_their_recipient_only(users):
    job = clone_job(users, by="author")
    Notification.objects.create(recipient=users["operator"], message="old news", read=False)

    async def scenario():
        operator = await communicator("/ws/notifications/", users["operator"])
        viewer = await communicator("/ws/notifications/", users["viewer"])
        assert (await operator.connect(timeout=TIMEOUT))[0]
        assert (await viewer.connect(timeout=TIMEOUT))[0]
        assert await operator.receive_json_from(timeout=TIMEOUT) == {"type": "unread", "count": 1}
        assert await viewer.receive_json_from(timeout=TIMEOUT) == {"type": "unread", "count": 0}

        await db(drive)(job, outcome="fail_check")  # administrators and the requester hear
        note = await operator.receive_json_from(timeout=TIMEOUT)
        assert await viewer.receive_nothing(timeout=0.3)
        await operator.disconnect()
        await viewer.disconnect()
        return note

    note = async_to_sync(scenario)()
    assert note["type"] == "notification"
    assert note["severity"] == "error"
    assert "failed and was rolled back" in note["message"]
    assert note["link"] == f"/ops/jobs/{job.pk}/"
    assert note["unread"] == 2
    assert Notification.objects.get(pk=note["id"]).recipient == users["operator"]


def test_notifications_socket_needs_a_login():
    async def scenario():
        return await refused(await communicator("/ws/notifications/"))

    message, code = async_to_sync(scenario)()
    assert code == 4401 and message["type"] == "error"


# --- Redis ---------------------------------------------------------------------------------------


@pytest.mark.skipif(
    not os.environ.get("VMPERSONA_TEST_REDIS_URL"),
    reason="VMPERSONA_TEST_REDIS_URL is not set (scripts/test.sh starts a Redis)",
)
def test_pushes_travel_through_redis_also_after_an_idle_spell(users, settings):
    settings.CHANNEL_LAYERS = {
        "default": redis_channel_layer(
            os.environ["VMPERSONA_TEST_REDIS_URL"], prefix=f"vmpersona-test-{os.getpid()}"
        )
    }
    job = clone_job(users)

    async def scenario():
        assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
        comm = await communicator(f"/ws/jobs/{job.pk}/", users["operator"])
        assert (await comm.connect(timeout=TIMEOUT))[0]
        await receive_until_caught_up(comm)
        # Idle for longer than the layer's blocking read and redis-py's default socket
        # timeout (5 s each): the connection stays up and still gets what is pushed.
        assert await comm.receive_nothing(timeout=7)
        await db(event_services.job_log)(job=job, message="through redis")
        events = await receive_events(comm, until_seq=2)
        await comm.disconnect()
        await get_channel_layer().flush()
        return events

    events = async_to_sync(scenario)()
    assert [(e["seq"], e["payload"]["message"]) for e in events] == [(2, "through redis")]
