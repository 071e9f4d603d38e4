"""Job rules as users meet them: who may clone what, one active job per VM, guarded
transitions, ordered events, cancel, and the reaper for jobs whose worker died."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from operations_app.models import JobResource, JobStatus, Notification, OperationJob, ResourceKind
from operations_app.runners.base import Runner, Step, StepFailed
from operations_app.selectors import jobs as job_selectors
from operations_app.services import clones as clone_services
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from operations_app.services import platforms as platform_services
from operations_app.services import queue as queue_services
from operations_app.services import reaper as reaper_services
from profiles_app.services import versions as version_services
from vmpersona.errors import NotPermitted, StateConflict

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform():
    return platform_services.platform_create(name="lab", uri="test:///default")


def _approved(users, make_document, name="web", flag="Testing"):
    v = version_services.policy_create(
        user=users["author"], document=make_document(name, execution_flags=[flag])
    )
    version_services.version_submit(user=users["author"], version=v)
    return version_services.version_approve(user=users["approver"], version=v)


def test_only_approved_versions_can_be_cloned(users, make_document, platform):
    draft = version_services.policy_create(user=users["author"], document=make_document("web"))
    with pytest.raises(StateConflict, match="only approved"):
        clone_services.job_request_clone(
            user=users["operator"], version=draft, platform=platform, vm_name="web-1"
        )
    assert not OperationJob.objects.exists()


def test_production_profiles_need_an_operator(users, make_document, platform):
    prod = _approved(users, make_document, "prod", flag="Production")
    with pytest.raises(NotPermitted, match="Production"):
        clone_services.job_request_clone(
            user=users["author"], version=prod, platform=platform, vm_name="prod-1"
        )
    test = _approved(users, make_document, "qa", flag="Testing")
    job = clone_services.job_request_clone(
        user=users["author"], version=test, platform=platform, vm_name="qa-1"
    )
    assert job.status == JobStatus.QUEUED
    with pytest.raises(NotPermitted):
        clone_services.job_request_clone(
            user=users["viewer"], version=test, platform=platform, vm_name="qa-2"
        )
    job = clone_services.job_request_clone(
        user=users["operator"], version=prod, platform=platform, vm_name="prod-1"
    )
    assert job.content_hash == prod.content_hash and job.profile_version == prod


def test_vm_names_are_validated(users, make_document, platform):
    v = _approved(users, make_document)
    with pytest.raises(ValidationError) as info:
        clone_services.job_request_clone(
            user=users["operator"], version=v, platform=platform, vm_name="Bad Name!"
        )
    assert info.value.error_list[0].params["path"] == "vm_name"


def test_one_active_job_per_vm(users, make_document, platform):
    v = _approved(users, make_document)
    first = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="web-1"
    )
    with pytest.raises(StateConflict, match="already has an active job"):
        clone_services.job_request_clone(
            user=users["operator"], version=v, platform=platform, vm_name="web-1"
        )
    job_services.job_cancel(user=users["operator"], job=first)
    second = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="web-1"
    )
    assert second.pk != first.pk


def test_transitions_are_guarded(users, make_document, platform):
    v = _approved(users, make_document)
    job = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="web-1"
    )
    with pytest.raises(StateConflict):
        job_services.job_transition(job=job, to=JobStatus.SUCCEEDED, allowed=[JobStatus.RUNNING])
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    job_services.job_transition(job=job, to=JobStatus.RUNNING, allowed=[JobStatus.QUEUED])
    assert job.started_at is not None
    history = [h.status for h in job.history.order_by("history_date")]
    assert history[-1] == JobStatus.RUNNING


def test_events_are_numbered_in_order(users, make_document, platform):
    v = _approved(users, make_document)
    job = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="web-1"
    )
    for n in range(5):
        event_services.job_log(job=job, message=f"line {n}")
    seqs = list(job.events.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    after = job_selectors.job_events(job=job, after=3)
    assert [e.seq for e in after] == seqs[3:]


def test_cancel_of_a_queued_job_ends_it_and_viewers_cannot_cancel(users, make_document, platform):
    v = _approved(users, make_document)
    job = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="web-1"
    )
    with pytest.raises(NotPermitted):
        job_services.job_cancel(user=users["viewer"], job=job)
    job = job_services.job_cancel(user=users["operator"], job=job)
    assert job.status == JobStatus.CANCELLED and job.finished_at
    with pytest.raises(StateConflict):
        job_services.job_cancel(user=users["operator"], job=job)


class _Recorder(Runner):
    """A runner whose steps record what ran; used to test the skeleton itself."""

    fail_at: str | None = None
    error_at: str | None = None

    def steps(self):
        def make(name):
            def run():
                if name == self.fail_at:
                    raise StepFailed(f"{name} broke", check="/x")
                if name == self.error_at:
                    raise RuntimeError("boom")
                return f"{name} done"

            return run

        return [Step(n, n.title(), make(n)) for n in ("one", "two", "three")]

    def rollback(self):
        self.rolled_back = True
        return []


def test_runner_success_and_domain_failure_and_error(users, make_document, platform):
    v = _approved(users, make_document)
    job = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="r-1"
    )
    runner = _Recorder(job)
    runner.run()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.progress == 100
    assert [s.status for s in job.steps.order_by("index")] == ["succeeded"] * 3

    job2 = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="r-2"
    )
    runner = _Recorder(job2)
    runner.fail_at = "two"
    runner.run()
    job2.refresh_from_db()
    assert job2.status == JobStatus.ROLLED_BACK and runner.rolled_back
    assert job2.error == "two broke" and job2.failing_check == "/x"
    assert [s.name for s in job2.steps.order_by("index")] == ["one", "two"]
    assert Notification.objects.filter(
        job=job2, recipient=users["admin"], severity="error"
    ).exists()

    job3 = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="r-3"
    )
    runner = _Recorder(job3)
    runner.error_at = "one"
    runner.run()
    job3.refresh_from_db()
    assert job3.status == JobStatus.ERRORED and "RuntimeError" in job3.traceback


def test_runner_stops_at_cancel_between_steps(users, make_document, platform):
    v = _approved(users, make_document)
    job = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="r-4"
    )
    runner = _Recorder(job)
    original = runner.steps

    def steps():
        items = original()
        first = items[0].func

        def cancel_after_first():
            out = first()
            OperationJob.objects.filter(pk=job.pk).update(cancel_requested=True)
            return out

        items[0].func = cancel_after_first
        return items

    runner.steps = steps
    runner.run()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.steps.count() == 1


def test_reaper_ends_jobs_whose_worker_died_and_removes_their_resources(
    users, make_document, platform
):
    from operations_app import hypervisor as hv

    v = _approved(users, make_document)
    job = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="reap-1"
    )
    job_services.job_transition(
        job=job, to=JobStatus.RUNNING, allowed=[JobStatus.QUEUED], worker="elsewhere:1"
    )
    # The dead worker had made a domain on the platform.
    with hv.Hypervisor.connect(platform.uri) as conn:
        conn.domains.define(hv.DomainSpec(name="reap-1", memory_mib=64))
    JobResource.objects.create(
        job=job, platform=platform, kind=ResourceKind.DOMAIN, identifier="reap-1"
    )
    OperationJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1)
    )
    assert reaper_services.jobs_reap(stale_after_s=60) == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.ROLLED_BACK and "stopped responding" in job.error
    with hv.Hypervisor.connect(platform.uri) as conn:
        assert not conn.domains.exists("reap-1")
    # A job with a fresh heartbeat is left alone.
    job2 = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="reap-2"
    )
    job_services.job_transition(
        job=job2, to=JobStatus.RUNNING, allowed=[JobStatus.QUEUED], worker="elsewhere:2"
    )
    job_services.job_heartbeat(job=job2)
    assert reaper_services.jobs_reap(stale_after_s=60) == []


# --- queued jobs whose task was lost ------------------------------------------------------


def _queued_tasks() -> list:
    from django_q.models import OrmQ

    return [task.task["args"] for task in OrmQ.objects.all()]


def _requested(users, make_document, platform, django_capture_on_commit_callbacks, name):
    v = _approved(users, make_document, name=name)
    with django_capture_on_commit_callbacks(execute=True):
        return clone_services.job_request_clone(
            user=users["operator"], version=v, platform=platform, vm_name=name
        )


def test_a_queued_job_whose_task_was_lost_is_handed_to_the_queue_again(
    users, make_document, platform, django_capture_on_commit_callbacks
):
    from django_q.models import OrmQ

    job = _requested(users, make_document, platform, django_capture_on_commit_callbacks, "lost")
    job.refresh_from_db()
    assert job.enqueued_at is not None and _queued_tasks() == [(job.pk,)]

    # Not picked up yet, but its task is still waiting: nothing to do.
    assert queue_services.jobs_requeue(after_s=60) == []
    OperationJob.objects.filter(pk=job.pk).update(
        enqueued_at=timezone.now() - timezone.timedelta(minutes=10)
    )
    assert queue_services.jobs_requeue(after_s=60) == []  # the queue still holds a task

    # The queue's store lost it (Redis restarted): the reaper's pass hands it over again.
    OrmQ.objects.all().delete()
    assert reaper_services.jobs_reap(stale_after_s=60) == []
    assert _queued_tasks() == [(job.pk,)]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.enqueued_at > timezone.now() - timezone.timedelta(minutes=1)
    assert "handed to the queue again" in job.events.filter(kind="log").last().payload["message"]
    # Handed over recently: not again on the next pass.
    OrmQ.objects.all().delete()
    assert queue_services.jobs_requeue(after_s=60) == []


def test_a_job_requested_while_the_queue_is_unreachable_stays_queued_and_says_so(
    users, make_document, platform, django_capture_on_commit_callbacks, monkeypatch
):
    import django_q.tasks

    def unreachable(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")

    monkeypatch.setattr(django_q.tasks, "async_task", unreachable)
    job = _requested(users, make_document, platform, django_capture_on_commit_callbacks, "noq")
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.enqueued_at is None
    warning = job.events.filter(kind="log").last().payload
    assert warning["level"] == "warning" and "could not be reached" in warning["message"]
    assert _queued_tasks() == []

    # While it stays unreachable the reaper leaves the job queued.
    OperationJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timezone.timedelta(minutes=10)
    )
    assert queue_services.jobs_requeue(after_s=60) == []
    assert job.events.filter(kind="log").count() == 1  # said once, not at every pass
    monkeypatch.undo()
    assert queue_services.jobs_requeue(after_s=60) == [job.pk]
    assert _queued_tasks() == [(job.pk,)]


def test_a_job_handed_to_the_queue_twice_runs_once(users, make_document, platform):
    v = _approved(users, make_document)
    job = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="x2"
    )
    job_services.job_transition(
        job=job, to=JobStatus.RUNNING, allowed=[JobStatus.QUEUED], worker="w:1"
    )
    events = job.events.count()

    class Boom(Runner):
        def steps(self):
            raise AssertionError("a job that is no longer queued must not run")

    Boom(OperationJob.objects.get(pk=job.pk)).run()
    assert OperationJob.objects.get(pk=job.pk).status == JobStatus.RUNNING
    assert job.events.count() == events


# --- a cancel that lands inside a step ------------------------------------------------------


class _StoppedInside(Runner):
    """A runner whose second step notices the cancel itself, as a disk copy (libvirt
    aborts it) or the guest work (it stops between two items) does."""

    raises: type[BaseException]
    rolled_back = False

    def steps(self):
        def copy():
            job_services.job_cancel(user=self.canceller, job=self.job)
            self.log("copying volume web-root")
            raise self.raises("stopped on request")

        return [Step("prepare", "Prepare", lambda: "ready"), Step("copy", "Copy the disks", copy)]

    def rollback(self):
        self.rolled_back = True
        event_services.job_log(job=self.job, message="removed domain web-1")
        return []


@pytest.mark.parametrize("where", ["hypervisor", "guest"])
def test_a_cancel_noticed_inside_a_step_ends_cancelled_not_rolled_back(
    users, make_document, platform, where
):
    from operations_app.guest.errors import GuestCancelled
    from operations_app.hypervisor.errors import OperationAborted

    v = _approved(users, make_document)
    job = clone_services.job_request_clone(
        user=users["author"], version=v, platform=platform, vm_name=f"c-{where}"
    )
    runner = _StoppedInside(job)
    runner.raises = OperationAborted if where == "hypervisor" else GuestCancelled
    runner.canceller = users["operator"]
    runner.run()
    job.refresh_from_db()

    assert job.status == JobStatus.CANCELLED and runner.rolled_back
    assert job.error == "Cancelled by operator." and job.failing_check == ""
    # The step it stopped in was cancelled, not failed; the rollback is in the events.
    steps = {s.name: s for s in job.steps.all()}
    assert steps["prepare"].status == "succeeded" and steps["copy"].status == "cancelled"
    assert "copying volume web-root" in steps["copy"].output
    assert not job.steps.filter(status="failed").exists()
    statuses = [e.payload["status"] for e in job.events.filter(kind="status").order_by("seq")]
    assert statuses[-2:] == ["rolling_back", "cancelled"]
    assert job.events.filter(kind="log", payload__message="removed domain web-1").exists()
    # What the toast says is what the page says: cancelled, not failed or rolled back.
    note = Notification.objects.get(job=job, recipient=users["author"])
    assert note.severity == "warning"
    assert note.message == (
        f"Clone of c-{where} on lab was cancelled and rolled back: Cancelled by operator."
    )


def test_the_guest_work_stopped_by_a_cancel_is_no_step_failure(users, make_document, platform):
    from operations_app.guest.errors import GuestCancelled
    from operations_app.runners.base import Cancelled
    from operations_app.runners.clone import CloneRunner

    v = _approved(users, make_document)
    job = clone_services.job_request_clone(
        user=users["operator"], version=v, platform=platform, vm_name="g-1"
    )

    def install():
        raise GuestCancelled("cancelled", pointer="/application_manifest/0")

    with pytest.raises(Cancelled):
        CloneRunner(job).guest_call(install)


def test_the_reaper_ends_a_cancelled_job_whose_worker_died_as_cancelled(
    users, make_document, platform
):
    v = _approved(users, make_document)
    job = clone_services.job_request_clone(
        user=users["author"], version=v, platform=platform, vm_name="reap-c"
    )
    job_services.job_transition(
        job=job, to=JobStatus.RUNNING, allowed=[JobStatus.QUEUED], worker="elsewhere:1"
    )
    job_services.job_cancel(user=users["operator"], job=job)
    OperationJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1)
    )
    assert reaper_services.jobs_reap(stale_after_s=60) == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.error.startswith("Cancelled by operator.") and "stopped responding" in job.error
    note = Notification.objects.get(job=job, recipient=users["author"])
    assert note.severity == "warning" and "was cancelled and rolled back" in note.message


# --- who the history names --------------------------------------------------------------------


def test_a_workers_changes_name_the_jobs_requester_in_the_history(users, make_document, platform):
    from operations_app.models import ManagedVM
    from vmpersona.history import attribute_change

    v = _approved(users, make_document)
    job = clone_services.job_request_clone(
        user=users["author"], version=v, platform=platform, vm_name="h-1"
    )

    class Saving(Runner):
        def steps(self):
            def record():
                # A row the worker saves for the job, with no person named.
                vm = ManagedVM(platform=platform, name="h-1", domain_uuid=uuid.uuid4())
                attribute_change(vm, reason="found on platform")
                vm.save()
                return "recorded"

            return [Step("record", "Record the VM", record)]

    Saving(OperationJob.objects.get(pk=job.pk)).run()
    rows = OperationJob.history.filter(id=job.pk).order_by("history_id")
    assert [r.status for r in rows] == ["queued", "running", "succeeded"]
    assert {r.history_user for r in rows} == {users["author"]}
    assert ManagedVM.history.get(name="h-1").history_user == users["author"]

    # The reaper acts for the requester too.
    job2 = clone_services.job_request_clone(
        user=users["author"], version=v, platform=platform, vm_name="h-2"
    )
    job_services.job_transition(
        job=job2, to=JobStatus.RUNNING, allowed=[JobStatus.QUEUED], worker="elsewhere:9"
    )
    OperationJob.objects.filter(pk=job2.pk).update(
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1)
    )
    reaper_services.jobs_reap(stale_after_s=60)
    rows = OperationJob.history.filter(id=job2.pk).order_by("history_id")
    assert [r.status for r in rows][-2:] == ["rolling_back", "rolled_back"]
    assert {r.history_user for r in rows} == {users["author"]}
    # A person's own change still names them.
    job3 = clone_services.job_request_clone(
        user=users["author"], version=v, platform=platform, vm_name="h-3"
    )
    job_services.job_cancel(user=users["operator"], job=job3)
    assert (
        OperationJob.history.filter(id=job3.pk).latest("history_id").history_user
        == (users["operator"])
    )
