"""REST endpoint for a VM's snapshots. Taking one or rolling back is a job
(``POST /api/v1/jobs/``, see ``api/jobs.py``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400, OBJECT_404
from operations_app.api.serializers import snapshots as s
from operations_app.api.vms import VMView
from operations_app.services import snapshots as snapshot_services


class VMSnapshotsView(VMView):
    @extend_schema(
        operation_id="vms_snapshots",
        tags=["vms"],
        summary="A VM's snapshots, newest first",
        description="The snapshots VM Persona took of the VM that still exist, on whichever "
        "platform they were taken (a rollback needs one on the VM's platform); `all=1` "
        "includes removed ones with when and why. Take one or roll back with "
        "`POST /api/v1/jobs/` (`kind`: `snapshot` or `rollback`).",
        parameters=[s.VMSnapshotsQuerySerializer],
        responses={200: s.VMSnapshotSerializer(many=True), 400: ERRORS_400, 404: OBJECT_404},
    )
    def get(self, request, pk: int):
        query = self.parse(s.VMSnapshotsQuerySerializer, request.query_params)
        snapshots = snapshot_services.vm_snapshots(vm=self.vm(pk), include_removed=query["all"])
        return Response(s.VMSnapshotSerializer(snapshots, many=True).data)
