"""REST endpoints for scheduling policies at work: evaluating a policy now, the plans its
evaluations proposed, and approving (with actions left out) or rejecting one.

Everyone authenticated may read plans. Evaluating needs the operators role; approving
and rejecting the approvers role, and someone other than an author of the policy's
version when its scope or a VM it moves is flagged Production (403 otherwise). A plan
that is no longer proposed, expired, or of a recommend-only policy answers 409, as does
evaluating a policy without an approved version or with a trigger that is not evaluated
yet. Invalid input answers 400 at its field (``skip/0``, ``comment``, ``status``).
"""

from __future__ import annotations

from django.db.models import Count
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400, OBJECT_404, ROLES_403, STATE_409
from operations_app.api.serializers import plans as s
from operations_app.models import PolicyPlan
from operations_app.selectors import plans as plan_selectors
from operations_app.services import policies as policy_services
from profiles_app.models import Policy
from vmpersona.api import ApiListView, ApiView
from vmpersona.errors import field_error

TAGS = ["plans"]

APPROVE_EXAMPLE = OpenApiExample(
    "Run all but the second move",
    value={"skip": [1], "comment": "db-2 moves next week"},
    request_only=True,
)
REJECT_EXAMPLE = OpenApiExample(
    "Not during the sale", value={"comment": "no moves during the sale"}, request_only=True
)


def scheduling_policy(name: str) -> Policy:
    """The scheduling policy named ``name`` (404 when there is none)."""
    policy = plan_selectors.scheduling_policies().filter(name=name).first()
    if policy is None:
        raise exceptions.NotFound(f"No scheduling policy named '{name}'.")
    return policy


def check_skip(plan: PolicyPlan, skip: list[int]) -> None:
    """400 at ``skip/<n>`` for an index the plan has no action for."""
    indexes = set(plan.actions.values_list("index", flat=True))
    for n, index in enumerate(skip):
        if index not in indexes:
            raise field_error(f"skip/{n}", f"plan #{plan.pk} has no action {index}")


class PlanView(ApiView):
    def plan(self, pk: int) -> PolicyPlan:
        plan = plan_selectors.plan_get(pk)
        if plan is None:
            raise exceptions.NotFound(f"No plan #{pk}.")
        return plan

    def present(self, plan: PolicyPlan, code=status.HTTP_200_OK) -> Response:
        fresh = plan_selectors.plan_get(plan.pk) or plan
        context = {"request": self.request, "actions": plan_selectors.plan_actions(fresh)}
        return Response(s.PlanDetailSerializer(fresh, context=context).data, status=code)


class PlanListView(ApiListView):
    @extend_schema(
        operation_id="plans_list",
        tags=TAGS,
        summary="List the plans scheduling policies proposed, newest first",
        parameters=[s.PlanListQuerySerializer],
        responses={200: s.PlanSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        query = self.parse(s.PlanListQuerySerializer, request.query_params)
        if query.get("policy"):
            if not plan_selectors.scheduling_policies().filter(name=query["policy"]).exists():
                raise field_error("policy", f"no scheduling policy named '{query['policy']}'")
        rows = (
            plan_selectors.plan_list(policy=query.get("policy", ""), status=query.get("status", ""))
            .annotate(action_count=Count("actions"))
            .order_by("-created_at", "-pk")
        )
        return self.paginated(rows, s.PlanSerializer)


class PlanDetailView(PlanView):
    @extend_schema(
        operation_id="plans_retrieve",
        tags=TAGS,
        summary="A plan: its actions with their reasons, verdicts and jobs, and its effect",
        description="Each action says why the policy proposes it, its predicted effect, "
        "every platform's verdict for the VM (`placement`), its status and, once approved, "
        "its migration job. `efficacy` is the predicted effect of the whole plan; "
        "`realised` the effect measured once every action ended.",
        responses={200: s.PlanDetailSerializer, 404: OBJECT_404},
    )
    def get(self, request, pk: int):
        return self.present(self.plan(pk))


class PlanApproveView(PlanView):
    @extend_schema(
        operation_id="plans_approve",
        tags=TAGS,
        summary="Approve a proposed plan, leaving out some of its actions",
        description="Needs the approvers role, and someone other than an author of the "
        "policy's version when its scope or a VM it moves is flagged Production. Each "
        "action not in `skip` is checked against the facts now (the VM still where the "
        "plan found it) and becomes a migration job (in the policy's window when it has "
        "one), or is marked `stale` with the reason. A plan that is not proposed, expired, "
        "or of a recommend-only policy answers 409.",
        request=s.PlanApproveSerializer,
        examples=[APPROVE_EXAMPLE],
        responses={
            200: s.PlanDetailSerializer,
            400: ERRORS_400,
            403: ROLES_403,
            404: OBJECT_404,
            409: STATE_409,
        },
    )
    def post(self, request, pk: int):
        plan = self.plan(pk)
        data = self.parse(s.PlanApproveSerializer, request.data)
        check_skip(plan, data["skip"])
        plan = policy_services.plan_approve(
            user=request.user, plan=plan, skip=data["skip"], comment=data["comment"]
        )
        return self.present(plan)


class PlanRejectView(PlanView):
    @extend_schema(
        operation_id="plans_reject",
        tags=TAGS,
        summary="Reject a proposed plan",
        description="Needs the approvers role (with the same separation of duties as "
        "approving); `comment` says why (400 at `comment` when empty). Nothing runs.",
        request=s.PlanRejectSerializer,
        examples=[REJECT_EXAMPLE],
        responses={
            200: s.PlanDetailSerializer,
            400: ERRORS_400,
            403: ROLES_403,
            404: OBJECT_404,
            409: STATE_409,
        },
    )
    def post(self, request, pk: int):
        plan = self.plan(pk)
        data = self.parse(s.PlanRejectSerializer, request.data)
        plan = policy_services.plan_reject(user=request.user, plan=plan, comment=data["comment"])
        return self.present(plan)


class PolicyEvaluateView(PlanView):
    @extend_schema(
        operation_id="policies_evaluate",
        tags=TAGS,
        summary="Evaluate a scheduling policy now and record its plan",
        description="Needs the operators role. The policy's approved version is evaluated "
        "on the fleet as it is now (the adaptation dry run asked of each candidate move); "
        "the plan is recorded, supersedes the policy's older proposed plan, and its "
        "readers are told. An automatic policy's plan is approved at once. A policy "
        "without an approved version answers 409.",
        request=None,
        responses={
            201: s.PlanDetailSerializer,
            403: ROLES_403,
            404: OBJECT_404,
            409: STATE_409,
        },
    )
    def post(self, request, name: str):
        policy = scheduling_policy(name)
        plan = policy_services.policy_evaluate(user=request.user, policy=policy)
        response = self.present(plan, status.HTTP_201_CREATED)
        response["Location"] = response.data["links"]["self"]
        return response
