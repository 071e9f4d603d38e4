"""REST endpoints for platforms.

Everyone authenticated may read; changing a platform, refreshing it or syncing its
inventory needs the operators role, checked by the service the view calls (403
otherwise, through the project's exception handler).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400, OBJECT_404, OPERATORS_403
from operations_app.api.serializers import platforms as s
from operations_app.models import Platform
from operations_app.selectors import platforms as platform_selectors
from operations_app.services import inventory as inventory_services
from operations_app.services import platforms as platform_services
from vmpersona.api import ApiListView, ApiView


class PlatformView(ApiView):
    def platform(self, name: str) -> Platform:
        try:
            return Platform.objects.get(name=name)
        except Platform.DoesNotExist as exc:
            raise exceptions.NotFound(f"No platform named '{name}'.") from exc

    def present_platform(self, platform: Platform, code=status.HTTP_200_OK) -> Response:
        platform = platform_selectors.platform_list().get(pk=platform.pk)
        context = {
            "request": self.request,
            "effective_capabilities": platform_selectors.platform_effective_capabilities(platform),
            "utilisation": platform_selectors.platform_utilisation(platform=platform),
        }
        return Response(s.PlatformDetailSerializer(platform, context=context).data, status=code)


class PlatformListView(PlatformView, ApiListView):
    @extend_schema(
        operation_id="platforms_list",
        tags=["platforms"],
        summary="List platforms",
        parameters=[s.PlatformListQuerySerializer],
        responses={200: s.PlatformSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        filters = self.parse(s.PlatformListQuerySerializer, request.query_params)
        return self.paginated(platform_selectors.platform_list(**filters), s.PlatformSerializer)

    @extend_schema(
        operation_id="platforms_create",
        tags=["platforms"],
        summary="Add a platform",
        description="Needs the operators role. The platform is not contacted: refresh it to "
        "read its capabilities.",
        request=s.PlatformCreateSerializer,
        responses={201: s.PlatformDetailSerializer, 400: ERRORS_400, 403: OPERATORS_403},
    )
    def post(self, request):
        data = dict(self.parse(s.PlatformCreateSerializer, request.data))
        platform = platform_services.platform_create(
            user=request.user, name=data.pop("name"), uri=data.pop("uri"), **data
        )
        response = self.present_platform(platform, status.HTTP_201_CREATED)
        response["Location"] = response.data["links"]["self"]
        return response


class PlatformDetailView(PlatformView):
    @extend_schema(
        operation_id="platforms_retrieve",
        tags=["platforms"],
        summary="A platform with its capabilities and effective capabilities",
        responses={200: s.PlatformDetailSerializer, 404: OBJECT_404},
    )
    def get(self, request, name: str):
        return self.present_platform(self.platform(name))

    @extend_schema(
        operation_id="platforms_partial_update",
        tags=["platforms"],
        summary="Change a platform's settings",
        description="Needs the operators role. Only the settings given change; the name cannot.",
        request=s.PlatformUpdateSerializer,
        responses={
            200: s.PlatformDetailSerializer,
            400: ERRORS_400,
            403: OPERATORS_403,
            404: OBJECT_404,
        },
    )
    def patch(self, request, name: str):
        platform = self.platform(name)
        data = self.parse(s.PlatformUpdateSerializer, request.data)
        platform = platform_services.platform_update(user=request.user, platform=platform, **data)
        return self.present_platform(platform)


class PlatformRefreshView(PlatformView):
    @extend_schema(
        operation_id="platforms_refresh",
        tags=["platforms"],
        summary="Read the platform's capabilities from libvirt now",
        description="Needs the operators role. An unreachable platform is not an error of "
        "the request: the answer has `status: unreachable` and `last_error`.",
        request=None,
        responses={200: s.PlatformDetailSerializer, 403: OPERATORS_403, 404: OBJECT_404},
    )
    def post(self, request, name: str):
        platform = platform_services.platform_refresh(
            platform=self.platform(name), user=request.user
        )
        return self.present_platform(platform)


class PlatformSyncView(PlatformView):
    @extend_schema(
        operation_id="platforms_sync",
        tags=["platforms"],
        summary="Sync the platform's VM inventory now",
        description="Needs the operators role. Records every domain (unmanaged ones too), "
        "marks vanished ones gone and takes a metrics sample of running ones.",
        request=None,
        responses={200: s.SyncResultSerializer, 403: OPERATORS_403, 404: OBJECT_404},
    )
    def post(self, request, name: str):
        result = inventory_services.inventory_sync(platform=self.platform(name), user=request.user)
        return Response(s.SyncResultSerializer(result).data)
