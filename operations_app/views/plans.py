"""Scheduling policies' plans: the list, and a plan's review page (its actions with
their reasons and every candidate's verdict, the predicted and the realised effect),
where approvers approve it (leaving out the actions they untick) or reject it. The
services check the roles and the separation of duties; a refusal comes back on the
page with the status that fits it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from operations_app.models import PlanStatus
from operations_app.selectors import plans as plan_selectors
from operations_app.services import policies as policy_services
from operations_app.views.common import can_operate
from vmpersona.errors import DomainError, error_text, http_status


def _plan_or_404(pk: int):
    plan = plan_selectors.plan_get(pk)
    if plan is None:
        raise Http404(f"No plan #{pk}.")
    return plan


@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in PlanStatus.values:
        status = ""
    policy = request.GET.get("policy", "")
    rows = plan_selectors.plan_list(policy=policy, status=status)[:200]
    return render(
        request,
        "operations_app/plan_list.html",
        {
            "plans": rows,
            "status": status,
            "policy": policy,
            "statuses": PlanStatus.choices,
            "policies": plan_selectors.scheduling_policies(),
            "can_operate": can_operate(request.user),
        },
    )


def _detail(request: HttpRequest, plan, *, status: int = 200, error: str = "") -> HttpResponse:
    actions = plan_selectors.plan_actions(plan)
    return render(
        request,
        "operations_app/plan_detail.html",
        {
            "plan": plan,
            "actions": actions,
            "may_decide": policy_services.may_decide(request.user, plan),
            "error": error,
        },
        status=status,
    )


@login_required
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _plan_or_404(pk))


@login_required
@require_POST
def plan_decide(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan_or_404(pk)
    decision = request.POST.get("decision")
    comment = request.POST.get("comment", "")
    try:
        if decision == "approve":
            keep = {int(i) for i in request.POST.getlist("action") if i.isdigit()}
            skip = [a.index for a in plan.actions.all() if a.index not in keep]
            policy_services.plan_approve(user=request.user, plan=plan, skip=skip, comment=comment)
            messages.success(request, f"Plan #{plan.pk} approved: its moves are jobs now.")
        elif decision == "reject":
            policy_services.plan_reject(user=request.user, plan=plan, comment=comment)
            messages.info(request, f"Plan #{plan.pk} rejected.")
        else:
            return _detail(request, plan, status=400, error="Approve or reject.")
    except (DomainError, ValidationError) as exc:
        return _detail(request, plan, status=http_status(exc), error=error_text(exc))
    return redirect(plan.get_absolute_url())


@login_required
@require_POST
def policy_evaluate(request: HttpRequest, name: str) -> HttpResponse:
    policy = plan_selectors.scheduling_policies().filter(name=name).first()
    if policy is None:
        raise Http404(f"No scheduling policy named '{name}'.")
    try:
        plan = policy_services.policy_evaluate(user=request.user, policy=policy)
    except DomainError as exc:
        messages.error(request, error_text(exc))
        return redirect("operations:plans")
    return redirect(plan.get_absolute_url())
