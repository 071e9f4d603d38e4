"""REST endpoints for platforms, the VM inventory and base images.

Each view parses its input, calls one selector or service and presents the result.
Everyone authenticated may read; changing a platform, refreshing it or syncing its
inventory needs the operators role, checked by the service the view calls (403
otherwise, through the project's exception handler). Invalid input answers 400 with one
``{"path", "message"}`` entry per problem, through the project's exception handler.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from operations_app import selectors
from operations_app.api import serializers as s
from operations_app.models import BaseImage, ManagedVM, Platform
from operations_app.services import inventory as inventory_services
from operations_app.services import platforms as platform_services
from operations_app.services import snapshots as snapshot_services
from vmpersona.api import ApiListView, ApiView, DetailResponseSerializer, ErrorResponseSerializer

ERRORS_400 = OpenApiResponse(ErrorResponseSerializer, description="Invalid input")
DETAIL_403 = OpenApiResponse(DetailResponseSerializer, description="Needs the operators role")
DETAIL_404 = OpenApiResponse(DetailResponseSerializer, description="No such object")


class BaseView(ApiView):
    def platform(self, name: str) -> Platform:
        try:
            return Platform.objects.get(name=name)
        except Platform.DoesNotExist as exc:
            raise exceptions.NotFound(f"No platform named '{name}'.") from exc

    def vm(self, pk: int) -> ManagedVM:
        try:
            return ManagedVM.objects.select_related("platform", "profile_version__policy").get(
                pk=pk
            )
        except ManagedVM.DoesNotExist as exc:
            raise exceptions.NotFound(f"No VM {pk} in the inventory.") from exc

    def present_platform(self, platform: Platform, code=status.HTTP_200_OK) -> Response:
        platform = selectors.platform_list().get(pk=platform.pk)
        context = {
            "request": self.request,
            "effective_capabilities": selectors.platform_effective_capabilities(platform),
            "utilisation": selectors.platform_utilisation(platform=platform),
        }
        return Response(s.PlatformDetailSerializer(platform, context=context).data, status=code)


class ListView(BaseView, ApiListView):
    pass


# --- Platforms ------------------------------------------------------------------------


class PlatformListView(ListView):
    @extend_schema(
        operation_id="platforms_list",
        tags=["platforms"],
        summary="List platforms",
        parameters=[s.PlatformListQuerySerializer],
        responses={200: s.PlatformSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        filters = self.parse(s.PlatformListQuerySerializer, request.query_params)
        return self.paginated(selectors.platform_list(**filters), s.PlatformSerializer)

    @extend_schema(
        operation_id="platforms_create",
        tags=["platforms"],
        summary="Add a platform",
        description="Needs the operators role. The platform is not contacted: refresh it to "
        "read its capabilities.",
        request=s.PlatformCreateSerializer,
        responses={201: s.PlatformDetailSerializer, 400: ERRORS_400, 403: DETAIL_403},
    )
    def post(self, request):
        data = dict(self.parse(s.PlatformCreateSerializer, request.data))
        platform = platform_services.platform_create(
            user=request.user, name=data.pop("name"), uri=data.pop("uri"), **data
        )
        response = self.present_platform(platform, status.HTTP_201_CREATED)
        response["Location"] = response.data["links"]["self"]
        return response


class PlatformDetailView(BaseView):
    @extend_schema(
        operation_id="platforms_retrieve",
        tags=["platforms"],
        summary="A platform with its capabilities and effective capabilities",
        responses={200: s.PlatformDetailSerializer, 404: DETAIL_404},
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
            403: DETAIL_403,
            404: DETAIL_404,
        },
    )
    def patch(self, request, name: str):
        platform = self.platform(name)
        data = self.parse(s.PlatformUpdateSerializer, request.data)
        platform = platform_services.platform_update(user=request.user, platform=platform, **data)
        return self.present_platform(platform)


class PlatformRefreshView(BaseView):
    @extend_schema(
        operation_id="platforms_refresh",
        tags=["platforms"],
        summary="Read the platform's capabilities from libvirt now",
        description="Needs the operators role. An unreachable platform is not an error of "
        "the request: the answer has `status: unreachable` and `last_error`.",
        request=None,
        responses={200: s.PlatformDetailSerializer, 403: DETAIL_403, 404: DETAIL_404},
    )
    def post(self, request, name: str):
        platform = platform_services.platform_refresh(
            platform=self.platform(name), user=request.user
        )
        return self.present_platform(platform)


class PlatformSyncView(BaseView):
    @extend_schema(
        operation_id="platforms_sync",
        tags=["platforms"],
        summary="Sync the platform's VM inventory now",
        description="Needs the operators role. Records every domain (unmanaged ones too), "
        "marks vanished ones gone and takes a metrics sample of running ones.",
        request=None,
        responses={200: s.SyncResultSerializer, 403: DETAIL_403, 404: DETAIL_404},
    )
    def post(self, request, name: str):
        result = inventory_services.inventory_sync(platform=self.platform(name), user=request.user)
        return Response(s.SyncResultSerializer(result).data)


# --- VMs ------------------------------------------------------------------------------


class VMListView(ListView):
    @extend_schema(
        operation_id="vms_list",
        tags=["vms"],
        summary="List the VM inventory",
        parameters=[s.VMListQuerySerializer],
        responses={200: s.VMSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        filters = self.parse(s.VMListQuerySerializer, request.query_params)
        return self.paginated(selectors.vm_list(**filters), s.VMSerializer)


class VMDetailView(BaseView):
    @extend_schema(
        operation_id="vms_retrieve",
        tags=["vms"],
        summary="One VM with its latest metrics sample",
        responses={200: s.VMDetailSerializer, 404: DETAIL_404},
    )
    def get(self, request, pk: int):
        vm = self.vm(pk)
        latest = selectors.vm_metrics(vm=vm, limit=1)
        context = {"request": request, "latest_sample": latest[-1] if latest else None}
        return Response(s.VMDetailSerializer(vm, context=context).data)


class VMMetricsView(BaseView):
    @extend_schema(
        operation_id="vms_metrics",
        tags=["vms"],
        summary="A VM's newest metrics samples, oldest first",
        parameters=[s.MetricsQuerySerializer],
        responses={200: s.MetricSampleSerializer(many=True), 400: ERRORS_400, 404: DETAIL_404},
    )
    def get(self, request, pk: int):
        query = self.parse(s.MetricsQuerySerializer, request.query_params)
        samples = selectors.vm_metrics(vm=self.vm(pk), limit=query["limit"])
        return Response(s.MetricSampleSerializer(samples, many=True).data)


class VMSnapshotsView(BaseView):
    @extend_schema(
        operation_id="vms_snapshots",
        tags=["vms"],
        summary="A VM's snapshots, newest first",
        description="The snapshots VM Persona took of the VM that still exist, on whichever "
        "platform they were taken (a rollback needs one on the VM's platform); `all=1` "
        "includes removed ones with when and why. Take one or roll back with "
        "`POST /api/v1/jobs/` (`kind`: `snapshot` or `rollback`).",
        parameters=[s.VMSnapshotsQuerySerializer],
        responses={200: s.VMSnapshotSerializer(many=True), 400: ERRORS_400, 404: DETAIL_404},
    )
    def get(self, request, pk: int):
        query = self.parse(s.VMSnapshotsQuerySerializer, request.query_params)
        snapshots = snapshot_services.vm_snapshots(vm=self.vm(pk), include_removed=query["all"])
        return Response(s.VMSnapshotSerializer(snapshots, many=True).data)


# --- Base images ----------------------------------------------------------------------


class ImageListView(ListView):
    @extend_schema(
        operation_id="images_list",
        tags=["images"],
        summary="List base images and where they lie on each platform",
        responses={200: s.BaseImageSerializer(many=True)},
    )
    def get(self, request):
        return self.paginated(selectors.base_image_list(), s.BaseImageSerializer)


class ImageDetailView(BaseView):
    @extend_schema(
        operation_id="images_retrieve",
        tags=["images"],
        summary="One base image",
        responses={200: s.BaseImageSerializer, 404: DETAIL_404},
    )
    def get(self, request, image_id: str):
        try:
            image = selectors.base_image_list().get(image_id=image_id)
        except BaseImage.DoesNotExist as exc:
            raise exceptions.NotFound(f"No base image '{image_id}'.") from exc
        return Response(s.BaseImageSerializer(image).data)
