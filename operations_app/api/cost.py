"""REST endpoint for the fleet's cost and utilisation: the figures the cost page shows.
Everyone authenticated may read them. An invalid label selector answers 400 at
``label``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400
from operations_app.api.serializers import cost as s
from operations_app.presentation.cost import cost_report
from operations_app.selectors import cost as cost_selectors
from vmpersona.api import ApiView


class CostView(ApiView):
    @extend_schema(
        operation_id="cost_retrieve",
        tags=["cost"],
        summary="What the fleet costs a month, what open cost plans would save, utilisation",
        description="Each VM costs its vCPUs and memory at its platform's hourly rates "
        "(730 hours) and its profile's disks at the monthly storage rate, as the scheduling "
        "policies count it. `totals` has one entry per currency (amounts in different "
        "currencies are never added), by platform and by profile, with what the proposed "
        "and approved cost plans' moves not run yet would save and when they pay back. "
        "A platform without rates has `monthly_cost` null and is left out of the totals. "
        "`platforms` has each platform's committed vCPUs, memory and storage against its "
        "capacity and overcommit limit, and what its VMs used in the last samples.",
        parameters=[s.CostQuerySerializer],
        responses={200: s.CostSerializer, 400: ERRORS_400},
    )
    def get(self, request):
        query = self.parse(s.CostQuerySerializer, request.query_params)
        rows = cost_selectors.cost_rows(
            currency=query["currency"].upper(), label=query["label"].strip()
        )
        return Response(s.CostSerializer(cost_report(rows).to_dict()).data)
