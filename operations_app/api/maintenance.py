"""REST endpoints for host maintenance: a platform's current maintenance, the evacuation
plan (a dry run), starting and ending maintenance, and the list of maintenances.

Everyone authenticated may read; the plan, starting and ending need the operators role,
checked by the maintenance service (403 otherwise). An unknown window answers 400 at
``window``, as do a blackout, a disabled window and one that never opens again; a
platform already in maintenance (or not in it, to end it) answers 409, as does one that
cannot be reached to make the plan.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400, OBJECT_404, OPERATORS_403, STATE_409
from operations_app.api.platforms import PlatformView
from operations_app.api.serializers import maintenance as s
from operations_app.models import HostMaintenance, MaintenanceWindow, Platform
from operations_app.selectors import maintenance as maintenance_selectors
from operations_app.selectors import platforms as platform_selectors
from operations_app.selectors import windows as window_selectors
from operations_app.services import maintenance as maintenance_services
from vmpersona.api import ApiListView, ApiView
from vmpersona.errors import StateConflict, field_error

TAGS = ["maintenance"]

START_EXAMPLE = OpenApiExample(
    "In the patch-night window, back afterwards",
    value={"window": "payments-patching", "move_back": True, "reason": "BIOS update"},
    request_only=True,
)


def window_named(name: str | None) -> MaintenanceWindow | None:
    """The window a request names (None: at once); 400 at ``window`` when unknown."""
    if not name:
        return None
    window = window_selectors.window_get(name)
    if window is None:
        raise field_error("window", f"no maintenance window named '{name}'")
    return window


def refuse_if_in_maintenance(platform: Platform) -> None:
    """409 before the hosts are read for a plan that could not be used."""
    current = maintenance_selectors.maintenance_of(platform)
    if current is not None:
        raise StateConflict(
            f"Platform {platform.name} is already {current.get_state_display().lower()}."
        )


class MaintenanceView(ApiView):
    def present(self, maintenance: HostMaintenance, code=status.HTTP_200_OK) -> Response:
        fresh = maintenance_selectors.maintenance_list().get(pk=maintenance.pk)
        data = s.MaintenanceDetailSerializer(fresh, context={"request": self.request}).data
        return Response(data, status=code)


class PlatformMaintenanceView(PlatformView, MaintenanceView):
    @extend_schema(
        operation_id="platforms_maintenance_retrieve",
        tags=TAGS,
        summary="A platform's current maintenance",
        description="`maintenance` is null while the platform is in service; else its "
        "state, window, the plan recorded when it started, and what became of each VM.",
        responses={200: s.CurrentMaintenanceSerializer, 404: OBJECT_404},
    )
    def get(self, request, name: str):
        platform = self.platform(name)
        current = maintenance_selectors.maintenance_of(platform)
        if current is not None:
            current = maintenance_selectors.maintenance_list().get(pk=current.pk)
        return Response(
            s.CurrentMaintenanceSerializer(
                {"maintenance": current}, context={"request": request}
            ).data
        )

    @extend_schema(
        operation_id="platforms_maintenance_start",
        tags=TAGS,
        summary="Put a platform into maintenance",
        description="Needs the operators role. Makes the evacuation plan (as "
        "`maintenance/plan/` does) and records it; from now on no new clone or migration "
        "is placed on the platform. Its managed VMs are moved to other platforms inside "
        "`window` (none: at once), a few at a time, each target chosen again when its move "
        "starts; unmanaged VMs are left alone. Once the last managed VM has left, the "
        "platform is `in_maintenance`.",
        request=s.MaintenanceStartSerializer,
        examples=[START_EXAMPLE],
        responses={
            201: s.MaintenanceDetailSerializer,
            400: ERRORS_400,
            403: OPERATORS_403,
            404: OBJECT_404,
            409: STATE_409,
        },
    )
    def post(self, request, name: str):
        platform = self.platform(name)
        data = self.parse(s.MaintenanceStartSerializer, request.data)
        window = window_named(data["window"])
        refuse_if_in_maintenance(platform)
        plan = maintenance_services.evacuation_plan(user=request.user, platform=platform)
        maintenance = maintenance_services.maintenance_start(
            user=request.user,
            platform=platform,
            window=window,
            move_back=data["move_back"],
            reason=data["reason"],
            plan=plan,
        )
        response = self.present(maintenance, status.HTTP_201_CREATED)
        response["Location"] = response.data["links"]["self"]
        return response


class PlatformMaintenancePlanView(PlatformView):
    @extend_schema(
        operation_id="platforms_maintenance_plan",
        tags=TAGS,
        summary="Dry run: where the platform's VMs would go",
        description="Needs the operators role. Changes nothing. For each managed VM "
        "(largest first) every other platform's verdict: the filter that refused it and "
        "why, or its scores; the adaptation dry run is asked best-scored first, and the "
        "chosen platform says live or cold and why. VMs nothing can take are in "
        "`unmovable` with the reason, unmanaged VMs in `unmanaged` (never moved). A "
        "platform that cannot be reached answers 409.",
        request=None,
        responses={
            200: s.EvacuationPlanSerializer,
            403: OPERATORS_403,
            404: OBJECT_404,
            409: STATE_409,
        },
    )
    def post(self, request, name: str):
        plan = maintenance_services.evacuation_plan(user=request.user, platform=self.platform(name))
        return Response(plan)


class PlatformMaintenanceEndView(PlatformView, MaintenanceView):
    @extend_schema(
        operation_id="platforms_maintenance_end",
        tags=TAGS,
        summary="End a platform's maintenance",
        description="Needs the operators role. The platform takes new VMs again; VMs that "
        "had not moved yet stay (`left`). With `move_back` (default: as asked when it "
        "started) the VMs it moved away, still where it put them, migrate back.",
        request=s.MaintenanceEndSerializer,
        responses={
            200: s.MaintenanceDetailSerializer,
            400: ERRORS_400,
            403: OPERATORS_403,
            404: OBJECT_404,
            409: STATE_409,
        },
    )
    def post(self, request, name: str):
        platform = self.platform(name)
        data = self.parse(s.MaintenanceEndSerializer, request.data)
        maintenance = maintenance_services.maintenance_end(
            user=request.user, platform=platform, move_back=data["move_back"]
        )
        return self.present(maintenance)


class PlatformMaintenanceRetryView(PlatformView, MaintenanceView):
    @extend_schema(
        operation_id="platforms_maintenance_retry",
        tags=TAGS,
        summary="Try the VMs left behind again",
        description="Needs the operators role. The VMs whose move failed or that no "
        "platform could take are tried again at the next tick (inside the window, when "
        "the maintenance has one).",
        request=None,
        responses={
            200: s.MaintenanceDetailSerializer,
            403: OPERATORS_403,
            404: OBJECT_404,
            409: STATE_409,
        },
    )
    def post(self, request, name: str):
        platform = self.platform(name)
        maintenance = maintenance_services.maintenance_retry(user=request.user, platform=platform)
        return self.present(maintenance)


class MaintenanceListView(ApiListView):
    @extend_schema(
        operation_id="maintenances_list",
        tags=TAGS,
        summary="List host maintenances, newest first",
        parameters=[s.MaintenanceListQuerySerializer],
        responses={200: s.MaintenanceSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        query = self.parse(s.MaintenanceListQuerySerializer, request.query_params)
        platform = (
            platform_selectors.platform_named(query["platform"]) if query.get("platform") else None
        )
        rows = maintenance_selectors.maintenance_list(platform=platform, active=query["active"])
        return self.paginated(rows, s.MaintenanceSerializer)


class MaintenanceDetailView(MaintenanceView):
    @extend_schema(
        operation_id="maintenances_retrieve",
        tags=TAGS,
        summary="A host maintenance, current or ended",
        responses={200: s.MaintenanceDetailSerializer, 404: OBJECT_404},
    )
    def get(self, request, pk: int):
        maintenance = maintenance_selectors.maintenance_list().filter(pk=pk).first()
        if maintenance is None:
            raise exceptions.NotFound(f"No host maintenance {pk}.")
        return self.present(maintenance)
