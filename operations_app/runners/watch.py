"""The health watch a verified job ends with, before it is final.

For its profile's ``health_watch.period_s`` (or the installation's default) the job stays
``watching``: every ``interval_s`` the VM is probed from inside the guest (the agent
answers, each application's verify command, the TCP/HTTP checks the profile declares).
``failures_to_revert`` failed rounds in a row raise ``StepFailed``, which reverts the
job like any failure (a migration moves the VM back to its source, kept stopped until
now; a clone is removed; a snapshot rollback returns to the state it kept); a single
blip does not. The watch ends passed at ``watch_until``, which people may move: confirm
(now) or extend (``services.watch``). Cancelling a watching job reverts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from operations_app import hypervisor as hv
from operations_app.models import JobStatus, OperationJob
from operations_app.runners.base import Runner, StepFailed
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from operations_app.services.watch import watch_latest_end
from vmpersona.units import duration_text

DEFAULT_INTERVAL_S = 10
DEFAULT_FAILURES = 2
POLL_S = 1.0  # how often a waiting watch looks for confirm, extend and cancel


@dataclass(frozen=True)
class WatchSettings:
    period_s: int
    interval_s: int
    failures_to_revert: int


def watch_settings(document: dict[str, Any] | None) -> WatchSettings:
    """The profile's watch, with the installation's default period where it sets none."""
    section = (document or {}).get("health_watch") or {}
    period = section.get("period_s")
    if period is None:
        period = settings.VMPERSONA_HEALTH_WATCH_DEFAULT_S
    return WatchSettings(
        period_s=max(0, int(period)),
        interval_s=max(1, int(section.get("interval_s", DEFAULT_INTERVAL_S))),
        failures_to_revert=max(1, int(section.get("failures_to_revert", DEFAULT_FAILURES))),
    )


class HealthWatch:
    """Watches ``vm_name`` on ``conn`` for ``runner``'s job; ``run()`` is the step."""

    def __init__(
        self,
        runner: Runner,
        *,
        conn: Callable[[], hv.Hypervisor],
        document: dict[str, Any],
    ) -> None:
        self.runner = runner
        self.job: OperationJob = runner.job
        self.conn = conn
        self.document = document
        self.settings = watch_settings(document)

    def _probe(self) -> list[Any]:
        from operations_app.guest import GuestProvisioner

        guest = GuestProvisioner(
            self.conn(),
            self.job.vm_name,
            heartbeat=lambda: job_services.job_heartbeat(job=self.job),
            cancelled=lambda: job_services.job_cancel_requested(job=self.job),
        )
        try:
            return guest.health_round(self.document)
        except hv.HypervisorError as exc:  # the host itself did not answer
            from operations_app.guest.results import CheckResult

            return [
                CheckResult(
                    "health",
                    "/health_watch",
                    "the host answers",
                    "guest",
                    "answers",
                    str(exc),
                    False,
                )
            ]

    def _until(self):
        return (
            OperationJob.objects.filter(pk=self.job.pk)
            .values_list("watch_until", flat=True)
            .first()
        )

    def run(self) -> str:
        s = self.settings
        if s.period_s == 0:
            return "no health watch (the profile sets none)"
        started = timezone.now()
        self.job.refresh_from_db(fields=["started_at"])
        until = started + timedelta(seconds=s.period_s)
        latest = watch_latest_end(self.job)
        if until > latest:
            self.runner.log(
                f"the watch ends at {timezone.localtime(latest):%H:%M:%S}, before the task "
                "queue's time limit for a worker, not after the profile's full period",
                level="warning",
            )
            until = latest
        job_services.job_transition(
            job=self.job,
            to=JobStatus.WATCHING,
            allowed=[JobStatus.RUNNING, JobStatus.VERIFYING],
            reason=f"watching health for {duration_text(s.period_s, whole=True)}",
            watch_until=until,
        )
        self.runner.result_update(watch={"outcome": "watching", "period_s": s.period_s})
        self.runner.log(
            f"watching {self.job.vm_name} for {duration_text(s.period_s, whole=True)}: a round "
            f"every {duration_text(s.interval_s, whole=True)}, "
            f"reverted after {s.failures_to_revert} failed round(s) in a row"
        )
        rounds = failures = 0
        while True:
            self.runner.check_cancel()
            results = self._probe()
            rounds += 1
            failed = [r for r in results if not r.passed]
            failures = failures + 1 if failed else 0
            until = self._until() or until
            event_services.job_event(
                job=self.job,
                kind="health",
                round=rounds,
                passed=not failed,
                failed=[r.name for r in failed],
                consecutive_failures=failures,
                until=until.isoformat(),
                checks=[
                    {
                        "name": r.name,
                        "pointer": r.pointer,
                        "expected": r.expected,
                        "actual": r.actual,
                        "passed": r.passed,
                    }
                    for r in results
                ],
            )
            job_services.job_heartbeat(job=self.job)
            if failed:
                self.runner.log(
                    f"round {rounds}: "
                    + "; ".join(f"{r.name}: expected {r.expected}, got {r.actual}" for r in failed),
                    level="warning",
                )
            if failures >= s.failures_to_revert:
                first = failed[0]
                self.runner.result_update(
                    watch={
                        "rounds": rounds,
                        "outcome": "failed",
                        "failed": [r.name for r in failed],
                    }
                )
                raise StepFailed(
                    f"Health watch: {first.name} failed {failures} round(s) in a row "
                    f"(expected {first.expected}, got {first.actual}).",
                    check=first.pointer,
                )
            next_round = time.monotonic() + s.interval_s
            while True:
                until = self._until() or until
                if timezone.now() >= until and not failures:
                    return self._passed(rounds, started, until)
                if time.monotonic() >= next_round:
                    break
                self.runner.check_cancel()
                job_services.job_heartbeat(job=self.job)
                time.sleep(min(POLL_S, max(0.0, next_round - time.monotonic())))

    def _passed(self, rounds: int, started, until) -> str:
        watched = (timezone.now() - started).total_seconds()
        confirmed = self.job.events.filter(kind="watch", payload__action="confirm").exists()
        self.runner.result_update(
            watch={
                "rounds": rounds,
                "outcome": "confirmed" if confirmed else "passed",
                "watched_s": round(watched),
            }
        )
        if confirmed:
            return (
                f"confirmed after {duration_text(watched, whole=True)} of watching "
                f"({rounds} healthy round(s))"
            )
        return f"healthy for {duration_text(watched, whole=True)} ({rounds} round(s))"
