"""Websockets: a job's events as they happen, and a user's notifications.

``ws/jobs/<id>/?after=<seq>``
    Server to client, JSON objects with a ``type``:

    - ``{"type": "event", "job", "seq", "kind", "payload", "at"}``: one job event. Every
      event after ``after`` is sent exactly once and in ``seq`` order: first those already
      stored (catch-up), then live ones.
    - ``{"type": "caught_up", "seq", "status"}``: once, after the catch-up.
    - ``{"type": "pong"}``: the answer to ``{"type": "ping"}``.
    - ``{"type": "error", "code", "detail"}`` just before the server closes the socket
      with that code: 4401 not logged in, 4403 may not see the job, 4404 no such job.

    The consumer joins the job's group *before* reading the stored events, so an event
    committed in between arrives as a push; pushes with a ``seq`` already sent are
    dropped, and a push that skips numbers (a push lost on the way) is preceded by the
    missing events read from the database.

``ws/notifications/``
    ``{"type": "unread", "count"}`` on connect, then ``{"type": "notification", "id",
    "severity", "message", "link", "unread"}`` for each new notification of the user.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from operations_app.models import Notification, OperationJob
from operations_app.selectors import jobs as job_selectors
from operations_app.services.events import event_to_dict, job_group, user_group

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CATCH_UP_BATCH = 500


def _user(scope):
    user = scope.get("user")
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return user


class _Base(AsyncJsonWebsocketConsumer):
    groups_joined: list[str]

    async def refuse(self, code: int, detail: str) -> None:
        # Accept first: a handshake refused before acceptance reaches a browser as a bare
        # 1006 with no code; after it, the client learns why and stops reconnecting.
        await self.accept()
        await self.send_json({"type": "error", "code": code, "detail": detail})
        await self.close(code=code)

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})


class JobConsumer(_Base):
    """Relays one job's events to a browser that may see the job."""

    async def connect(self):
        self.groups_joined = []
        self.last_seq = 0
        self.job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        user = _user(self.scope)
        if user is None:
            await self.refuse(CLOSE_UNAUTHENTICATED, "Log in to follow jobs.")
            return
        verdict = await self._may_follow(user, self.job_id)
        if verdict == "missing":
            await self.refuse(CLOSE_NOT_FOUND, f"No job #{self.job_id}.")
            return
        if verdict != "ok":
            await self.refuse(CLOSE_FORBIDDEN, f"You may not see job #{self.job_id}.")
            return
        self.last_seq = _after(self.scope)
        await self.accept()
        # Join first, then catch up: an event committed while we read the stored ones is
        # pushed to us and relayed after the catch-up (or dropped if already sent).
        await self.join(job_group(self.job_id))
        await self.catch_up()
        status = await self._status(self.job_id)
        await self.send_json({"type": "caught_up", "seq": self.last_seq, "status": status})

    async def catch_up(self) -> None:
        while True:
            events = await self._events_after(self.job_id, self.last_seq, CATCH_UP_BATCH)
            for event in events:
                await self._send_event(event)
            if len(events) < CATCH_UP_BATCH:
                return

    async def push_message(self, message):
        """A pushed event (``{"type": "push.message", "message": event}``)."""
        event = message.get("message") or {}
        seq = event.get("seq")
        if not isinstance(seq, int):
            return
        if seq <= self.last_seq:
            return  # already sent by the catch-up
        if seq > self.last_seq + 1:
            # Events between were committed but their pushes did not reach us.
            await self.catch_up()
            return
        await self._send_event(event)

    async def _send_event(self, event: dict) -> None:
        if event["seq"] <= self.last_seq:
            return
        await self.send_json({"type": "event", **event})
        self.last_seq = event["seq"]

    @staticmethod
    @database_sync_to_async
    def _may_follow(user, job_id: int) -> str:
        job = OperationJob.objects.filter(pk=job_id).only("pk", "requested_by").first()
        if job is None:
            # Someone who could not see it either way learns nothing more than 4403 tells.
            return "missing" if job_selectors.sees_all_jobs(user) else "forbidden"
        return "ok" if job_selectors.job_visible_to(user, job) else "forbidden"

    @staticmethod
    @database_sync_to_async
    def _events_after(job_id: int, after: int, limit: int) -> list[dict]:
        job = OperationJob(pk=job_id)
        return [
            event_to_dict(e) for e in job_selectors.job_events(job=job, after=after, limit=limit)
        ]

    @staticmethod
    @database_sync_to_async
    def _status(job_id: int) -> str:
        return OperationJob.objects.filter(pk=job_id).values_list("status", flat=True).first() or ""


class NotificationConsumer(_Base):
    """Relays the logged-in user's notifications."""

    async def connect(self):
        self.groups_joined = []
        user = _user(self.scope)
        if user is None:
            await self.refuse(CLOSE_UNAUTHENTICATED, "Log in to receive notifications.")
            return
        self.user_id = user.pk
        await self.accept()
        await self.join(user_group(user.pk))
        await self.send_json({"type": "unread", "count": await self._unread(self.user_id)})

    async def push_message(self, message):
        body = message.get("message") or {}
        if body.get("kind") == "notification":
            out = {k: v for k, v in body.items() if k != "kind"}
            out["unread"] = await self._unread(self.user_id)
            await self.send_json({"type": "notification", **out})
        else:
            await self.send_json({"type": "push", "message": body})

    @staticmethod
    @database_sync_to_async
    def _unread(user_id: int) -> int:
        return Notification.objects.filter(recipient_id=user_id, read=False).count()


def _after(scope) -> int:
    query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
    try:
        return max(0, int((query.get("after") or ["0"])[0]))
    except ValueError:
        return 0
