"""Websocket routes; each app contributes its own list."""

websocket_urlpatterns: list = []

from django.urls import path  # noqa: E402

from operations_app import consumers  # noqa: E402

websocket_urlpatterns += [
    path("ws/jobs/<int:job_id>/", consumers.JobConsumer.as_asgi()),
    path("ws/notifications/", consumers.NotificationConsumer.as_asgi()),
]
