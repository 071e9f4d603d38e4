"""Jobs: how they are listed and shown, the request of a new job (one shape per kind),
their events, steps and verification checks, and extending a health watch."""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from operations_app.api.serializers.common import NamedChoiceField, api_url
from operations_app.api.serializers.migrations import MigrateJobSerializer
from operations_app.api.serializers.scheduling import ScheduleFieldsSerializer
from operations_app.api.serializers.snapshots import RollbackJobSerializer, SnapshotJobSerializer
from operations_app.models import JobKind, JobStatus, JobTrigger, OnMiss, ScheduleMode, StepStatus
from operations_app.presentation.jobs import WATCH_EXTEND_MINUTES
from operations_app.selectors import jobs as job_selectors
from operations_app.services.watch import EXTEND_MINUTES_MAX

MAX_EVENTS = 1000


class JobLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    page = serializers.URLField(help_text="The job's web page")
    events = serializers.URLField()
    steps = serializers.URLField()
    checks = serializers.URLField()
    cancel = serializers.URLField()
    watch_confirm = serializers.URLField(help_text="End the health watch now (while watching)")
    watch_extend = serializers.URLField(help_text="Watch longer (while watching)")
    schedule = serializers.URLField(help_text="Move a scheduled job, or change its on_miss")
    approve = serializers.URLField(help_text="Approve a scheduled job that waits for it")
    reject = serializers.URLField(help_text="Reject a scheduled job that waits for approval")


class CheckCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    passed = serializers.IntegerField()
    failed = serializers.IntegerField()


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    uuid = serializers.UUIDField(read_only=True)
    kind = NamedChoiceField(JobKind, read_only=True)
    status = NamedChoiceField(JobStatus, read_only=True)
    trigger = NamedChoiceField(JobTrigger, read_only=True)
    trigger_policy = serializers.CharField(
        source="trigger_policy.name", allow_null=True, read_only=True, default=None
    )
    trigger_detail = serializers.CharField(read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.username", allow_null=True, read_only=True, default=None
    )
    profile = serializers.CharField(
        source="profile_version.policy.name", allow_null=True, read_only=True, default=None
    )
    profile_version = serializers.IntegerField(
        source="profile_version.number", allow_null=True, read_only=True, default=None
    )
    content_hash = serializers.CharField(read_only=True)
    platform = serializers.CharField(source="platform.name", read_only=True)
    source_platform = serializers.CharField(
        source="source_platform.name", allow_null=True, read_only=True, default=None
    )
    vm = serializers.IntegerField(
        source="vm_id", allow_null=True, read_only=True, help_text="Inventory id of the VM"
    )
    vm_name = serializers.CharField(read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text="Percent")
    current_step = serializers.CharField(read_only=True)
    cancel_requested = serializers.BooleanField(read_only=True)
    error = serializers.CharField(read_only=True, help_text="Why the job did not succeed")
    failing_check = serializers.CharField(read_only=True)
    event_seq = serializers.IntegerField(
        read_only=True, help_text="Sequence number of the job's newest event"
    )
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    watch_until = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="While `watching`: when the health watch ends (passed) unless it is "
        "confirmed or extended first",
    )
    schedule = NamedChoiceField(
        ScheduleMode,
        read_only=True,
        allow_blank=True,
        help_text="How a scheduled job's start was asked for; empty for a job queued at once",
    )
    not_before = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Scheduled: the earliest start"
    )
    not_after = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="Scheduled: the latest start (the occurrence's cutoff, or the time plus "
        "the grace); past it the job moves on or expires (`on_miss`)",
    )
    window = serializers.CharField(
        source="window.name",
        allow_null=True,
        read_only=True,
        default=None,
        help_text="Scheduled: the maintenance window it waits for",
    )
    on_miss = NamedChoiceField(OnMiss, read_only=True)
    approval_required = serializers.BooleanField(
        read_only=True,
        help_text="Scheduled: it starts only once an approver other than its requester approves",
    )
    approved_by = serializers.CharField(
        source="approved_by.username", allow_null=True, read_only=True, default=None
    )
    approved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    duration_s = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    def get_duration_s(self, job) -> float | None:
        return job_selectors.job_duration_s(job)

    @extend_schema_field(JobLinksSerializer)
    def get_links(self, job) -> dict:
        request = self.context.get("request")
        page = job.get_absolute_url()
        return {
            "self": api_url(request, "job-detail", pk=job.pk),
            "page": request.build_absolute_uri(page) if request is not None else page,
            "events": api_url(request, "job-events", pk=job.pk),
            "steps": api_url(request, "job-steps", pk=job.pk),
            "checks": api_url(request, "job-checks", pk=job.pk),
            "cancel": api_url(request, "job-cancel", pk=job.pk),
            "watch_confirm": api_url(request, "job-watch-confirm", pk=job.pk),
            "watch_extend": api_url(request, "job-watch-extend", pk=job.pk),
            "schedule": api_url(request, "job-schedule", pk=job.pk),
            "approve": api_url(request, "job-approve", pk=job.pk),
            "reject": api_url(request, "job-reject", pk=job.pk),
        }


class JobDetailSerializer(JobSerializer):
    params = serializers.JSONField(read_only=True)
    result = serializers.JSONField(read_only=True)
    worker = serializers.CharField(read_only=True)
    queue_task_id = serializers.CharField(read_only=True)
    heartbeat_at = serializers.DateTimeField(read_only=True, allow_null=True)
    checks = serializers.SerializerMethodField()

    @extend_schema_field(CheckCountsSerializer)
    def get_checks(self, job) -> dict:
        return job_selectors.job_check_counts(job=job)


class JobListQuerySerializer(serializers.Serializer):
    kind = NamedChoiceField(JobKind, required=False)
    status = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="A status, several separated by commas, or `active` for every queued or "
        "running one (`scheduled` jobs are not active until they are queued)",
    )
    platform = serializers.CharField(required=False, allow_blank=True, help_text="Platform name")
    vm_name = serializers.CharField(required=False, allow_blank=True)
    mine = serializers.BooleanField(
        required=False, default=False, help_text="Only jobs I requested"
    )

    def validate_status(self, value: str) -> list[str]:
        wanted = [s.strip() for s in value.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in JobStatus.values and s != "active"]
        if unknown:
            raise serializers.ValidationError(
                f"unknown status {unknown[0]!r}; one of: active, {', '.join(JobStatus.values)}"
            )
        return wanted


class CloneJobSerializer(ScheduleFieldsSerializer):
    kind = serializers.ChoiceField(choices=[("clone", "Clone")])
    profile = serializers.CharField(help_text="Profile name")
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2_147_483_647,
        help_text="Version number; the approved version when omitted",
    )
    platform = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Target platform name; omitted (or auto) the placement chooses one and the "
        "job's params.placement says why",
    )
    vm_name = serializers.CharField(max_length=63, help_text="Lowercase letters, digits and dashes")


class DecommissionJobSerializer(ScheduleFieldsSerializer):
    kind = serializers.ChoiceField(choices=[("decommission", "Decommission")])
    vm = serializers.IntegerField(min_value=1, help_text="Inventory id of the VM (see /vms/)")


JOB_REQUEST = PolymorphicProxySerializer(
    component_name="NewJob",
    serializers={
        "clone": CloneJobSerializer,
        "decommission": DecommissionJobSerializer,
        "migrate": MigrateJobSerializer,
        "rollback": RollbackJobSerializer,
        "snapshot": SnapshotJobSerializer,
    },
    resource_type_field_name="kind",
)


class WatchExtendSerializer(serializers.Serializer):
    # The range is the service's to check, after the role: a refused user hears 403.
    minutes = serializers.IntegerField(
        required=False,
        default=WATCH_EXTEND_MINUTES,
        help_text=f"How many minutes longer to watch, 1 to {EXTEND_MINUTES_MAX}: from the "
        "watch's current end (or from now, if that has passed). The watch must end before "
        "the worker's time limit for the job; the 400 answer says how far it can go",
    )


class JobEventSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    seq = serializers.IntegerField(help_text="Increases by one per event of the job")
    kind = serializers.CharField(
        help_text="status, progress, step_started, step_finished, log, cancel_requested, "
        "check, result, transfer, health (a health-watch probe round), watch (the watch "
        "confirmed or extended)"
    )
    payload = serializers.DictField(child=serializers.JSONField())
    at = serializers.DateTimeField(allow_null=True)


class JobEventsQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=2_147_483_647,
        help_text="Events after this seq",
    )
    limit = serializers.IntegerField(
        required=False,
        default=500,
        min_value=1,
        max_value=MAX_EVENTS,
        help_text="At most this many",
    )


class JobEventsSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    status = NamedChoiceField(JobStatus, help_text="The job's status now")
    after = serializers.IntegerField()
    last_seq = serializers.IntegerField(help_text="The job's newest event")
    more = serializers.BooleanField(help_text="More events follow: ask again after the last one")
    events = JobEventSerializer(many=True)


class JobStepSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    name = serializers.CharField()
    title = serializers.CharField()
    status = NamedChoiceField(StepStatus)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_s = serializers.FloatField(allow_null=True)
    output = serializers.CharField()


class VerificationCheckSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    section = serializers.CharField()
    pointer = serializers.CharField(help_text="JSON pointer of the VPPD element")
    name = serializers.CharField()
    source = serializers.CharField(help_text="Where the actual value was read: libvirt or guest")
    expected = serializers.CharField()
    actual = serializers.CharField()
    passed = serializers.BooleanField()
    detail = serializers.CharField()
    checked_at = serializers.DateTimeField()
