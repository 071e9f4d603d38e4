"""The fleet's cost and utilisation page: what the fleet costs a month per currency, by
platform and by profile, what the open cost plans would save and when they pay back,
and how full each platform is. ``?currency=EUR`` and ``?label=rack=r12`` narrow it to
some platforms; an invalid label selector answers 400 with the problem beside it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from operations_app.presentation.cost import cost_report
from operations_app.selectors import cost as cost_selectors
from vmpersona.errors import error_text


@login_required
def fleet_cost(request: HttpRequest) -> HttpResponse:
    currency = request.GET.get("currency", "").strip().upper()[:3]
    label = request.GET.get("label", "").strip()
    label_error = ""
    try:
        rows = cost_selectors.cost_rows(currency=currency, label=label)
    except ValidationError as exc:
        label_error = error_text(exc)
        rows = cost_selectors.cost_rows(currency=currency)
    return render(
        request,
        "operations_app/cost.html",
        {"report": cost_report(rows), "label_error": label_error, "label": label},
        status=400 if label_error else 200,
    )
