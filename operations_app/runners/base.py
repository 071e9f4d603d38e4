"""The runner skeleton every operation shares.

``Runner.run()`` moves the job to running, executes its steps in order (re-checking the
cancel flag between steps and beating the heartbeat), and ends it:

- every step passed: ``succeeded`` (what the job made is released to the VM); a job
  whose last steps watch the VM's health (``runners.watch``) is ``watching`` meanwhile;
- a step raised ``StepFailed`` (a domain failure, e.g. a failed verification): roll back,
  end ``rolled_back`` with the reason and the failing check (``failed`` for a kind with
  nothing to undo, whose ``failure_status`` says so);
- the job was cancelled (between steps, or inside one: a copy aborted, the guest work
  stopped between two items): roll back, end ``cancelled``; the step it stopped in is
  ``cancelled``, not failed, and the rollback is in its events as for any other end;
- anything else (a bug, an unexpected error): roll back, end ``errored`` with the
  traceback kept;
- the rollback itself could not remove something: end ``failed`` naming the leftovers
  (the reaper retries them).

Administrators are notified of every outcome but success (the requester hears of that).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from operations_app.guest.errors import GuestCancelled
from operations_app.hypervisor.errors import OperationAborted
from operations_app.models import JobStatus, JobStep, OperationJob, Severity, StepStatus
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from operations_app.services import notifications as notification_services
from operations_app.services.resources import resource_release, resources_remove
from vmpersona.errors import DomainError, StateConflict
from vmpersona.history import acting_for

logger = logging.getLogger(__name__)


class StepFailed(DomainError):
    """A step could not do its work; the message is for the user."""

    def __init__(self, message: str, *, check: str = "") -> None:
        super().__init__(message)
        self.check = check


class Cancelled(Exception):
    pass


# What a step raises when it noticed the cancel itself: a libvirt operation aborted on
# request, the guest work stopped between two items.
_CANCEL_ERRORS = (Cancelled, OperationAborted, GuestCancelled)


def is_cancel(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is the job being cancelled."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _CANCEL_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False


@dataclass
class Step:
    name: str
    title: str
    func: Callable[[], str | None]
    weight: int = 1
    verifying: bool = False


class Runner:
    """Subclasses define ``steps()`` and may extend ``rollback()`` and ``on_success()``."""

    # Whether ``rollback()`` undoes the job. A kind with nothing to undo (power) sets it
    # False: its rollback only records the state it left, a domain failure ends
    # ``failed`` rather than ``rolled_back``, and the words say nothing was rolled back.
    rolls_back: bool = True

    @property
    def failure_status(self) -> str:
        return JobStatus.ROLLED_BACK if self.rolls_back else JobStatus.FAILED

    def __init__(self, job: OperationJob) -> None:
        self.job = job
        self.log_lines: list[str] = []
        self._step: JobStep | None = None

    # -- for subclasses ------------------------------------------------------------

    def steps(self) -> list[Step]:
        raise NotImplementedError

    @property
    def vm_id(self) -> int:
        """The inventory VM the job works on (every kind but clone names one)."""
        if self.job.vm_id is None:
            raise StepFailed("The job names no VM in the inventory.")
        return self.job.vm_id

    def rollback(self) -> list[str]:
        """Undo what the job did; return descriptions of what could not be undone."""
        return resources_remove(job=self.job)

    def on_success(self) -> None:
        resource_release(job=self.job)

    def success_message(self) -> str:
        return f"{self.job.get_kind_display()} of {self.job.vm_name} on {self.job.platform.name} succeeded."

    def log(self, message: str, *, level: str = "info") -> None:
        step = self._step.name if self._step is not None else ""
        if self._step is not None:
            self.log_lines.append(message)
        event_services.job_log(job=self.job, message=message, level=level, step=step)

    def result_update(self, **values) -> None:
        """Merge ``values`` into the job's result (a step's record for later steps)."""
        job_services.job_result_update(job=self.job, **values)

    def check_cancel(self) -> None:
        if job_services.job_cancel_requested(job=self.job):
            raise Cancelled()

    # -- the skeleton ----------------------------------------------------------------

    def run(self) -> OperationJob:
        # Whatever the worker saves for the job is its requester's change in the history.
        with acting_for(self.job.requested_by):
            return self._run()

    def _run(self) -> OperationJob:
        job = self.job
        try:
            job_services.job_transition(
                job=job,
                to=JobStatus.RUNNING,
                allowed=[JobStatus.QUEUED],
                reason="worker started",
                worker=job_services.worker_identity(),
            )
        except StateConflict:
            logger.info("job %s is no longer queued; nothing to run", job.pk)
            return job
        steps = self.steps()
        total = sum(s.weight for s in steps) or 1
        done = 0
        try:
            for index, step in enumerate(steps):
                self.check_cancel()
                if step.verifying and job.status != JobStatus.VERIFYING:
                    job_services.job_transition(
                        job=job,
                        to=JobStatus.VERIFYING,
                        allowed=[JobStatus.RUNNING],
                        reason="verifying",
                    )
                job_services.job_progress(job=job, progress=int(100 * done / total), step=step.name)
                try:
                    self._run_step(index, step)
                except Exception as exc:
                    if is_cancel(exc) and not isinstance(exc, Cancelled):
                        raise Cancelled() from exc
                    raise
                done += step.weight
            job_services.job_progress(job=job, progress=100, step="")
            self.on_success()
            job_services.job_transition(
                job=job,
                to=JobStatus.SUCCEEDED,
                allowed=[JobStatus.RUNNING, JobStatus.VERIFYING, JobStatus.WATCHING],
                reason="all steps passed",
                result=job.result,
            )
            notification_services.notify_job_outcome(
                job=job, severity=Severity.SUCCESS, message=self.success_message()
            )
        except StepFailed as exc:
            self._end_with_rollback(self.failure_status, str(exc), check=exc.check)
        except DomainError as exc:
            # A refusal from the platform (no free slot, pool full, host gone): a domain
            # failure the user can act on, not a bug.
            self._end_with_rollback(self.failure_status, str(exc), check=self._step_name())
        except Cancelled:
            self._end_with_rollback(JobStatus.CANCELLED, self._cancel_reason())
        except Exception as exc:  # noqa: BLE001 - the job must end, whatever happened
            logger.exception("job %s errored", job.pk)
            if (
                connection.connection is not None
                and not connection.in_atomic_block
                and not connection.is_usable()
            ):
                connection.close()  # the error may have broken it; the next query reconnects
            self._end_with_rollback(
                JobStatus.ERRORED,
                f"Unexpected error: {exc.__class__.__name__}: {exc}",
                tb=traceback.format_exc(),
            )
        return job

    def _cancel_reason(self) -> str:
        by = job_services.job_cancelled_by(job=self.job)
        return f"Cancelled by {by}." if by else "Cancelled on request."

    def _step_name(self) -> str:
        last = self.job.steps.order_by("-index", "-pk").first()
        return f"step {last.name}" if last is not None else ""

    def _run_step(self, index: int, step: Step) -> None:
        record = job_services.step_start(
            job=self.job, index=index, name=step.name, title=step.title
        )
        self._step = record
        self.log_lines = []
        try:
            output = step.func() or ""
        except BaseException as exc:
            if is_cancel(exc):
                # Stopped on request: the step did not fail, the job was cancelled.
                text = "\n".join([*self.log_lines, "stopped: the job was cancelled"]).strip()
                job_services.step_finish(step=record, status=StepStatus.CANCELLED, output=text)
            else:
                text = "\n".join(self.log_lines + [str(exc)]).strip()
                job_services.step_finish(step=record, status=StepStatus.FAILED, output=text)
            self._step = None
            raise
        job_services.step_finish(
            step=record,
            status=StepStatus.SUCCEEDED,
            output="\n".join(self.log_lines + [output]).strip(),
        )
        self._step = None
        job_services.job_heartbeat(job=self.job)

    def _end_with_rollback(self, final: str, reason: str, *, check: str = "", tb: str = "") -> None:
        job = self.job
        job.refresh_from_db()
        fields = {"error": reason[:5000], "failing_check": check[:2000]}
        if tb:
            fields["traceback"] = tb[-20000:]
        job_services.job_transition(
            job=job,
            to=JobStatus.ROLLING_BACK,
            allowed=[JobStatus.RUNNING, JobStatus.VERIFYING, JobStatus.WATCHING],
            reason=reason[:200],
            **fields,
        )
        try:
            leftovers = self.rollback()
        except Exception as exc:  # noqa: BLE001
            logger.exception("rollback of job %s failed", job.pk)
            leftovers = [f"rollback raised {exc.__class__.__name__}: {exc}"]
        if leftovers:
            event_services.job_log(
                job=job, level="error", message="Rollback left: " + "; ".join(leftovers)
            )
            job_services.job_transition(
                job=job,
                to=JobStatus.FAILED,
                allowed=[JobStatus.ROLLING_BACK],
                reason="rollback incomplete",
                error=(reason + "\nRollback left: " + "; ".join(leftovers))[:5000],
            )
            severity = Severity.ERROR
            message = f"{job.get_kind_display()} of {job.vm_name} failed and its rollback was incomplete: {reason}"
        else:
            job_services.job_transition(
                job=job,
                to=final,
                allowed=[JobStatus.ROLLING_BACK],
                reason="rolled back" if self.rolls_back else "ended (nothing to roll back)",
            )
            severity = Severity.WARNING if final == JobStatus.CANCELLED else Severity.ERROR
            if self.rolls_back:
                what = {
                    str(JobStatus.CANCELLED): "was cancelled and rolled back",
                    str(JobStatus.ERRORED): "hit an unexpected error and was rolled back",
                }.get(final, "failed and was rolled back")
            else:
                what = {
                    str(JobStatus.CANCELLED): "was cancelled",
                    str(JobStatus.ERRORED): "hit an unexpected error",
                }.get(final, "failed")
            message = (
                f"{job.get_kind_display()} of {job.vm_name} on {job.platform.name} {what}: {reason}"
            )
            if check:
                message += f" (failing check: {check})"
        notification_services.notify_job_outcome(job=job, severity=severity, message=message)
