"""REST endpoint for a VM's power: start, gracefully shut down, reboot or force off.

``POST /api/v1/vms/<id>/power/`` with ``{"action": ...}`` queues a ``power`` job through
``job_request_power`` (the service the VM page and ``persona power`` call) and answers
202 with the job. The operators role is needed (403 otherwise); a VM that is gone, not
made by VM Persona, held by another job or in a state the action does not fit answers
409; an unknown action 400 at the path ``action``.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400, OBJECT_404, ROLES_403, STATE_409
from operations_app.api.serializers import power as s
from operations_app.api.serializers.jobs import JobDetailSerializer
from operations_app.api.vms import VMView
from operations_app.selectors import jobs as job_selectors
from operations_app.services import power as power_services


class VMPowerView(VMView):
    @extend_schema(
        operation_id="vms_power",
        tags=["vms"],
        summary="Start, shut down, reboot or force off a VM",
        description="Needs the operators role, and a VM VM Persona made. Queues a `power` "
        "job and answers 202 with it; follow it through its `events` link. `start` starts "
        "a stopped VM and waits for its guest agent; `shutdown` presses the guest's ACPI "
        "power button and waits up to VMPERSONA_POWER_SHUTDOWN_TIMEOUT_S (120 s) for it to "
        "power off: a guest that ignores it fails the job, nothing is forced; `reboot` "
        "restarts the guest the same way and waits until it is back; `force_off` powers the "
        "VM off at once without asking the guest. A VM held by another job, or whose state "
        "the action does not fit (starting a running VM), answers 409.",
        request=s.PowerRequestSerializer,
        examples=[OpenApiExample("Shut down", value={"action": "shutdown"}, request_only=True)],
        responses={
            202: JobDetailSerializer,
            400: ERRORS_400,
            403: ROLES_403,
            404: OBJECT_404,
            409: STATE_409,
        },
    )
    def post(self, request, pk: int):
        vm = self.vm(pk)
        data = self.parse(s.PowerRequestSerializer, request.data)
        job = power_services.job_request_power(user=request.user, vm=vm, action=data["action"])
        job = job_selectors.job_get(user=request.user, pk=job.pk)
        body = JobDetailSerializer(job, context={"request": request}).data
        response = Response(body, status=status.HTTP_202_ACCEPTED)
        response["Location"] = body["links"]["self"]
        return response
