"""Host maintenance on the real testbed: host-a goes into maintenance for a window that
opens a few seconds later; its two managed VMs (one on a machine type host-b does not
take, so it must move cold) end up verified on host-b inside the window, host-a is *in
maintenance*, a clone onto it is refused, and the requester gets the summary."""

from __future__ import annotations

import time
from datetime import UTC, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from operations_app import hypervisor as hv
from operations_app.models import (
    HostMaintenance,
    JobKind,
    JobStatus,
    JobTrigger,
    MaintenanceState,
    ManagedVM,
    Notification,
    OperationJob,
    VMState,
)
from operations_app.selectors.maintenance import maintenance_of
from operations_app.services import clones as clone_services
from operations_app.services import maintenance as maintenance_services
from operations_app.services import platforms as platform_services
from operations_app.services import windows as window_services
from operations_app.tasks import run_job
from vmpersona.errors import error_list

from ..test_clone_integration import libvirt_leftovers
from ..test_migrate_integration import (  # noqa: F401 - fixtures
    _clone_with,
    _read_marker,
    _why,
    _write_marker,
    cleanup,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.one_engine,
    pytest.mark.django_db(transaction=True),
]

OPENS_IN = timedelta(seconds=8)


def _queued_moves() -> list[OperationJob]:
    return list(
        OperationJob.objects.filter(kind=JobKind.MIGRATE, status=JobStatus.QUEUED).order_by("pk")
    )


def test_host_a_is_evacuated_to_host_b_inside_its_window(users, testbed_platforms, cleanup):  # noqa: F811
    host_a, host_b = testbed_platforms["host-a"], testbed_platforms["host-b"]
    live_name, cold_name = "mt-live-1", "mt-cold-1"
    cleanup.extend([live_name, cold_name])
    # mt-live-1 gets a q35 machine like host-b's: it can move live. mt-cold-1 an i440fx
    # one, which host-b does not take: it moves cold, with a new definition.
    platform_services.platform_update(platform=host_a, constraints={"machine_types": ["q35"]})
    _clone_with(users, host_a, live_name, "10.231.0.71/24", [])
    platform_services.platform_update(platform=host_a, constraints={"machine_types": ["pc"]})
    _clone_with(users, host_a, cold_name, "10.231.0.72/24", [])
    host_a.refresh_from_db()
    _write_marker(host_a, live_name, b"live on host A\n")
    _write_marker(host_a, cold_name, b"cold on host A\n")

    opens = (timezone.now() + OPENS_IN).astimezone(UTC).replace(microsecond=0)
    window = window_services.window_create(
        user=users["operator"],
        data={
            "name": "host-a-work",
            "timezone": "UTC",
            "start_date": opens.date().isoformat(),
            "start_time": opens.time().isoformat(),
            "duration_minutes": 30,
            "cutoff_minutes": 5,
        },
    )
    plan = maintenance_services.evacuation_plan(user=users["operator"], platform=host_a)
    paths = {m["vm"]: (m["target"], m["path"]) for m in plan["moves"]}
    assert paths == {live_name: ("host-b", "live"), cold_name: ("host-b", "cold")}, plan
    maintenance = maintenance_services.maintenance_start(
        user=users["operator"], platform=host_a, window=window, plan=plan
    )

    # From now on no clone is placed on host-a.
    version = ManagedVM.objects.get(name=live_name).profile_version
    with pytest.raises(ValidationError) as refused:
        clone_services.job_request_clone(
            user=users["operator"], version=version, platform=host_a, vm_name="mt-new-1"
        )
    (error,) = error_list(refused.value)
    assert error["path"] == "platform"
    assert "host-a is entering maintenance for window 'host-a-work'" in error["message"]

    # Before the window opens nothing moves.
    assert maintenance_services.maintenance_tick()["waiting"] == ["host-a"]
    assert _queued_moves() == []
    time.sleep(max(0.0, (opens - timezone.now()).total_seconds()) + 0.5)

    # Inside it: the tick starts both moves (two at once per platform), a worker runs them.
    deadline = time.monotonic() + 900
    while maintenance_of(host_a).state == MaintenanceState.ENTERING:
        assert time.monotonic() < deadline, HostMaintenance.objects.get(pk=maintenance.pk).vms
        maintenance_services.maintenance_tick()
        for job in _queued_moves():
            assert job.trigger == JobTrigger.MAINTENANCE
            assert run_job(job.pk) == JobStatus.SUCCEEDED, _why(job)

    maintenance.refresh_from_db()
    assert maintenance.state == MaintenanceState.IN_MAINTENANCE
    closes = opens + timedelta(minutes=30)
    for name, path, marker in (
        (live_name, "live", b"live on host A\n"),
        (cold_name, "cold", b"cold on host A\n"),
    ):
        info = maintenance.vms[name]
        assert info["status"] == "moved" and info["target"] == "host-b", info
        job = OperationJob.objects.get(pk=info["job"])
        assert job.result["path"] == path
        assert opens <= job.started_at and job.finished_at <= closes
        checks = list(job.checks.all())
        assert checks and all(c.passed for c in checks), [c.name for c in checks if not c.passed]
        vm = ManagedVM.objects.get(name=name)
        assert vm.platform == host_b and vm.state == VMState.RUNNING
        assert _read_marker(host_b, name) == marker
        assert libvirt_leftovers(host_a, name) == []
        with hv.Hypervisor.connect(host_b.uri) as conn:
            assert conn.domains.state(name) == hv.DomainState.RUNNING

    # The requester hears it, with the summary.
    note = Notification.objects.filter(recipient=users["operator"]).latest("pk")
    assert note.message.startswith("host-a is in maintenance: 2 VMs moved away")
    assert f"{live_name}: moved to host-b (live" in maintenance.summary
    assert f"{cold_name}: moved to host-b (cold" in maintenance.summary

    # Still no clone while in maintenance; ending it lets them in again.
    with pytest.raises(ValidationError, match="host-a is in maintenance"):
        clone_services.job_request_clone(
            user=users["operator"], version=version, platform=host_a, vm_name="mt-new-1"
        )
    maintenance_services.maintenance_end(user=users["operator"], platform=host_a, move_back=False)
    assert maintenance_of(host_a) is None
