"""Scheduling policies' plans: how a plan reads (its actions with their reasons, predicted
effect, every platform's verdict, status and job; the plan's predicted and realised
effect, findings and decision), and the bodies that approve and reject one.

``efficacy``, ``realised`` and an action's ``effect`` hold what the policy's trigger
measures: utilisation (loads in percent of the metric), cost (monthly cost) or
evacuation (VMs left); the fields of the other triggers are absent.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from operations_app.api.serializers.common import NamedChoiceField, StrictSerializer, api_url
from operations_app.api.serializers.maintenance import VMPlacementSerializer
from operations_app.models import ActionStatus, PlanStatus, PolicyPlan, PolicyPlanAction
from profiles_app.models import PolicyKind

COMMENT_MAX = 2000
AUTOMATIONS = (
    ("recommend", "Recommend only: its plans are shown, never run"),
    ("approve", "Its plans run once an approver approves them"),
    ("automatic", "Its plans run by themselves (in its window, when it has one)"),
)


def _pair(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FloatField(),
        min_length=2,
        max_length=2,
        required=False,
        help_text=help_text,
    )


def _loads(help_text: str) -> serializers.DictField:
    return serializers.DictField(
        child=serializers.FloatField(), required=False, help_text=help_text
    )


class PlanEfficacySerializer(serializers.Serializer):
    """The plan's predicted effect, by trigger."""

    metric = serializers.CharField(required=False, help_text="utilisation: `cpu` or `memory`")
    load_before = _loads("utilisation: each platform's load now, percent")
    load_after = _loads("utilisation: each platform's load once the plan ran, percent")
    spread_before = serializers.FloatField(
        required=False,
        help_text="utilisation: highest minus lowest load of the platforms in scope, points",
    )
    spread_after = serializers.FloatField(required=False)
    peak_before = serializers.FloatField(required=False, help_text="utilisation: percent")
    peak_after = serializers.FloatField(required=False)
    monthly_cost_before = serializers.FloatField(required=False, help_text="cost")
    monthly_cost_after = serializers.FloatField(required=False, help_text="cost")
    monthly_saving = serializers.FloatField(required=False, help_text="cost")
    currency = serializers.CharField(required=False, help_text="cost")
    vms_left = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="evacuation: VMs still on each platform to be emptied once the plan ran",
    )
    min_cvss = serializers.FloatField(required=False, help_text="vulnerability")
    approve_at_once_cvss = serializers.FloatField(required=False, help_text="vulnerability")
    exposure_before = serializers.DictField(
        child=serializers.ListField(),
        required=False,
        help_text="vulnerability: each platform's counted advisories, [id, cvss], worst first",
    )
    vms_exposed_before = serializers.IntegerField(
        required=False, help_text="vulnerability: VMs on exposed platforms now"
    )
    vms_exposed_after = serializers.IntegerField(
        required=False, help_text="vulnerability: VMs on exposed platforms once the plan ran"
    )
    advisories_fixed = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="vulnerability: the advisories each action fixes, by VM",
    )
    exposed_profiles = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="vulnerability: profiles whose applications are exposed with no safe "
        "newer approved version (their authors are told)",
    )
    worst_cvss = serializers.FloatField(
        required=False, allow_null=True, help_text="vulnerability: the worst advisory fixed"
    )
    approve_at_once = serializers.BooleanField(
        required=False,
        help_text="vulnerability: the plan fixes an advisory at or above approve_at_once_cvss: "
        "approvers are asked at once and its jobs do not wait for the window",
    )


class PlanRealisedSerializer(serializers.Serializer):
    """The effect measured once every action ended (empty until then)."""

    metric = serializers.CharField(required=False, help_text="utilisation")
    load = _loads("utilisation: each platform's load measured after, percent")
    spread = serializers.FloatField(required=False, help_text="utilisation")
    peak = serializers.FloatField(required=False, help_text="utilisation")
    monthly_cost = serializers.FloatField(required=False, help_text="cost")
    done = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="vulnerability: the VMs whose action succeeded",
    )
    exposure = serializers.DictField(
        child=serializers.ListField(),
        required=False,
        help_text="vulnerability: each platform's counted advisories measured after",
    )
    moved = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="evacuation: the VMs the plan moved",
    )


class ActionEffectSerializer(serializers.Serializer):
    """One action's predicted effect, by trigger."""

    source_load = _pair("utilisation: the source platform's load [before, after], percent")
    target_load = _pair("utilisation: the target platform's load [before, after], percent")
    monthly_cost = _pair("cost: the VM's monthly cost [here, there]")
    monthly_saving = serializers.FloatField(required=False, help_text="cost")
    move_cost = serializers.FloatField(required=False, help_text="cost: what the move costs")
    payback_days = serializers.FloatField(required=False, allow_null=True, help_text="cost")
    moved_gib = serializers.FloatField(
        required=False, help_text="Memory and disk the move carries, GiB"
    )
    exposure_before = serializers.ListField(
        required=False, help_text="vulnerability: [id, cvss] the VM is exposed to now"
    )
    exposure_after = serializers.ListField(
        required=False, help_text="vulnerability: [id, cvss] once the action ran"
    )
    advisories_fixed = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="vulnerability"
    )
    replacement = serializers.CharField(
        required=False,
        help_text="vulnerability, a clone: the profile version the replacement is cloned from",
    )


class ActionLinksSerializer(serializers.Serializer):
    job = serializers.URLField(allow_null=True, help_text="Its migration job, once requested")
    job_page = serializers.URLField(allow_null=True)
    vm = serializers.URLField(allow_null=True, help_text="The VM in the inventory")


class PlanActionSerializer(serializers.Serializer):
    index = serializers.IntegerField(
        read_only=True, help_text="Its number in the plan (what `skip` names)"
    )
    kind = serializers.CharField(read_only=True, help_text="`migrate`")
    vm = serializers.CharField(source="vm_name", read_only=True)
    vm_id = serializers.IntegerField(
        allow_null=True, read_only=True, help_text="Inventory id; null once the VM is gone"
    )
    source = serializers.CharField(source="source.name", read_only=True)
    target = serializers.CharField(source="target.name", read_only=True)
    path = serializers.CharField(read_only=True, help_text="`live` or `cold`")
    reasons = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Why the policy proposes it"
    )
    effect = serializers.SerializerMethodField()
    placement = serializers.SerializerMethodField(
        help_text="Every platform's verdict for the VM: the filter that refused it and why, "
        "or its scores; which was chosen"
    )
    status = NamedChoiceField(ActionStatus, read_only=True)
    note = serializers.CharField(
        read_only=True, help_text="Why it was skipped, went stale or failed"
    )
    job = serializers.IntegerField(source="job_id", allow_null=True, read_only=True)
    links = serializers.SerializerMethodField()

    @extend_schema_field(ActionEffectSerializer)
    def get_effect(self, action: PolicyPlanAction) -> dict:
        return dict(action.effect or {})

    @extend_schema_field(VMPlacementSerializer(allow_null=True))
    def get_placement(self, action: PolicyPlanAction) -> dict | None:
        return action.placement or None

    @extend_schema_field(ActionLinksSerializer)
    def get_links(self, action: PolicyPlanAction) -> dict:
        request = self.context.get("request")
        job = action.job
        return {
            "job": api_url(request, "job-detail", pk=job.pk) if job is not None else None,
            "job_page": _absolute(request, job.get_absolute_url()) if job is not None else None,
            "vm": api_url(request, "vm-detail", pk=action.vm_id) if action.vm_id else None,
        }


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


class PlanLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    page = serializers.URLField(help_text="The plan's review page")
    approve = serializers.URLField(help_text="Approve it (while proposed)")
    reject = serializers.URLField(help_text="Reject it (while proposed)")
    policy = serializers.URLField(help_text="The scheduling policy with its versions")
    evaluate = serializers.URLField(help_text="Evaluate the policy again")


class PlanSerializer(serializers.Serializer):
    """A plan as listed."""

    id = serializers.IntegerField(read_only=True)
    policy = serializers.CharField(source="policy.name", read_only=True)
    policy_version = serializers.CharField(
        source="policy_version.label", read_only=True, help_text="NAME@NUMBER evaluated"
    )
    status = NamedChoiceField(PlanStatus, read_only=True)
    automation = serializers.ChoiceField(
        choices=AUTOMATIONS, read_only=True, help_text="The policy's automation when evaluated"
    )
    action_count = serializers.SerializerMethodField()
    taken_at = serializers.DateTimeField(
        read_only=True, help_text="When the fleet snapshot was taken"
    )
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(
        allow_null=True, read_only=True, help_text="Not decided by then, it expires"
    )
    requested_by = serializers.CharField(
        source="requested_by.username",
        allow_null=True,
        read_only=True,
        default=None,
        help_text="Who evaluated it; null: the periodic evaluation",
    )
    decided_by = serializers.CharField(
        source="decided_by.username",
        allow_null=True,
        read_only=True,
        default=None,
        help_text="Who approved or rejected it; null: undecided, or the system",
    )
    decided_at = serializers.DateTimeField(allow_null=True, read_only=True)
    finished_at = serializers.DateTimeField(
        allow_null=True, read_only=True, help_text="When its last action ended"
    )
    links = serializers.SerializerMethodField()

    def get_action_count(self, plan: PolicyPlan) -> int:
        count = getattr(plan, "action_count", None)
        return count if count is not None else plan.actions.count()

    @extend_schema_field(PlanLinksSerializer)
    def get_links(self, plan: PolicyPlan) -> dict:
        request = self.context.get("request")
        policy = reverse("profiles-api:profile-detail", kwargs={"name": plan.policy.name})
        return {
            "self": api_url(request, "plan-detail", pk=plan.pk),
            "page": _absolute(request, plan.get_absolute_url()),
            "approve": api_url(request, "plan-approve", pk=plan.pk),
            "reject": api_url(request, "plan-reject", pk=plan.pk),
            "policy": _absolute(request, f"{policy}?kind={PolicyKind.SCHEDULING}"),
            "evaluate": api_url(request, "policy-evaluate", name=plan.policy.name),
        }


class PlanDetailSerializer(PlanSerializer):
    """A plan with its actions, effect and findings."""

    comment = serializers.CharField(read_only=True, help_text="The decider's comment")
    findings = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="What the evaluation noticed but did not act on, and why",
    )
    efficacy = serializers.SerializerMethodField(help_text="The predicted effect")
    realised = serializers.SerializerMethodField(
        help_text="The effect measured once every action ended; empty until then"
    )
    snapshot_digest = serializers.CharField(
        read_only=True, help_text="SHA-256 of the evaluation (same facts, same digest)"
    )
    actions = serializers.SerializerMethodField()

    @extend_schema_field(PlanEfficacySerializer)
    def get_efficacy(self, plan: PolicyPlan) -> dict:
        return dict(plan.efficacy or {})

    @extend_schema_field(PlanRealisedSerializer)
    def get_realised(self, plan: PolicyPlan) -> dict:
        return dict(plan.realised or {})

    @extend_schema_field(PlanActionSerializer(many=True))
    def get_actions(self, plan: PolicyPlan) -> list:
        actions = self.context.get("actions")
        if actions is None:
            actions = plan.actions.select_related("source", "target", "job")
        return PlanActionSerializer(actions, many=True, context=self.context).data


# --------------------------------------------------------------------------- requests


class PlanApproveSerializer(StrictSerializer):
    skip = serializers.ListField(
        child=serializers.IntegerField(min_value=0),
        required=False,
        default=list,
        max_length=1000,
        help_text="Indexes of the actions to leave out; the others become migration jobs",
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=COMMENT_MAX
    )


class PlanRejectSerializer(StrictSerializer):
    comment = serializers.CharField(
        allow_blank=True, max_length=COMMENT_MAX, help_text="Required: why it is rejected"
    )


class PlanListQuerySerializer(serializers.Serializer):
    policy = serializers.CharField(
        required=False, allow_blank=True, help_text="Only this scheduling policy's plans"
    )
    status = NamedChoiceField(
        PlanStatus, required=False, allow_blank=True, help_text="Only plans in this status"
    )
