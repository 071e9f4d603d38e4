"""Plans that scheduling policies propose, their actions, and what each evaluation
remembers (``services.policies``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords

from operations_app.models.inventory import ManagedVM
from operations_app.models.jobs import OperationJob
from operations_app.models.platforms import Platform


class PlanStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"  # waits for an approver (or, recommend only, a reader)
    APPROVED = "approved", "Approved"  # its actions are jobs now
    DONE = "done", "Done"  # every action ended
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"  # not approved in time: its facts went stale
    SUPERSEDED = "superseded", "Superseded"  # a newer plan of the policy replaced it
    EMPTY = "empty", "Nothing to do"


OPEN_PLANS = (PlanStatus.PROPOSED, PlanStatus.APPROVED)


class ActionStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    SKIPPED = "skipped", "Skipped by the reviewer"
    STALE = "stale", "Stale: checked again, no longer goes ahead"
    SCHEDULED = "scheduled", "Job requested"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"


class PolicyPlan(models.Model):
    """One evaluation's plan: its actions with reasons, its predicted effect, and once
    run, its realised effect."""

    policy = models.ForeignKey(
        "profiles_app.Policy", on_delete=models.CASCADE, related_name="plans"
    )
    policy_version = models.ForeignKey(
        "profiles_app.PolicyVersion", on_delete=models.PROTECT, related_name="plans"
    )
    status = models.CharField(
        max_length=20, choices=PlanStatus.choices, default=PlanStatus.PROPOSED
    )
    automation = models.CharField(max_length=20)
    taken_at = models.DateTimeField(help_text="When the fleet snapshot was taken.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    findings = models.JSONField(default=list, blank=True)
    efficacy = models.JSONField(default=dict, blank=True, help_text="The predicted effect.")
    realised = models.JSONField(default=dict, blank=True, help_text="The effect measured after.")
    snapshot_digest = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"plan #{self.pk} of {self.policy.name}"

    def get_absolute_url(self) -> str:
        return reverse("operations:plan", kwargs={"pk": self.pk})


class PolicyPlanAction(models.Model):
    plan = models.ForeignKey(PolicyPlan, on_delete=models.CASCADE, related_name="actions")
    index = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, default="migrate")
    vm = models.ForeignKey(
        ManagedVM, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    vm_name = models.CharField(max_length=200)
    source = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="+")
    path = models.CharField(max_length=10, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    effect = models.JSONField(default=dict, blank=True)
    placement = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=ActionStatus.choices, default=ActionStatus.PROPOSED
    )
    note = models.TextField(blank=True)
    job = models.ForeignKey(
        OperationJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="plan_actions"
    )

    class Meta:
        ordering = ["plan", "index"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "index"], name="planaction_unique_index")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.vm_name} {self.source.name} -> {self.target.name}"


class PolicyEvaluationState(models.Model):
    """What a policy's evaluations remember between runs: for how many evaluations in a
    row each platform met its trigger."""

    policy = models.OneToOneField(
        "profiles_app.Policy", on_delete=models.CASCADE, related_name="evaluation_state"
    )
    streaks = models.JSONField(default=dict, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"evaluations of {self.policy.name}"
