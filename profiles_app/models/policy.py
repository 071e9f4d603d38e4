"""Versioned, approvable policy documents.

A ``Policy`` is a named document of one kind (VPPDs first; scheduling policies later
use the same machinery). Each change is a ``PolicyVersion``: a draft while its author
edits it, immutable once submitted, carrying its content hash, parent, change note and
review. At most one version per policy is approved (active) at a time, enforced by a
partial unique constraint. simple-history keeps the audit trail of both tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords


class PolicyKind(models.TextChoices):
    VPPD = "vppd", "VM personality profile"
    SCHEDULING = "scheduling", "Scheduling policy"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded"
    RETIRED = "retired", "Retired"


# Named groups of statuses; transitions are expressed against these.
EDITABLE_STATUSES = (VersionStatus.DRAFT,)
REVIEWABLE_STATUSES = (VersionStatus.PENDING,)
FINAL_STATUSES = (
    VersionStatus.REJECTED,
    VersionStatus.SUPERSEDED,
    VersionStatus.RETIRED,
)


class Policy(models.Model):
    kind = models.CharField(max_length=20, choices=PolicyKind.choices, default=PolicyKind.VPPD)
    name = models.SlugField(
        max_length=63, help_text="Unique per kind; lowercase letters, digits and dashes."
    )
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "policies"
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="policy_unique_kind_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse(f"{self.url_namespace}:detail", kwargs={"name": self.name})

    @property
    def url_namespace(self) -> str:
        """Where its pages are: /profiles/ for VPPDs, /policies/ for scheduling policies."""
        return "profiles" if self.kind == PolicyKind.VPPD else "policies"


class PolicyVersion(models.Model):
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    # The stored document never holds a plain volume key: inline keys are moved into
    # VolumeKey rows (encrypted) and replaced by a key_ref before anything is saved.
    document = models.JSONField()
    content_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        max_length=20, choices=VersionStatus.choices, default=VersionStatus.DRAFT, db_index=True
    )
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    change_note = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Everyone who wrote any of this version's content: its author, whoever edited the
    # draft since, and the authors of an unreviewed version it was copied from. None of
    # them may approve or reject it (separation of duties, superusers included).
    authors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", blank=True, help_text="Who wrote its content."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review_comment = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "number"], name="policyversion_unique_number"
            ),
            models.UniqueConstraint(
                fields=["policy"],
                condition=Q(status="approved"),
                name="policyversion_single_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy.name}@{self.number}"

    def get_absolute_url(self) -> str:
        return reverse(
            f"{self.policy.url_namespace}:version",
            kwargs={"name": self.policy.name, "number": self.number},
        )

    @property
    def label(self) -> str:
        return f"{self.policy.name}@{self.number}"

    @property
    def execution_flags(self) -> list[str]:
        flags = self.document.get("execution_flags") if isinstance(self.document, dict) else None
        return list(flags) if isinstance(flags, list) else []

    @property
    def environment(self) -> str:
        for flag in self.execution_flags:
            if flag in ("Development", "Testing", "Production"):
                return flag
        return ""
