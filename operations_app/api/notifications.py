"""REST endpoints for the requesting user's notifications."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400
from operations_app.api.serializers import notifications as s
from operations_app.selectors import notifications as notification_selectors
from operations_app.services import notifications as notification_services
from vmpersona.api import ApiListView, ApiView


class NotificationListView(ApiListView):
    @extend_schema(
        operation_id="notifications_list",
        tags=["notifications"],
        summary="My notifications, newest first",
        parameters=[s.NotificationListQuerySerializer],
        responses={200: s.NotificationSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        query = self.parse(s.NotificationListQuerySerializer, request.query_params)
        notes = notification_selectors.notification_list(
            user=request.user, unread_only=query["unread"]
        )
        return self.paginated(notes, s.NotificationSerializer)


class NotificationReadView(ApiView):
    @extend_schema(
        operation_id="notifications_read",
        tags=["notifications"],
        summary="Mark my notifications read",
        request=s.NotificationReadSerializer,
        responses={200: s.NotificationReadResultSerializer, 400: ERRORS_400},
    )
    def post(self, request):
        data = self.parse(s.NotificationReadSerializer, request.data)
        marked = notification_services.notification_mark_read(
            user=request.user, ids=data.get("ids")
        )
        return Response(
            {
                "marked": marked,
                "unread": notification_selectors.notification_unread_count(user=request.user),
            }
        )
