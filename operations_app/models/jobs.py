"""Long-running operations: one job row per clone, migration, rollback or decommission,
with append-only steps and events, verification checks, the libvirt resources a job
created (so rollback and the reaper know what to remove) and user notifications.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from operations_app.models.inventory import ManagedVM
from operations_app.models.platforms import Platform


class JobKind(models.TextChoices):
    CLONE = "clone", "Clone"
    MIGRATE = "migrate", "Migrate"
    ROLLBACK = "rollback", "Roll back to snapshot"
    SNAPSHOT = "snapshot", "Take a snapshot"
    DECOMMISSION = "decommission", "Decommission"
    # Start, shut down, reboot or force off a managed VM (params: {"action": ...}).
    POWER = "power", "Power"


class JobStatus(models.TextChoices):
    # Requested for a window or a time: recorded, not queued until it may start (see
    # services.scheduling). Not active: it holds no VM until it is queued.
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    VERIFYING = "verifying", "Verifying"
    # Verified; the VM is watched for its profile's health-watch period before the job
    # ends (a migration keeps the source, stopped, until then).
    WATCHING = "watching", "Watching health"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ROLLING_BACK = "rolling_back", "Rolling back"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CANCELLED = "cancelled", "Cancelled"
    ERRORED = "errored", "Errored"
    # A scheduled job that never started: its window or time passed (expired), the
    # checks before it would have started refused it (skipped), or an approver did not
    # let it run (rejected).
    EXPIRED = "expired", "Expired"
    SKIPPED = "skipped", "Skipped"
    REJECTED = "rejected", "Rejected"


# Named groups: transitions are written against these.
# A worker is at work on the job (it may be changing domains right now).
WORKING_STATUSES = (
    JobStatus.RUNNING,
    JobStatus.VERIFYING,
    JobStatus.WATCHING,
    JobStatus.ROLLING_BACK,
)
ACTIVE_STATUSES = (JobStatus.QUEUED, *WORKING_STATUSES)
TERMINAL_STATUSES = (
    JobStatus.SUCCEEDED,
    JobStatus.FAILED,
    JobStatus.ROLLED_BACK,
    JobStatus.CANCELLED,
    JobStatus.ERRORED,
    JobStatus.EXPIRED,
    JobStatus.SKIPPED,
    JobStatus.REJECTED,
)
# Waiting for its window or time (services.scheduling); may still be edited or moved.
WAITING_STATUSES = (JobStatus.SCHEDULED,)


class JobTrigger(models.TextChoices):
    MANUAL = "manual", "Manual"
    POLICY = "policy", "Policy"
    MAINTENANCE = "maintenance", "Host maintenance"


class ScheduleMode(models.TextChoices):
    """How a scheduled job's start was asked for."""

    WINDOW = "window", "In a named maintenance window"
    AUTO = "auto", "In the next maintenance window covering it"
    AT = "at", "At a time"


class OnMiss(models.TextChoices):
    """What a scheduled job does when its start interval passes without it starting."""

    NEXT = "next", "Move to the window's next occurrence"
    EXPIRE = "expire", "End as expired"


class OperationJob(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=JobKind.choices)
    status = models.CharField(
        max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    trigger = models.CharField(max_length=20, choices=JobTrigger.choices, default=JobTrigger.MANUAL)
    trigger_policy = models.ForeignKey(
        "profiles_app.Policy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="triggered_jobs",
    )
    trigger_detail = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    profile_version = models.ForeignKey(
        "profiles_app.PolicyVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="jobs",
    )
    content_hash = models.CharField(max_length=64, blank=True)
    platform = models.ForeignKey(
        Platform, on_delete=models.PROTECT, related_name="jobs", help_text="Target platform."
    )
    source_platform = models.ForeignKey(
        Platform, on_delete=models.PROTECT, null=True, blank=True, related_name="outgoing_jobs"
    )
    vm = models.ForeignKey(
        ManagedVM, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    vm_name = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)

    queue_task_id = models.CharField(max_length=64, blank=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the job was last handed to the task queue."
    )
    cancel_requested = models.BooleanField(default=False)
    progress = models.PositiveSmallIntegerField(default=0)
    current_step = models.CharField(max_length=60, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    failing_check = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    event_seq = models.PositiveIntegerField(
        default=0, help_text="Sequence number of the newest event."
    )

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    watch_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="While watching: when the health watch ends unless confirmed or extended.",
    )

    # Scheduling (services.scheduling): a job requested for a window or a time waits as
    # ``scheduled`` and is queued between ``not_before`` and ``not_after``.
    schedule = models.CharField(
        max_length=10,
        choices=ScheduleMode.choices,
        blank=True,
        help_text="How its start was asked for; empty for a job queued at once.",
    )
    not_before = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Scheduled: the earliest start."
    )
    not_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Scheduled: the latest start (the window's cutoff, or the time plus a grace).",
    )
    window = models.ForeignKey(
        "operations_app.MaintenanceWindow",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="scheduled_jobs",
        help_text="Scheduled: the window whose occurrence it waits for.",
    )
    on_miss = models.CharField(
        max_length=10,
        choices=OnMiss.choices,
        default=OnMiss.NEXT,
        help_text="Scheduled: what happens when its interval passes without it starting.",
    )
    approval_required = models.BooleanField(
        default=False,
        help_text="Scheduled: it waits for an approver other than its requester.",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(
        excluded_fields=["heartbeat_at", "enqueued_at", "progress", "current_step", "event_seq"]
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one active job per VM.
            models.UniqueConstraint(
                fields=["vm_name"],
                condition=Q(
                    status__in=["queued", "running", "verifying", "watching", "rolling_back"]
                ),
                name="operationjob_one_active_per_vm",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.vm_name} (#{self.pk})"

    def get_absolute_url(self) -> str:
        return reverse("operations:job", kwargs={"pk": self.pk})

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_scheduled(self) -> bool:
        return self.status == JobStatus.SCHEDULED

    @property
    def awaits_approval(self) -> bool:
        return self.is_scheduled and self.approval_required and self.approved_by_id is None


class StepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    # Stopped in the middle because the job was cancelled (not a failure of the step).
    CANCELLED = "cancelled", "Cancelled"


class JobStep(models.Model):
    job = models.ForeignKey(OperationJob, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=60)
    title = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=StepStatus.choices, default=StepStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    output = models.TextField(blank=True)

    class Meta:
        ordering = ["job", "index", "started_at"]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.name}"

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class JobEvent(models.Model):
    """Append-only; ``seq`` increases by one per job so clients resume with ``after=<seq>``."""

    job = models.ForeignKey(OperationJob, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="jobevent_unique_seq")]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.seq} {self.kind}"


class VerificationCheck(models.Model):
    """One item of a verification report: a VPPD element, expected against actual."""

    job = models.ForeignKey(OperationJob, on_delete=models.CASCADE, related_name="checks")
    index = models.PositiveSmallIntegerField()
    section = models.CharField(max_length=60)
    pointer = models.CharField(
        max_length=300, blank=True, help_text="JSON pointer of the VPPD element."
    )
    name = models.CharField(max_length=200)
    source = models.CharField(
        max_length=20, help_text="Where the actual value was read: libvirt or guest."
    )
    expected = models.TextField(blank=True)
    actual = models.TextField(blank=True)
    passed = models.BooleanField()
    detail = models.TextField(blank=True)
    checked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "index"]

    def __str__(self) -> str:
        return f"{self.name}: {'pass' if self.passed else 'FAIL'}"


class ResourceKind(models.TextChoices):
    DOMAIN = "domain", "Domain"
    VOLUME = "volume", "Volume"
    SECRET = "secret", "Secret"
    NWFILTER = "nwfilter", "Network filter"
    DHCP_HOST = "dhcp_host", "DHCP host entry"
    SNAPSHOT = "snapshot", "Snapshot"


class JobResource(models.Model):
    """Something a job made on a platform; rollback and the reaper remove what is left."""

    job = models.ForeignKey(OperationJob, on_delete=models.CASCADE, related_name="resources")
    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=ResourceKind.choices)
    identifier = models.CharField(
        max_length=500, help_text="Name, path or UUID as libvirt knows it."
    )
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(
        null=True, blank=True, help_text="Handed over to a VM that succeeded."
    )
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.identifier}"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    SUCCESS = "success", "Success"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.INFO)
    message = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    job = models.ForeignKey(
        OperationJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    read = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["recipient", "read", "-created_at"], name="notification_inbox")
        ]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.message[:60]}"
