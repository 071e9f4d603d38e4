"""REST endpoints for jobs and notifications.

Thin: each view parses its input, calls one selector or service and presents the
result. Who may see a job is ``selectors_jobs.job_visible_to``; a job someone may not
see answers 404 like one that does not exist. Requests and cancels go through the same
services as the pages and the CLI, so a refused role answers 403, a job or VM in the
wrong state 409, and invalid input 400 with one ``{"path", "message"}`` per problem.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse

from operations_app import selectors_jobs as selectors
from operations_app.api.serializers import NamedChoiceField
from operations_app.models import (
    JobKind,
    JobStatus,
    JobTrigger,
    OperationJob,
    Severity,
    StepStatus,
)
from operations_app.services import clones as clone_services
from operations_app.services import decommissions as decommission_services
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from operations_app.services import migrations as migration_services
from operations_app.services import notifications as notification_services
from operations_app.services import snapshots as snapshot_services
from vmpersona.api import (
    ApiListView,
    ApiView,
    DetailResponseSerializer,
    ErrorResponseSerializer,
    field_error,
)

API_NS = "operations-api"
MAX_EVENTS = 1000

# --- Fields -----------------------------------------------------------------------------


def _url(request, name: str, **kwargs) -> str:
    return reverse(f"{API_NS}:{name}", kwargs=kwargs, request=request)


# --- Jobs -------------------------------------------------------------------------------


class JobLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    page = serializers.URLField(help_text="The job's web page")
    events = serializers.URLField()
    steps = serializers.URLField()
    checks = serializers.URLField()
    cancel = serializers.URLField()


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
    duration_s = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    def get_duration_s(self, job) -> float | None:
        return selectors.job_duration_s(job)

    @extend_schema_field(JobLinksSerializer)
    def get_links(self, job) -> dict:
        request = self.context.get("request")
        page = job.get_absolute_url()
        return {
            "self": _url(request, "job-detail", pk=job.pk),
            "page": request.build_absolute_uri(page) if request is not None else page,
            "events": _url(request, "job-events", pk=job.pk),
            "steps": _url(request, "job-steps", pk=job.pk),
            "checks": _url(request, "job-checks", pk=job.pk),
            "cancel": _url(request, "job-cancel", pk=job.pk),
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
        return selectors.job_check_counts(job=job)


class JobListQuerySerializer(serializers.Serializer):
    kind = NamedChoiceField(JobKind, required=False)
    status = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="A status, several separated by commas, or `active` for every unfinished one",
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


class CloneJobSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[("clone", "Clone")])
    profile = serializers.CharField(help_text="Profile name")
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2_147_483_647,
        help_text="Version number; the approved version when omitted",
    )
    platform = serializers.CharField(help_text="Target platform name")
    vm_name = serializers.CharField(max_length=63, help_text="Lowercase letters, digits and dashes")


class DecommissionJobSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[("decommission", "Decommission")])
    vm = serializers.IntegerField(min_value=1, help_text="Inventory id of the VM (see /vms/)")


@extend_schema_field(
    {
        "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "minLength": 1}],
        "description": "An id (integer) or a name (string)",
    }
)
class IdOrNameField(serializers.Field):
    """An object named by its id (a JSON integer) or by its name (a string; digits are
    tried as an id first)."""

    default_error_messages = {
        "invalid": "an id (integer) or a name (string)",
        "blank": "This field may not be blank.",
    }

    def to_internal_value(self, data) -> int | str:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, int):
            if data < 1:
                self.fail("invalid")
            return data
        data = data.strip()
        if not data:
            self.fail("blank")
        return data

    def to_representation(self, value):
        return value


class MigrationMode(models.TextChoices):
    """The modes ``migration_services.MIGRATION_MODES`` accepts, with what each one does."""

    AUTO = "auto", "Live when nothing the guest sees changes and the VM runs, else cold"
    LIVE = "live", "Live only: refused when the hardware changes or the VM is not running"
    COLD = "cold", "Cold: the VM is shut down while its disks are copied"


class MigrationSerializer(serializers.Serializer):
    vm = IdOrNameField(help_text="The VM: inventory id (see /vms/) or name")
    source = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The VM's platform name, when its name is not unique",
    )
    target = IdOrNameField(help_text="Target platform: id or name")
    mode = NamedChoiceField(MigrationMode, required=False, default=MigrationMode.AUTO)


class MigrateJobSerializer(MigrationSerializer):
    kind = serializers.ChoiceField(choices=[("migrate", "Migrate")])


class VmOnPlatformSerializer(serializers.Serializer):
    vm = IdOrNameField(help_text="The VM: inventory id (see /vms/) or name")
    platform = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The VM's platform name, when its name is not unique",
    )


class SnapshotJobSerializer(VmOnPlatformSerializer):
    kind = serializers.ChoiceField(choices=[("snapshot", "Snapshot")])
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="At most 300 characters, on one line",
    )


class RollbackJobSerializer(VmOnPlatformSerializer):
    kind = serializers.ChoiceField(choices=[("rollback", "Rollback")])
    snapshot = IdOrNameField(help_text="The snapshot: id or name (see /vms/<id>/snapshots/)")


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


class MigrationDifferenceSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="machine_type, cpu_model, disk_bus, network, ...")
    subject = serializers.CharField(help_text="What it is about: domain, disk vda, interface ...")
    source = serializers.CharField(help_text="The value the VM uses")
    target = serializers.CharField(help_text="What the target offers or requires")
    detail = serializers.CharField()
    blocking = serializers.BooleanField(help_text="The VM cannot run on the target as it is")
    reason = serializers.CharField(help_text="Why no fix resolved it (unresolved ones only)")


class MigrationFixSerializer(serializers.Serializer):
    fix_id = serializers.CharField(help_text="`builtin:<name>` or the profile fix's id")
    description = serializers.CharField()
    action = serializers.DictField(child=serializers.JSONField())
    when = serializers.CharField(help_text="definition, before_cutover or after_cutover")
    differences = MigrationDifferenceSerializer(many=True)
    changes = serializers.ListField(child=serializers.CharField())


class MigrationDiskSerializer(serializers.Serializer):
    volume = serializers.CharField()
    target = serializers.CharField(help_text="The guest's device name, e.g. vda")
    capacity_bytes = serializers.IntegerField()
    allocation_bytes = serializers.IntegerField(allow_null=True)
    encrypted = serializers.BooleanField()
    from_pool = serializers.CharField(allow_null=True)
    to_pool = serializers.CharField()


class MigrationPlanSerializer(serializers.Serializer):
    vm = serializers.CharField()
    source = serializers.CharField(help_text="The platform the VM is on")
    target = serializers.CharField()
    profile_version = serializers.CharField()
    running = serializers.BooleanField()
    requested_mode = NamedChoiceField(MigrationMode)
    ready = serializers.BooleanField(help_text="A migration requested now would go ahead")
    verdict = serializers.CharField(help_text="One sentence: what would happen, or why not")
    path = serializers.ChoiceField(
        choices=[("live", "live"), ("cold", "cold")],
        allow_null=True,
        help_text="The path the job would take; null when it would not go ahead",
    )
    path_reason = serializers.CharField()
    refused = serializers.CharField(help_text="Why the requested mode cannot be met")
    ok = serializers.BooleanField(help_text="The adaptation resolves every blocking difference")
    problems = serializers.ListField(child=serializers.CharField())
    cpu_compatible = serializers.BooleanField(allow_null=True)
    differences = MigrationDifferenceSerializer(many=True)
    unresolved = MigrationDifferenceSerializer(
        many=True, help_text="The differences still there after the fixes, with the reason"
    )
    fixes = MigrationFixSerializer(many=True)
    guest_commands_before = MigrationFixSerializer(many=True)
    guest_commands_after = MigrationFixSerializer(many=True)
    hardware_changes = serializers.ListField(child=serializers.CharField())
    notes = serializers.ListField(child=serializers.CharField())
    disks = MigrationDiskSerializer(many=True)
    copy_bytes = serializers.IntegerField(help_text="Bytes the disks hold, to be copied")
    xml_diff = serializers.ListField(
        child=serializers.CharField(),
        help_text="Unified diff of the VM's definition and the adapted one, line by line",
    )


class JobEventSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    seq = serializers.IntegerField(help_text="Increases by one per event of the job")
    kind = serializers.CharField(
        help_text="status, progress, step_started, step_finished, log, cancel_requested, "
        "check, result"
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


# --- Notifications ------------------------------------------------------------------------


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    severity = NamedChoiceField(Severity)
    message = serializers.CharField()
    link = serializers.CharField(help_text="Path of the page it is about")
    job = serializers.IntegerField(source="job_id", allow_null=True)
    read = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class NotificationListQuerySerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False, help_text="Only unread ones")


class NotificationReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text="Mark only these; all unread when omitted",
    )


class NotificationReadResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many became read")
    unread = serializers.IntegerField(help_text="How many are still unread")


# --- Views --------------------------------------------------------------------------------

ERRORS_400 = OpenApiResponse(ErrorResponseSerializer, description="Invalid input")
DETAIL_403 = OpenApiResponse(
    DetailResponseSerializer, description="The user's roles do not allow it"
)
DETAIL_404 = OpenApiResponse(
    DetailResponseSerializer, description="No such job, or one the user may not see"
)
DETAIL_409 = OpenApiResponse(
    DetailResponseSerializer, description="The job, VM, version or platform is in the wrong state"
)


class BaseView(ApiView):
    def job(self, pk: int) -> OperationJob:
        return selectors.job_get(user=self.request.user, pk=pk)

    def present(self, job: OperationJob, code=status.HTTP_200_OK) -> Response:
        job = selectors.job_get(user=self.request.user, pk=job.pk)
        data = JobDetailSerializer(job, context={"request": self.request}).data
        return Response(data, status=code)


class JobListView(BaseView, ApiListView):
    @extend_schema(
        operation_id="jobs_list",
        tags=["jobs"],
        summary="List jobs",
        description="Newest first. Operators, approvers and viewers see every job; anyone "
        "else the jobs they requested.",
        parameters=[JobListQuerySerializer],
        responses={200: JobSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        filters = self.parse(JobListQuerySerializer, request.query_params)
        return self.paginated(selectors.job_list(user=request.user, **filters), JobSerializer)

    @extend_schema(
        operation_id="jobs_create",
        tags=["jobs"],
        summary="Request a clone, a migration, a snapshot, a rollback or a decommission",
        description="`clone` builds `vm_name` on `platform` from an approved profile version "
        "(the approved one when `version` is omitted); operators may clone anything, authors "
        "Development and Testing profiles. `migrate` moves a managed VM to the `target` "
        "platform (`mode`: auto, live or cold) and needs the operators role; "
        "`jobs/migration-plan/` shows what it would do first. `snapshot` takes a snapshot "
        "of a managed VM (with its memory when it runs and its disks allow) with an optional "
        "`description`; `rollback` returns the VM to one of its snapshots (`snapshot`: id or "
        "name, see `vms/<id>/snapshots/`), keeping the state it replaces as a "
        "`before_rollback` snapshot; both need the operators role, and a removed snapshot or "
        "one taken on another platform answers 409. `decommission` removes a VM of "
        "the inventory and needs the operators role. The job is queued for a worker; follow "
        "it through its `events` link or the websocket `ws/jobs/<id>/?after=<seq>`.",
        request=JOB_REQUEST,
        responses={
            201: JobDetailSerializer,
            400: ERRORS_400,
            403: DETAIL_403,
            409: DETAIL_409,
        },
    )
    def post(self, request):
        kind = request.data.get("kind") if hasattr(request.data, "get") else None
        if kind == JobKind.CLONE:
            job = self._clone(self.parse(CloneJobSerializer, request.data))
        elif kind == JobKind.MIGRATE:
            job = self._migrate(self.parse(MigrateJobSerializer, request.data))
        elif kind == JobKind.SNAPSHOT:
            job = self._snapshot(self.parse(SnapshotJobSerializer, request.data))
        elif kind == JobKind.ROLLBACK:
            job = self._rollback(self.parse(RollbackJobSerializer, request.data))
        elif kind == JobKind.DECOMMISSION:
            job = self._decommission(self.parse(DecommissionJobSerializer, request.data))
        else:
            raise DjangoValidationError(
                [field_error("kind", "one of: clone, migrate, snapshot, rollback, decommission")]
            )
        response = self.present(job, status.HTTP_201_CREATED)
        response["Location"] = response.data["links"]["self"]
        return response

    def _clone(self, data: dict) -> OperationJob:
        version = selectors.clone_source(profile=data["profile"], number=data.get("version"))
        platform = selectors.platform_named(data["platform"])
        return clone_services.job_request_clone(
            user=self.request.user, version=version, platform=platform, vm_name=data["vm_name"]
        )

    def _migrate(self, data: dict) -> OperationJob:
        vm, target = _migration_objects(data)
        return migration_services.job_request_migrate(
            user=self.request.user, vm=vm, target=target, mode=data["mode"]
        )

    def _snapshot(self, data: dict) -> OperationJob:
        vm = selectors.vm_named(data["vm"], platform=data["platform"])
        return snapshot_services.job_request_snapshot(
            user=self.request.user, vm=vm, description=data["description"]
        )

    def _rollback(self, data: dict) -> OperationJob:
        vm = selectors.vm_named(data["vm"], platform=data["platform"])
        snapshot = selectors.snapshot_ref(vm, data["snapshot"])
        return snapshot_services.job_request_rollback(
            user=self.request.user, vm=vm, snapshot=snapshot
        )

    def _decommission(self, data: dict) -> OperationJob:
        vm = selectors.vm_named(data["vm"])
        return decommission_services.job_request_decommission(user=self.request.user, vm=vm)


def _migration_objects(data: dict):
    """The VM and the target platform a migration request or dry run names."""
    vm = selectors.vm_named(data["vm"], platform=data["source"])
    target = selectors.platform_ref(data["target"], path="target")
    return vm, target


class MigrationPlanView(BaseView):
    @extend_schema(
        operation_id="jobs_migration_plan",
        tags=["jobs"],
        summary="Dry run of a migration: what moving a VM would do",
        description="Takes the body of a `migrate` request (without `kind`), reads both "
        "platforms and answers the plan the job would follow: the verdict, the path (live "
        "or cold) and why, the platform differences, the fixes that resolve them, the guest "
        "commands, the disks to copy and the diff of the adapted definition. Changes "
        "nothing. `ready` is true when a migration requested now would go ahead. Needs the "
        "operators role; a platform that cannot be reached answers 409.",
        request=MigrationSerializer,
        responses={
            200: MigrationPlanSerializer,
            400: ERRORS_400,
            403: DETAIL_403,
            409: DETAIL_409,
        },
    )
    def post(self, request):
        data = self.parse(MigrationSerializer, request.data)
        vm, target = _migration_objects(data)
        plan = migration_services.migration_preview(
            user=request.user, vm=vm, target=target, mode=data["mode"]
        )
        return Response(plan)


class JobDetailView(BaseView):
    @extend_schema(
        operation_id="jobs_retrieve",
        tags=["jobs"],
        summary="A job",
        responses={200: JobDetailSerializer, 404: DETAIL_404},
    )
    def get(self, request, pk: int):
        return self.present(self.job(pk))


class JobCancelView(BaseView):
    @extend_schema(
        operation_id="jobs_cancel",
        tags=["jobs"],
        summary="Cancel a job",
        description="Operators, or the job's requester. A queued job ends `cancelled` at "
        "once; a running one stops after its current step and rolls back what it made.",
        request=None,
        responses={200: JobDetailSerializer, 403: DETAIL_403, 404: DETAIL_404, 409: DETAIL_409},
    )
    def post(self, request, pk: int):
        job = job_services.job_cancel(user=request.user, job=self.job(pk))
        return self.present(job)


class JobEventsView(BaseView):
    @extend_schema(
        operation_id="jobs_events",
        tags=["jobs"],
        summary="A job's events after a sequence number",
        description="In `seq` order. Ask again with `after` set to the last `seq` received "
        "(while `more` is true, at once) to follow a job without missing or repeating "
        "an event.",
        parameters=[JobEventsQuerySerializer],
        responses={200: JobEventsSerializer, 400: ERRORS_400, 404: DETAIL_404},
    )
    def get(self, request, pk: int):
        job = self.job(pk)
        query = self.parse(JobEventsQuerySerializer, request.query_params)
        events = selectors.job_events(job=job, after=query["after"], limit=query["limit"] + 1)
        more = len(events) > query["limit"]
        events = events[: query["limit"]]
        return Response(
            {
                "job": job.pk,
                "status": job.status,
                "after": query["after"],
                "last_seq": job.event_seq,
                "more": more,
                "events": [event_services.event_to_dict(e) for e in events],
            }
        )


class JobStepsView(BaseView):
    @extend_schema(
        operation_id="jobs_steps",
        tags=["jobs"],
        summary="A job's steps, in order",
        responses={200: JobStepSerializer(many=True), 404: DETAIL_404},
    )
    def get(self, request, pk: int):
        steps = selectors.job_steps(job=self.job(pk))
        return Response(JobStepSerializer(steps, many=True).data)


class JobChecksView(BaseView):
    @extend_schema(
        operation_id="jobs_checks",
        tags=["jobs"],
        summary="A job's verification checks (its report), in order",
        responses={200: VerificationCheckSerializer(many=True), 404: DETAIL_404},
    )
    def get(self, request, pk: int):
        checks = selectors.job_checks(job=self.job(pk))
        return Response(VerificationCheckSerializer(checks, many=True).data)


class NotificationListView(BaseView, ApiListView):
    @extend_schema(
        operation_id="notifications_list",
        tags=["notifications"],
        summary="My notifications, newest first",
        parameters=[NotificationListQuerySerializer],
        responses={200: NotificationSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        query = self.parse(NotificationListQuerySerializer, request.query_params)
        notes = selectors.notification_list(user=request.user, unread_only=query["unread"])
        return self.paginated(notes, NotificationSerializer)


class NotificationReadView(BaseView):
    @extend_schema(
        operation_id="notifications_read",
        tags=["notifications"],
        summary="Mark my notifications read",
        request=NotificationReadSerializer,
        responses={200: NotificationReadResultSerializer, 400: ERRORS_400},
    )
    def post(self, request):
        data = self.parse(NotificationReadSerializer, request.data)
        marked = notification_services.notification_mark_read(
            user=request.user, ids=data.get("ids")
        )
        return Response(
            {"marked": marked, "unread": selectors.notification_unread_count(user=request.user)}
        )
