"""REST endpoints for the VM inventory and its metrics. Everyone authenticated may read."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400, OBJECT_404
from operations_app.api.serializers import vms as s
from operations_app.models import ManagedVM
from operations_app.selectors import advisories as advisory_selectors
from operations_app.selectors import vms as vm_selectors
from vmpersona.api import ApiListView, ApiView


class VMView(ApiView):
    def vm(self, pk: int) -> ManagedVM:
        try:
            return ManagedVM.objects.select_related("platform", "profile_version__policy").get(
                pk=pk
            )
        except ManagedVM.DoesNotExist as exc:
            raise exceptions.NotFound(f"No VM {pk} in the inventory.") from exc


class VMListView(VMView, ApiListView):
    @extend_schema(
        operation_id="vms_list",
        tags=["vms"],
        summary="List the VM inventory",
        parameters=[s.VMListQuerySerializer],
        responses={200: s.VMSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        filters = self.parse(s.VMListQuerySerializer, request.query_params)
        return self.paginated(vm_selectors.vm_list(**filters), s.VMSerializer)


class VMDetailView(VMView):
    @extend_schema(
        operation_id="vms_retrieve",
        tags=["vms"],
        summary="One VM with its latest metrics sample",
        responses={200: s.VMDetailSerializer, 404: OBJECT_404},
    )
    def get(self, request, pk: int):
        vm = self.vm(pk)
        latest = vm_selectors.vm_metrics(vm=vm, limit=1)
        context = {
            "request": request,
            "latest_sample": latest[-1] if latest else None,
            "older_qemu": advisory_selectors.vm_qemu_exposure(vm),
        }
        return Response(s.VMDetailSerializer(vm, context=context).data)


class VMMetricsView(VMView):
    @extend_schema(
        operation_id="vms_metrics",
        tags=["vms"],
        summary="A VM's newest metrics samples, oldest first",
        parameters=[s.MetricsQuerySerializer],
        responses={200: s.MetricSampleSerializer(many=True), 400: ERRORS_400, 404: OBJECT_404},
    )
    def get(self, request, pk: int):
        query = self.parse(s.MetricsQuerySerializer, request.query_params)
        samples = vm_selectors.vm_metrics(vm=self.vm(pk), limit=query["limit"])
        return Response(s.MetricSampleSerializer(samples, many=True).data)
