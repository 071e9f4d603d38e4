"""REST endpoints for jobs.

Thin: each view parses its input, calls one selector or service and presents the
result. Who may see a job is ``selectors.jobs.job_visible_to``; a job someone may not
see answers 404 like one that does not exist. Requests, cancels and a health watch's
confirm and extend go through the same services as the pages and the CLI, so a refused role answers 403, a job or VM in the
wrong state 409, and invalid input 400 with one ``{"path", "message"}`` per problem.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from operations_app.api.base import ERRORS_400, JOB_404, ROLES_403, STATE_409
from operations_app.api.migrations import migration_objects
from operations_app.api.serializers import jobs as s
from operations_app.api.serializers.migrations import MigrateJobSerializer
from operations_app.api.serializers.scheduling import (
    ScheduleDecisionSerializer,
    ScheduleUpdateSerializer,
    schedule_arguments,
)
from operations_app.api.serializers.snapshots import RollbackJobSerializer, SnapshotJobSerializer
from operations_app.models import JobKind, OperationJob
from operations_app.selectors import clone as clone_selectors
from operations_app.selectors import jobs as job_selectors
from operations_app.selectors import platforms as platform_selectors
from operations_app.selectors import snapshots as snapshot_selectors
from operations_app.selectors import vms as vm_selectors
from operations_app.services import clones as clone_services
from operations_app.services import decommissions as decommission_services
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from operations_app.services import migrations as migration_services
from operations_app.services import scheduling as scheduling_services
from operations_app.services import snapshots as snapshot_services
from operations_app.services import watch as watch_services
from vmpersona.api import ApiListView, ApiView, field_error


class JobView(ApiView):
    def job(self, pk: int) -> OperationJob:
        return job_selectors.job_get(user=self.request.user, pk=pk)

    def present(self, job: OperationJob, code=status.HTTP_200_OK) -> Response:
        job = job_selectors.job_get(user=self.request.user, pk=job.pk)
        data = s.JobDetailSerializer(job, context={"request": self.request}).data
        return Response(data, status=code)


class JobListView(JobView, ApiListView):
    @extend_schema(
        operation_id="jobs_list",
        tags=["jobs"],
        summary="List jobs",
        description="Newest first. Operators, approvers and viewers see every job; anyone "
        "else the jobs they requested.",
        parameters=[s.JobListQuerySerializer],
        responses={200: s.JobSerializer(many=True), 400: ERRORS_400},
    )
    def get(self, request):
        filters = self.parse(s.JobListQuerySerializer, request.query_params)
        return self.paginated(job_selectors.job_list(user=request.user, **filters), s.JobSerializer)

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
        "it through its `events` link or the websocket `ws/jobs/<id>/?after=<seq>`.\n\n"
        "**Scheduling** (clone, migrate, snapshot, decommission): with `window` (a "
        "maintenance window's name, or `auto` for the next one covering the VM) or `at` (an "
        "ISO 8601 time with its UTC offset) the job is recorded as `scheduled` and queued "
        "only inside that interval (`not_before` to `not_after`), outside any blackout, "
        "after the request's checks pass again; `on_miss` says what happens when it "
        "cannot start in time (`next` or `expire`). A scheduled job on a VM flagged "
        "Production (VMPERSONA_SCHEDULE_APPROVAL_FLAGS), or in a window that requires "
        "approval for its kind, waits for an approver other than its requester "
        "(`approval_required`). An unknown window, one that does not cover "
        "the VM or has no occurrence to come, a time in the past, without an offset or in a "
        "blackout answer 400 with the path `window` or `at`.",
        request=s.JOB_REQUEST,
        responses={
            201: s.JobDetailSerializer,
            400: ERRORS_400,
            403: ROLES_403,
            409: STATE_409,
        },
    )
    def post(self, request):
        kind = request.data.get("kind") if hasattr(request.data, "get") else None
        if kind == JobKind.CLONE:
            job = self._clone(self.parse(s.CloneJobSerializer, request.data))
        elif kind == JobKind.MIGRATE:
            job = self._migrate(self.parse(MigrateJobSerializer, request.data))
        elif kind == JobKind.SNAPSHOT:
            job = self._snapshot(self.parse(SnapshotJobSerializer, request.data))
        elif kind == JobKind.ROLLBACK:
            job = self._rollback(self.parse(RollbackJobSerializer, request.data))
        elif kind == JobKind.DECOMMISSION:
            job = self._decommission(self.parse(s.DecommissionJobSerializer, request.data))
        else:
            raise DjangoValidationError(
                [field_error("kind", "one of: clone, migrate, snapshot, rollback, decommission")]
            )
        response = self.present(job, status.HTTP_201_CREATED)
        response["Location"] = response.data["links"]["self"]
        return response

    def _clone(self, data: dict) -> OperationJob:
        version = clone_selectors.clone_source(profile=data["profile"], number=data.get("version"))
        name = (data.get("platform") or "auto").strip()
        platform = None if name == "auto" else platform_selectors.platform_named(name)
        return clone_services.job_request_clone(
            user=self.request.user,
            version=version,
            platform=platform,
            vm_name=data["vm_name"],
            **schedule_arguments(data),
        )

    def _migrate(self, data: dict) -> OperationJob:
        vm, target = migration_objects(data)
        return migration_services.job_request_migrate(
            user=self.request.user,
            vm=vm,
            target=target,
            mode=data["mode"],
            **schedule_arguments(data),
        )

    def _snapshot(self, data: dict) -> OperationJob:
        vm = vm_selectors.vm_named(data["vm"], platform=data["platform"])
        return snapshot_services.job_request_snapshot(
            user=self.request.user,
            vm=vm,
            description=data["description"],
            **schedule_arguments(data),
        )

    def _rollback(self, data: dict) -> OperationJob:
        vm = vm_selectors.vm_named(data["vm"], platform=data["platform"])
        snapshot = snapshot_selectors.snapshot_ref(vm, data["snapshot"])
        return snapshot_services.job_request_rollback(
            user=self.request.user, vm=vm, snapshot=snapshot
        )

    def _decommission(self, data: dict) -> OperationJob:
        vm = vm_selectors.vm_named(data["vm"])
        return decommission_services.job_request_decommission(
            user=self.request.user, vm=vm, **schedule_arguments(data)
        )


class JobDetailView(JobView):
    @extend_schema(
        operation_id="jobs_retrieve",
        tags=["jobs"],
        summary="A job",
        responses={200: s.JobDetailSerializer, 404: JOB_404},
    )
    def get(self, request, pk: int):
        return self.present(self.job(pk))


class JobCancelView(JobView):
    @extend_schema(
        operation_id="jobs_cancel",
        tags=["jobs"],
        summary="Cancel a job",
        description="Operators, or the job's requester. A scheduled or queued job ends "
        "`cancelled` at once; a running one stops after its current step and rolls back "
        "what it made.",
        request=None,
        responses={200: s.JobDetailSerializer, 403: ROLES_403, 404: JOB_404, 409: STATE_409},
    )
    def post(self, request, pk: int):
        job = job_services.job_cancel(user=request.user, job=self.job(pk))
        return self.present(job)


class JobScheduleView(JobView):
    @extend_schema(
        operation_id="jobs_schedule",
        tags=["jobs"],
        summary="Move a scheduled job, or change what happens if it misses its interval",
        description="Operators, or the job's requester, until the job starts: `window` (a "
        "name, or `auto`) or `at` (ISO 8601 with its UTC offset) gives it a new interval, "
        "checked as a request is (400 on `window` or `at`); `on_miss` changes alone too. A "
        "job that needed an approval and had it needs one again. A job that is no longer "
        "`scheduled` answers 409.",
        request=ScheduleUpdateSerializer,
        responses={
            200: s.JobDetailSerializer,
            400: ERRORS_400,
            403: ROLES_403,
            404: JOB_404,
            409: STATE_409,
        },
    )
    def post(self, request, pk: int):
        job = self.job(pk)
        data = self.parse(ScheduleUpdateSerializer, request.data)
        job = scheduling_services.job_schedule_update(
            user=request.user,
            job=job,
            window=data.get("window") or None,
            at=data.get("at") or None,
            on_miss=data.get("on_miss") or None,
        )
        return self.present(job)


class JobApproveView(JobView):
    @extend_schema(
        operation_id="jobs_approve",
        tags=["jobs"],
        summary="Approve a scheduled job that waits for an approver",
        description="Needs the approvers role, and someone other than the job's requester "
        "(superusers included). The job then starts in its interval. A job that needs no "
        "approval, was approved already or is no longer `scheduled` answers 409.",
        request=ScheduleDecisionSerializer,
        responses={
            200: s.JobDetailSerializer,
            400: ERRORS_400,
            403: ROLES_403,
            404: JOB_404,
            409: STATE_409,
        },
    )
    def post(self, request, pk: int):
        job = self.job(pk)
        data = self.parse(ScheduleDecisionSerializer, request.data)
        job = scheduling_services.job_schedule_approve(
            user=request.user, job=job, comment=data["comment"]
        )
        return self.present(job)


class JobRejectView(JobView):
    @extend_schema(
        operation_id="jobs_reject",
        tags=["jobs"],
        summary="Reject a scheduled job that waits for an approver",
        description="Needs the approvers role, and someone other than the job's requester "
        "(superusers included); `comment` says why (400 with the path `comment` when "
        "missing). The job ends `rejected` and its requester is told.",
        request=ScheduleDecisionSerializer,
        responses={
            200: s.JobDetailSerializer,
            400: ERRORS_400,
            403: ROLES_403,
            404: JOB_404,
            409: STATE_409,
        },
    )
    def post(self, request, pk: int):
        job = self.job(pk)
        data = self.parse(ScheduleDecisionSerializer, request.data)
        job = scheduling_services.job_schedule_reject(
            user=request.user, job=job, comment=data["comment"]
        )
        return self.present(job)


class JobWatchConfirmView(JobView):
    @extend_schema(
        operation_id="jobs_watch_confirm",
        tags=["jobs"],
        summary="End a job's health watch now, as passed",
        description="Operators, or the job's requester, while the job is `watching`: the "
        "job succeeds after the probe round in progress (a migration then removes the "
        "source). A job that is not watching answers 409.",
        request=None,
        responses={200: s.JobDetailSerializer, 403: ROLES_403, 404: JOB_404, 409: STATE_409},
    )
    def post(self, request, pk: int):
        job = watch_services.job_watch_confirm(user=request.user, job=self.job(pk))
        return self.present(job)


class JobWatchExtendView(JobView):
    @extend_schema(
        operation_id="jobs_watch_extend",
        tags=["jobs"],
        summary="Watch a job's VM longer",
        description="Operators, or the job's requester, while the job is `watching`: moves "
        "`watch_until` `minutes` later (from its current end, or from now if that has "
        "passed). Minutes out of range, or a watch that would outlast the worker's time "
        "limit for the job, answer 400 with the path `minutes`; a job that is not watching "
        "answers 409.",
        request=s.WatchExtendSerializer,
        responses={
            200: s.JobDetailSerializer,
            400: ERRORS_400,
            403: ROLES_403,
            404: JOB_404,
            409: STATE_409,
        },
    )
    def post(self, request, pk: int):
        job = self.job(pk)
        data = self.parse(s.WatchExtendSerializer, request.data)
        job = watch_services.job_watch_extend(user=request.user, job=job, minutes=data["minutes"])
        return self.present(job)


class JobEventsView(JobView):
    @extend_schema(
        operation_id="jobs_events",
        tags=["jobs"],
        summary="A job's events after a sequence number",
        description="In `seq` order. Ask again with `after` set to the last `seq` received "
        "(while `more` is true, at once) to follow a job without missing or repeating "
        "an event.",
        parameters=[s.JobEventsQuerySerializer],
        responses={200: s.JobEventsSerializer, 400: ERRORS_400, 404: JOB_404},
    )
    def get(self, request, pk: int):
        job = self.job(pk)
        query = self.parse(s.JobEventsQuerySerializer, request.query_params)
        events = job_selectors.job_events(job=job, after=query["after"], limit=query["limit"] + 1)
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


class JobStepsView(JobView):
    @extend_schema(
        operation_id="jobs_steps",
        tags=["jobs"],
        summary="A job's steps, in order",
        responses={200: s.JobStepSerializer(many=True), 404: JOB_404},
    )
    def get(self, request, pk: int):
        steps = job_selectors.job_steps(job=self.job(pk))
        return Response(s.JobStepSerializer(steps, many=True).data)


class JobChecksView(JobView):
    @extend_schema(
        operation_id="jobs_checks",
        tags=["jobs"],
        summary="A job's verification checks (its report), in order",
        responses={200: s.VerificationCheckSerializer(many=True), 404: JOB_404},
    )
    def get(self, request, pk: int):
        checks = job_selectors.job_checks(job=self.job(pk))
        return Response(s.VerificationCheckSerializer(checks, many=True).data)
