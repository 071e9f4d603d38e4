"""REST endpoints for the labels of a VM and of a platform.

``GET`` reads them (everyone authenticated); ``PUT`` replaces them all and ``PATCH``
sets some and removes others, which needs the operators role (403 otherwise). A bad
label answers 400 with its path (``labels/<key>``, ``remove/<n>``). Each answers the
labels as they are after the change.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400, OBJECT_404, OPERATORS_403
from operations_app.api.platforms import PlatformView
from operations_app.api.serializers import labels as s
from operations_app.api.vms import VMView
from operations_app.services import labels as label_services

PUT_EXAMPLE = OpenApiExample(
    "Replace", value={"labels": {"team": "payments", "rack": "r12"}}, request_only=True
)
PATCH_EXAMPLE = OpenApiExample(
    "Set one, drop another",
    value={"labels": {"team": "payments"}, "remove": ["rack"]},
    request_only=True,
)
WRITE_RESPONSES = {200: s.LabelsSerializer, 400: ERRORS_400, 403: OPERATORS_403, 404: OBJECT_404}


def _labels(obj) -> Response:
    return Response({"labels": obj.labels or {}})


class VMLabelsView(VMView):
    @extend_schema(
        operation_id="vms_labels_retrieve",
        tags=["vms"],
        summary="A VM's labels",
        responses={200: s.LabelsSerializer, 404: OBJECT_404},
    )
    def get(self, request, pk: int):
        return _labels(self.vm(pk))

    @extend_schema(
        operation_id="vms_labels_update",
        tags=["vms"],
        summary="Replace a VM's labels",
        description="Needs the operators role. The VM's labels become exactly these "
        '(`{}` removes them all). Recorded in the VM\'s history as "labels changed".',
        request=s.LabelsSerializer,
        examples=[PUT_EXAMPLE],
        responses=WRITE_RESPONSES,
    )
    def put(self, request, pk: int):
        vm = self.vm(pk)
        data = self.parse(s.LabelsSerializer, request.data)
        vm = label_services.vm_labels_set(
            user=request.user, vm=vm, labels=data["labels"], replace=True
        )
        return _labels(vm)

    @extend_schema(
        operation_id="vms_labels_partial_update",
        tags=["vms"],
        summary="Set some of a VM's labels and remove others",
        description="Needs the operators role. `labels` are set over the others; the "
        "`remove` keys are dropped.",
        request=s.LabelsPatchSerializer,
        examples=[PATCH_EXAMPLE],
        responses=WRITE_RESPONSES,
    )
    def patch(self, request, pk: int):
        vm = self.vm(pk)
        data = self.parse(s.LabelsPatchSerializer, request.data)
        vm = label_services.vm_labels_set(
            user=request.user, vm=vm, labels=data["labels"], remove=data["remove"]
        )
        return _labels(vm)


class PlatformLabelsView(PlatformView):
    @extend_schema(
        operation_id="platforms_labels_retrieve",
        tags=["platforms"],
        summary="A platform's labels",
        responses={200: s.LabelsSerializer, 404: OBJECT_404},
    )
    def get(self, request, name: str):
        return _labels(self.platform(name))

    @extend_schema(
        operation_id="platforms_labels_update",
        tags=["platforms"],
        summary="Replace a platform's labels",
        description="Needs the operators role. The platform's labels become exactly these "
        '(`{}` removes them all). Recorded in its history as "labels changed".',
        request=s.LabelsSerializer,
        examples=[PUT_EXAMPLE],
        responses=WRITE_RESPONSES,
    )
    def put(self, request, name: str):
        platform = self.platform(name)
        data = self.parse(s.LabelsSerializer, request.data)
        platform = label_services.platform_labels_set(
            user=request.user, platform=platform, labels=data["labels"], replace=True
        )
        return _labels(platform)

    @extend_schema(
        operation_id="platforms_labels_partial_update",
        tags=["platforms"],
        summary="Set some of a platform's labels and remove others",
        description="Needs the operators role. `labels` are set over the others; the "
        "`remove` keys are dropped.",
        request=s.LabelsPatchSerializer,
        examples=[PATCH_EXAMPLE],
        responses=WRITE_RESPONSES,
    )
    def patch(self, request, name: str):
        platform = self.platform(name)
        data = self.parse(s.LabelsPatchSerializer, request.data)
        platform = label_services.platform_labels_set(
            user=request.user, platform=platform, labels=data["labels"], remove=data["remove"]
        )
        return _labels(platform)
