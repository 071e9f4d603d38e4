"""The health watch a verified job ends with: rounds of probes, revert after repeated
failures (not after one blip), confirm early, extend, cancel. The real runner skeleton
and job records; the probes are scripted (the guest side has its own tests)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from operations_app.guest.results import CheckResult
from operations_app.models import JobStatus, Notification, OperationJob
from operations_app.runners import watch as watch_module
from operations_app.runners.base import Step
from operations_app.runners.watch import HealthWatch, watch_settings
from operations_app.services import watch as watch_services

from .job_support import ScriptedRunner, clone_job

pytestmark = pytest.mark.django_db(transaction=True)


def ok(name="guest agent answers"):
    return CheckResult("health", "/health_watch", name, "guest", "answers", "answers", True)


def bad(name="web port", pointer="/health_watch/checks/0"):
    return CheckResult(
        "health", pointer, name, "guest", "tcp 127.0.0.1:80 accepts", "refused (exit 1)", False
    )


class WatchedRunner(ScriptedRunner):
    """Scripted steps, then the real health watch over scripted probe rounds."""

    def __init__(self, job, *, rounds, watch):
        super().__init__(job)
        self.rounds = list(rounds)
        self.watch = watch
        self.rolled_back = False

    def steps(self):
        return [*super().steps(), Step("watch", "Watch the VM's health", self._watch, 2)]

    def _watch(self):
        w = HealthWatch(self, conn=lambda: None, document={"health_watch": self.watch})
        w._probe = lambda: self.rounds.pop(0) if len(self.rounds) > 1 else self.rounds[0]
        return w.run()

    def rollback(self):
        self.rolled_back = True
        return super().rollback()


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(watch_module, "POLL_S", 0.05)


def run_in_thread(runner):
    def work():
        try:
            runner.run()
        finally:
            connection.close()

    t = threading.Thread(target=work)
    t.start()
    return t


def wait_status(job, status, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if OperationJob.objects.get(pk=job.pk).status == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"job never became {status}")


def health_events(job):
    return [e.payload for e in job.events.filter(kind="health").order_by("seq")]


def test_settings_come_from_the_profile_or_the_installation(settings):
    settings.VMPERSONA_HEALTH_WATCH_DEFAULT_S = 180
    assert watch_settings({}).period_s == 180
    assert watch_settings({"health_watch": {"period_s": 0}}).period_s == 0
    s = watch_settings({"health_watch": {"period_s": 60, "interval_s": 5, "failures_to_revert": 3}})
    assert (s.period_s, s.interval_s, s.failures_to_revert) == (60, 5, 3)


def test_a_healthy_vm_is_watched_for_the_period_then_the_job_succeeds(users):
    job = clone_job(users)
    runner = WatchedRunner(job, rounds=[[ok()]], watch={"period_s": 2, "interval_s": 1})
    started = time.monotonic()
    runner.run()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert time.monotonic() - started >= 2
    statuses = [e.payload["status"] for e in job.events.filter(kind="status").order_by("seq")]
    assert "watching" in statuses and statuses[-1] == "succeeded"
    rounds = health_events(job)
    assert len(rounds) >= 2 and all(r["passed"] for r in rounds)
    assert job.result["watch"]["outcome"] == "passed"
    assert job.watch_until is not None


def test_one_failed_round_is_a_blip_not_a_revert(users):
    job = clone_job(users)
    runner = WatchedRunner(
        job,
        rounds=[[ok()], [ok(), bad()], [ok()]],
        watch={"period_s": 3, "interval_s": 1, "failures_to_revert": 2},
    )
    runner.run()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert [r["passed"] for r in health_events(job)][:3] == [True, False, True]
    assert not runner.rolled_back


def test_repeated_failures_revert_the_job_and_tell_the_administrators(users):
    job = clone_job(users)
    runner = WatchedRunner(
        job,
        rounds=[[ok()], [ok(), bad()]],
        watch={"period_s": 60, "interval_s": 1, "failures_to_revert": 2},
    )
    started = time.monotonic()
    runner.run()
    job.refresh_from_db()
    assert time.monotonic() - started < 30  # reverted long before the period ends
    assert job.status == JobStatus.ROLLED_BACK
    assert runner.rolled_back
    assert "Health watch: web port failed 2 round(s) in a row" in job.error
    assert job.failing_check == "/health_watch/checks/0"
    note = Notification.objects.filter(recipient=users["admin"], job=job).first()
    assert note is not None and "web port" in note.message
    assert job.result["watch"]["outcome"] == "failed"


def test_confirm_ends_the_watch_early(users):
    job = clone_job(users)
    runner = WatchedRunner(job, rounds=[[ok()]], watch={"period_s": 600, "interval_s": 1})
    thread = run_in_thread(runner)
    wait_status(job, JobStatus.WATCHING)
    watch_services.job_watch_confirm(user=users["operator"], job=job)
    thread.join(timeout=30)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["watch"]["outcome"] == "confirmed"
    assert job.events.filter(kind="watch", payload__action="confirm").exists()


def test_extend_moves_the_end_and_cancel_reverts(users):
    job = clone_job(users)
    runner = WatchedRunner(job, rounds=[[ok()]], watch={"period_s": 600, "interval_s": 1})
    thread = run_in_thread(runner)
    wait_status(job, JobStatus.WATCHING)
    before = OperationJob.objects.get(pk=job.pk).watch_until
    job.refresh_from_db()
    watch_services.job_watch_extend(user=users["operator"], job=job, minutes=30)
    job.refresh_from_db()
    assert (job.watch_until - before).total_seconds() == pytest.approx(1800, abs=2)
    from operations_app.services import jobs as job_services

    job_services.job_cancel(user=users["operator"], job=job)
    thread.join(timeout=30)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert runner.rolled_back


def test_only_a_watching_job_can_be_confirmed(users):
    job = clone_job(users)
    from vmpersona.errors import StateConflict

    with pytest.raises(StateConflict, match="not watching"):
        watch_services.job_watch_confirm(user=users["operator"], job=job)
    after = OperationJob.objects.get(pk=job.pk)
    assert after.watch_until is None and after.status == job.status
