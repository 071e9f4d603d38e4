"""Helpers for the job tests: an approved profile version, a platform on libvirt's test
driver, inventory and snapshot rows, the ``persona`` command and the API's error answers,
and a runner that goes through the real runner skeleton (transitions, steps, events,
checks, rollback and notifications) with scripted steps instead of libvirt."""

from __future__ import annotations

import io
import threading
import time
import uuid
from contextlib import contextmanager

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from operations_app.models import (
    ManagedVM,
    OperationJob,
    VerificationCheck,
    VMSnapshot,
    VMState,
)
from operations_app.runners.base import Runner, Step, StepFailed
from operations_app.services import clones as clone_services
from operations_app.services import events as event_services
from operations_app.services import platforms as platform_services
from profiles_app.services import versions as version_services

TEST_URI = "test:///default"
JOBS = "/api/v1/jobs/"

# The one difference of the scripted migration plans: lab-b takes q35 machines only.
MACHINE_TYPE_DIFFERENCE = {
    "kind": "machine_type",
    "subject": "domain",
    "source": "pc-i440fx-7.2",
    "target": "pc-q35-7.2",
    "detail": "lab-b offers q35 machines only.",
    "blocking": True,
    "reason": "",
}
ADMIN_VMS = "/admin/operations_app/managedvm/"

CHECKS = [
    # section, pointer, name, source, expected, actual
    ("resources", "/resource_allocation/vcpus", "vCPUs", "libvirt", "2", "2"),
    ("resources", "/resource_allocation/memory_mib", "Memory (MiB)", "libvirt", "2048", "2048"),
    (
        "network",
        "/network_configuration/interfaces/0",
        "eth0 on network default",
        "libvirt",
        "default",
        "default",
    ),
    ("security", "/security_profile/users/0", "user deploy exists", "guest", "present", "present"),
    (
        "applications",
        "/application_manifest/0",
        "nginx 1.22 running",
        "guest",
        "running",
        "running",
    ),
]


def vppd(name: str, flags=("Testing",)) -> dict:
    return {
        "schema_version": "1.0",
        "name": name,
        "description": f"The {name} profile.",
        "base_image_id": "tiny-linux",
        "resource_allocation": {"vcpus": 1, "memory_mib": 128, "storage_gib": 1},
        "execution_flags": list(flags),
    }


def approved_version(users, name: str = "web", flags=("Testing",)):
    version = version_services.policy_create(user=users["author"], document=vppd(name, flags))
    version = version_services.version_submit(user=users["author"], version=version)
    return version_services.version_approve(user=users["approver"], version=version)


def make_platform(name: str = "lab"):
    return platform_services.platform_create(name=name, uri=TEST_URI)


def managed_vm(version, platform, name: str, **fields) -> ManagedVM:
    """A running VM VM Persona made from ``version``; ``fields`` add to the row."""
    row = {
        "domain_uuid": uuid.uuid4(),
        "state": VMState.RUNNING,
        "managed": True,
        "profile_version": version,
        "content_hash": version.content_hash,
        **fields,
    }
    return ManagedVM.objects.create(platform=platform, name=name, **row)


def unmanaged_vm(platform, name: str, **fields) -> ManagedVM:
    """A VM found on ``platform`` that VM Persona did not make."""
    return ManagedVM.objects.create(
        platform=platform, name=name, domain_uuid=uuid.uuid4(), **fields
    )


def snapshot(vm, name: str, *, platform=None, removed: str = "", **fields) -> VMSnapshot:
    """A snapshot row of a running ``vm``; ``removed`` gives the reason it was removed."""
    snap = VMSnapshot.objects.create(
        vm=vm, platform=platform or vm.platform, name=name, vm_state="running", **fields
    )
    if removed:
        snap.removed_at = timezone.now()
        snap.removed_reason = removed
        snap.save(update_fields=["removed_at", "removed_reason"])
    return snap


def persona(*args: str) -> tuple[int, str, str]:
    """``manage.py persona ARGS``: the exit status, the output and the error output."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("persona", *args, stdout=out, stderr=err)
    except CommandError as exc:
        err.write(str(exc))
        return exc.returncode, out.getvalue(), err.getvalue()
    except SystemExit as exc:
        return (exc.code if isinstance(exc.code, int) else 1), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def errors(response) -> dict[str, str]:
    """An API error answer's messages by path."""
    return {e["path"]: e["message"] for e in response.json()["errors"]}


def clone_job(users, *, by: str = "operator", vm_name: str = "web-01", version=None, platform=None):
    version = version or approved_version(users)
    platform = platform or make_platform()
    return clone_services.job_request_clone(
        user=users[by], version=version, platform=platform, vm_name=vm_name
    )


class ScriptedRunner(Runner):
    """The real runner skeleton over three scripted steps; no hypervisor involved.

    ``outcome``: "succeed", "fail_check" (a verification check fails: rolled back) or
    "error" (an unexpected exception: errored). ``pause`` slows every step down so a
    browser can watch.
    """

    def __init__(self, job: OperationJob, *, outcome: str = "succeed", pause: float = 0.0):
        super().__init__(job)
        self.outcome = outcome
        self.pause = pause

    def steps(self) -> list[Step]:
        return [
            Step("prepare", "Check the platform and the base image", self._prepare),
            Step("define_domain", "Define the domain", self._define, weight=2),
            Step("verify", "Verify the VM against its profile", self._verify, verifying=True),
        ]

    def _sleep(self) -> None:
        if self.pause:
            time.sleep(self.pause)

    def _prepare(self) -> str:
        self.log("platform reachable")
        self._sleep()
        self.log("base image tiny-linux found")
        return "ready"

    def _define(self) -> str:
        self._sleep()
        if self.outcome == "error":
            raise RuntimeError("libvirt said no")
        self.log("domain defined", level="info")
        self._sleep()
        self.log("domain started; waiting for the guest agent", level="warning")
        return "domain running"

    def _verify(self) -> str:
        failed = []
        for index, (section, pointer, name, source, expected, actual) in enumerate(CHECKS):
            self._sleep()
            if self.outcome == "fail_check" and section == "network":
                actual = "isolated"
            passed = expected == actual
            VerificationCheck.objects.create(
                job=self.job,
                index=index,
                section=section,
                pointer=pointer,
                name=name,
                source=source,
                expected=expected,
                actual=actual,
                passed=passed,
            )
            event_services.job_event(
                job=self.job,
                kind="check",
                index=index,
                section=section,
                pointer=pointer,
                name=name,
                source=source,
                expected=expected,
                actual=actual,
                passed=passed,
                detail="",
            )
            if not passed:
                failed.append(f"{name} ({pointer}): expected {expected}, actual {actual}")
        event_services.job_event(
            job=self.job, kind="result", checks=len(CHECKS), failed=len(failed)
        )
        if failed:
            raise StepFailed(
                f"Verification failed: {len(failed)} of {len(CHECKS)} checks", check=failed[0]
            )
        self.job.result = {"checks": len(CHECKS), "domain": self.job.vm_name}
        return f"{len(CHECKS)} checks passed"


def drive(job: OperationJob, *, outcome: str = "succeed", pause: float = 0.0) -> OperationJob:
    job = OperationJob.objects.select_related("platform", "requested_by").get(pk=job.pk)
    ScriptedRunner(job, outcome=outcome, pause=pause).run()
    job.refresh_from_db()
    return job


def _play_worker(lookup: dict, outcome: str, pause: float, started: threading.Event) -> None:
    """Plays the worker: waits for the job the command queues, then runs it."""
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            job = OperationJob.objects.filter(**lookup).first()
            if job is not None:
                started.set()
                drive(job, outcome=outcome, pause=pause)
                return
            time.sleep(0.05)
    finally:
        connection.close()


@contextmanager
def scripted_worker(outcome: str, *, pause: float = 0.02, **lookup):
    """A thread that runs the first job matching ``lookup`` once it is queued, as a worker
    would; the block gets an event set when the job was found."""
    started = threading.Event()
    worker = threading.Thread(
        target=_play_worker, args=(lookup, outcome, pause, started), daemon=True
    )
    worker.start()
    try:
        yield started
    finally:
        worker.join(timeout=30)
