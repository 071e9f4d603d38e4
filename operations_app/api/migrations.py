"""REST endpoint for the dry run of a migration. Requesting one is a job
(``POST /api/v1/jobs/`` with ``kind: migrate``, see ``api/jobs.py``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400, ROLES_403, STATE_409
from operations_app.api.serializers import migrations as s
from operations_app.selectors import platforms as platform_selectors
from operations_app.selectors import vms as vm_selectors
from operations_app.services import migrations as migration_services
from vmpersona.api import ApiView


def migration_objects(data: dict):
    """The VM and the target platform a migration request or dry run names."""
    vm = vm_selectors.vm_named(data["vm"], platform=data["source"])
    target = platform_selectors.platform_ref(data["target"], path="target")
    return vm, target


class MigrationPlanView(ApiView):
    @extend_schema(
        operation_id="jobs_migration_plan",
        tags=["jobs"],
        summary="Dry run of a migration: what moving a VM would do",
        description="Takes the body of a `migrate` request (without `kind`), reads both "
        "platforms and answers the plan the job would follow: the verdict, the path (live "
        "or cold) and why, the platform differences, the fixes that resolve them, the guest "
        "commands, the disks to copy and the diff of the adapted definition. Changes "
        "nothing. `ready` is true when a migration requested now would go ahead. Needs the "
        "operators role; a platform that cannot be reached answers 409.",
        request=s.MigrationSerializer,
        responses={
            200: s.MigrationPlanSerializer,
            400: ERRORS_400,
            403: ROLES_403,
            409: STATE_409,
        },
    )
    def post(self, request):
        data = self.parse(s.MigrationSerializer, request.data)
        vm, target = migration_objects(data)
        plan = migration_services.migration_preview(
            user=request.user, vm=vm, target=target, mode=data["mode"]
        )
        return Response(plan)
