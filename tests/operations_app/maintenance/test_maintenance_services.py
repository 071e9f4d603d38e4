"""Host maintenance through the services, the clock driven: no new VM is placed on a
platform in maintenance, its VMs move only inside the window (never in a blackout,
never after the cutoff), a few at a time, and the requester hears what happened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from operations_app.models import (
    HostMaintenance,
    JobKind,
    JobStatus,
    JobTrigger,
    MaintenanceState,
    ManagedVM,
    Notification,
    OperationJob,
)
from operations_app.placement.evacuation import DryRunVerdict
from operations_app.services import clones as clone_services
from operations_app.services import maintenance as maintenance_services
from operations_app.services import migrations as migration_services
from operations_app.services.scheduling import scheduled_jobs_tick
from tests.operations_app.job_support import unmanaged_vm
from tests.operations_app.scheduling_support import LAST_START, OPENS, blackout, tomorrow, window
from vmpersona.errors import NotPermitted, StateConflict, error_list

from .support import answer_dry_runs, fleet, probed

pytestmark = pytest.mark.django_db

INSIDE = OPENS + timedelta(minutes=5)  # 01:05 tomorrow: the window is open


def field_messages(err) -> dict[str, str]:
    return {e["path"]: e["message"] for e in error_list(err.value)}


def moves(status=None) -> list[OperationJob]:
    rows = OperationJob.objects.filter(kind=JobKind.MIGRATE).order_by("pk")
    return [j for j in rows if status is None or j.status == status]


def finish(job: OperationJob, *, ok: bool = True, error: str = "") -> None:
    """What a worker does with a move: the VM on the target, or the move failed."""
    if ok:
        OperationJob.objects.filter(pk=job.pk).update(
            status=JobStatus.SUCCEEDED, result={"path": "live"}
        )
        ManagedVM.objects.filter(pk=job.vm_id).update(platform=job.platform)
    else:
        OperationJob.objects.filter(pk=job.pk).update(status=JobStatus.ROLLED_BACK, error=error)


@pytest.fixture
def lab(users, monkeypatch, settings):
    settings.VMPERSONA_EVACUATION_PARALLEL = 1
    f = fleet(users, hosts=("lab-a", "lab-b", "lab-c"), vms=2)
    f["asked"] = answer_dry_runs(monkeypatch)
    f["a"], f["b"], f["c"] = (f["platforms"][n] for n in ("lab-a", "lab-b", "lab-c"))
    f["window"] = window(users, "host-work")
    return f


def start(users, lab, **kw):
    return maintenance_services.maintenance_start(
        user=users["operator"], platform=lab["a"], window=lab["window"], **kw
    )


def test_the_plan_places_each_managed_vm_and_lists_unmanaged_ones(users, lab):
    unmanaged_vm(lab["a"], "legacy-db", vcpus=2, memory_mib=1024)
    plan = maintenance_services.evacuation_plan(user=users["operator"], platform=lab["a"])
    assert {m["vm"] for m in plan["moves"]} == {"web-1", "web-2"}
    assert {m["target"] for m in plan["moves"]} <= {"lab-b", "lab-c"}
    assert plan["unmanaged"] == ["legacy-db"] and plan["complete"]
    assert OperationJob.objects.count() == 0  # a plan changes nothing
    # spread: the two VMs do not land on one host when another has the same room
    assert len({m["target"] for m in plan["moves"]}) == 2


def test_only_operators_plan_start_and_end(users, lab):
    with pytest.raises(NotPermitted):
        maintenance_services.evacuation_plan(user=users["viewer"], platform=lab["a"])
    with pytest.raises(NotPermitted):
        maintenance_services.maintenance_start(user=users["author"], platform=lab["a"])
    start(users, lab)
    with pytest.raises(NotPermitted):
        maintenance_services.maintenance_end(user=users["approver"], platform=lab["a"])


def test_a_platform_in_maintenance_takes_no_new_clone_or_migration(users, lab):
    start(users, lab)
    with pytest.raises(ValidationError) as err:
        clone_services.job_request_clone(
            user=users["operator"], version=lab["version"], platform=lab["a"], vm_name="web-9"
        )
    assert "lab-a is entering maintenance for window 'host-work'" in field_messages(err)["platform"]
    moved = ManagedVM.objects.create(
        platform=lab["b"],
        name="db-1",
        domain_uuid="00000000-0000-0000-0000-0000000000d1",
        managed=True,
        profile_version=lab["version"],
        vcpus=1,
        memory_mib=256,
    )
    with pytest.raises(ValidationError) as err:
        migration_services.job_request_migrate(user=users["operator"], vm=moved, target=lab["a"])
    assert "no new VMs are placed there" in field_messages(err)["target"]
    # and placement elsewhere skips it
    plan = maintenance_services.evacuation_plan(user=users["operator"], platform=lab["b"])
    refused = [v for v in plan["moves"][0]["verdicts"] if v["host"] == "lab-a"][0]
    assert refused["refused_by"] == "not in maintenance"


def test_starting_twice_or_with_a_blackout_is_refused_and_changes_nothing(users, lab):
    dark = blackout(users, "freeze", start=tomorrow() + timedelta(days=3), minutes=60)
    with pytest.raises(ValidationError) as err:
        maintenance_services.maintenance_start(
            user=users["operator"], platform=lab["a"], window=dark
        )
    assert "blackout" in field_messages(err)["window"]
    assert not HostMaintenance.objects.exists()
    start(users, lab)
    with pytest.raises(StateConflict, match="already entering maintenance"):
        start(users, lab)
    assert HostMaintenance.objects.count() == 1


def test_nothing_moves_before_the_window_then_one_at_a_time_inside_it(users, lab):
    maintenance = start(users, lab)
    assert maintenance.state == MaintenanceState.ENTERING
    before = tomorrow() + OPENS - timedelta(minutes=1)
    assert maintenance_services.maintenance_tick(before)["waiting"] == ["lab-a"]
    assert moves() == []

    assert maintenance_services.maintenance_tick(tomorrow() + INSIDE)["moving"] == ["lab-a"]
    (first,) = moves()
    assert first.trigger == JobTrigger.MAINTENANCE and first.status == JobStatus.QUEUED
    assert first.requested_by == users["operator"] and first.source_platform == lab["a"]
    assert "maintenance of lab-a in window 'host-work'" in first.trigger_detail
    # the cap: one move at a time per platform
    maintenance_services.maintenance_tick(tomorrow() + INSIDE + timedelta(minutes=1))
    assert len(moves()) == 1

    finish(first)
    maintenance_services.maintenance_tick(tomorrow() + INSIDE + timedelta(minutes=2))
    second = moves()[1]
    assert second.vm_name != first.vm_name
    maintenance.refresh_from_db()
    assert maintenance.vms[first.vm_name]["status"] == "moved"
    assert maintenance.state == MaintenanceState.ENTERING  # one VM still there

    finish(second)
    assert maintenance_services.maintenance_tick(tomorrow() + INSIDE + timedelta(minutes=3))[
        "evacuated"
    ] == ["lab-a"]
    maintenance.refresh_from_db()
    assert maintenance.state == MaintenanceState.IN_MAINTENANCE and maintenance.evacuated_at
    note = Notification.objects.filter(recipient=users["operator"]).latest("pk")
    assert "lab-a is in maintenance: 2 VMs moved away" in note.message
    assert "web-1: moved to lab-" in maintenance.summary and "(live)" in maintenance.summary


def test_a_blackout_wins_over_the_window_and_the_cutoff_stops_new_moves(users, lab):
    blackout(users, "freeze", start=tomorrow() + OPENS, minutes=30)
    start(users, lab)
    maintenance_services.maintenance_tick(tomorrow() + INSIDE)
    assert moves() == []
    maintenance = HostMaintenance.objects.get()
    assert all(v["status"] == "waiting" for v in maintenance.vms.values())
    # after the cutoff (04:30) nothing starts either
    maintenance_services.maintenance_tick(tomorrow() + LAST_START + timedelta(minutes=1))
    assert moves() == []
    # inside, after the blackout, before the cutoff: it moves
    maintenance_services.maintenance_tick(tomorrow() + OPENS + timedelta(minutes=45))
    assert len(moves()) == 1


def test_a_blackout_on_one_vm_holds_only_that_vm(users, lab, settings):
    settings.VMPERSONA_EVACUATION_PARALLEL = 2
    ManagedVM.objects.filter(name="web-1").update(labels={"team": "payments"})
    blackout(
        users, "payments-freeze", start=tomorrow(), minutes=24 * 60, labels={"team": "payments"}
    )
    start(users, lab)
    maintenance_services.maintenance_tick(tomorrow() + INSIDE)
    assert [j.vm_name for j in moves()] == ["web-2"]
    info = HostMaintenance.objects.get().vms["web-1"]
    assert info["status"] == "waiting" and "payments-freeze" in info["reason"]


def test_a_failed_move_is_recorded_summed_up_after_the_window_and_tried_in_the_next(users, lab):
    start(users, lab)
    maintenance_services.maintenance_tick(tomorrow() + INSIDE)
    (first,) = moves()
    finish(first, ok=False, error="Verification failed on lab-b: nginx is not running")
    maintenance_services.maintenance_tick(tomorrow() + INSIDE + timedelta(minutes=1))
    second = moves()[1]
    finish(second)
    maintenance_services.maintenance_tick(tomorrow() + INSIDE + timedelta(minutes=2))
    maintenance = HostMaintenance.objects.get()
    info = maintenance.vms[first.vm_name]
    assert info["status"] == "failed" and "nginx is not running" in info["reason"]
    assert len(moves()) == 2  # not tried again in this occurrence
    # the occurrence ends: the requester hears which VM is left and why
    maintenance_services.maintenance_tick(tomorrow() + timedelta(hours=5, minutes=1))
    note = Notification.objects.filter(recipient=users["operator"]).latest("pk")
    assert "still entering maintenance" in note.message and first.vm_name in note.message
    # told once
    maintenance_services.maintenance_tick(tomorrow() + timedelta(hours=6))
    assert (
        Notification.objects.filter(recipient=users["operator"], message=note.message).count() == 1
    )
    # the next day's occurrence tries it again
    maintenance_services.maintenance_tick(tomorrow() + timedelta(days=1) + INSIDE)
    assert len(moves()) == 3 and moves()[2].vm_name == first.vm_name


def test_a_vm_nothing_can_take_is_reported_with_the_reason(users, lab, monkeypatch):
    answer_dry_runs(
        monkeypatch,
        {
            ("web-1", "lab-b"): DryRunVerdict(
                False, reason="network persona-net is not offered by lab-b"
            ),
            ("web-1", "lab-c"): DryRunVerdict(
                False, reason="network persona-net is not offered by lab-c"
            ),
        },
    )
    start(users, lab)
    maintenance_services.maintenance_tick(tomorrow() + INSIDE)
    info = HostMaintenance.objects.get().vms["web-1"]
    assert info["status"] == "unmovable"
    assert "lab-b: network persona-net is not offered by lab-b" in info["reason"]


def test_without_a_window_it_moves_at_once_and_unmanaged_vms_stay(users, lab):
    unmanaged_vm(lab["a"], "legacy-db", vcpus=1, memory_mib=256)
    maintenance = maintenance_services.maintenance_start(user=users["operator"], platform=lab["a"])
    maintenance_services.maintenance_tick()
    for _ in range(2):
        for job in moves(JobStatus.QUEUED):
            finish(job)
        maintenance_services.maintenance_tick()
    maintenance.refresh_from_db()
    assert maintenance.state == MaintenanceState.IN_MAINTENANCE
    assert ManagedVM.objects.get(name="legacy-db").platform == lab["a"]  # never touched
    assert "Left alone (not managed by VM Persona): legacy-db" in maintenance.summary


def test_a_platform_without_managed_vms_is_in_maintenance_at_once(users, lab):
    ManagedVM.objects.filter(platform=lab["a"]).update(platform=lab["b"])
    maintenance = start(users, lab)
    assert maintenance.state == MaintenanceState.IN_MAINTENANCE


def test_ending_moves_the_vms_back_when_asked(users, lab):
    maintenance_services.maintenance_start(
        user=users["operator"], platform=lab["a"], move_back=True
    )
    for _ in range(3):
        maintenance_services.maintenance_tick()
        for job in moves(JobStatus.QUEUED):
            finish(job)
    maintenance_services.maintenance_tick()
    assert HostMaintenance.objects.get().state == MaintenanceState.IN_MAINTENANCE
    ended = maintenance_services.maintenance_end(user=users["operator"], platform=lab["a"])
    assert ended.state == MaintenanceState.ENDED and ended.ended_by == users["operator"]
    back = moves(JobStatus.QUEUED)
    assert sorted(j.vm_name for j in back) == ["web-1", "web-2"]
    assert all(
        j.platform == lab["a"] and "back after the maintenance" in j.trigger_detail for j in back
    )
    # clones are welcome again
    clone_services.job_request_clone(
        user=users["operator"], version=lab["version"], platform=lab["a"], vm_name="web-9"
    )
    with pytest.raises(StateConflict, match="not in maintenance"):
        maintenance_services.maintenance_end(user=users["operator"], platform=lab["a"])


def test_a_scheduled_clone_onto_a_platform_now_in_maintenance_is_skipped(users, lab):
    job = clone_services.job_request_clone(
        user=users["operator"],
        version=lab["version"],
        platform=lab["a"],
        vm_name="web-9",
        window="host-work",
    )
    start(users, lab)
    scheduled_jobs_tick(tomorrow() + INSIDE)
    job.refresh_from_db()
    assert job.status == JobStatus.SKIPPED and "lab-a is entering maintenance" in job.error


def test_the_history_says_who_asked_and_what_happened(users, lab):
    from operations_app.selectors.maintenance import maintenance_history

    maintenance_services.maintenance_start(user=users["operator"], platform=lab["a"])
    maintenance_services.maintenance_end(user=users["admin"], platform=lab["a"], move_back=False)
    rows = maintenance_history(HostMaintenance.objects.get())
    assert [(r["by"], r["state"]) for r in rows] == [
        ("operator", "Entering maintenance"),
        ("admin", "Ended"),
    ]


def test_host_facts_read_capacity_overcommit_and_commitments(users, lab):
    lab["b"].constraints = {"cpu_overcommit": 2, "memory_overcommit": 1.5}
    lab["b"].save()
    probed(lab["b"], cpus=8, memory_mib=8192, pool_gib=50)
    facts = maintenance_services.host_facts(lab["b"])
    assert facts.vcpu_limit == 16 and facts.memory_limit_mib == 8192 * 1.5
    assert facts.storage_capacity_bytes == 50 * 1024**3
    a = maintenance_services.host_facts(lab["a"])
    assert a.used_vcpus == 2 and a.used_memory_mib == 1024


def test_without_a_window_a_failed_move_is_told_once_and_tried_again_on_request(users, lab):
    maintenance_services.maintenance_start(user=users["operator"], platform=lab["a"])
    maintenance_services.maintenance_tick()
    (first,) = moves()
    finish(first, ok=False, error="Verification failed on lab-b: nginx is not running")
    maintenance_services.maintenance_tick()
    finish(moves()[1])
    maintenance_services.maintenance_tick()
    maintenance_services.maintenance_tick()
    told = Notification.objects.filter(
        recipient=users["operator"], message__contains="could not move"
    )
    assert told.count() == 1 and first.vm_name in told.get().message
    assert len(moves()) == 2  # not retried by itself
    with pytest.raises(NotPermitted):
        maintenance_services.maintenance_retry(user=users["viewer"], platform=lab["a"])
    maintenance_services.maintenance_retry(user=users["operator"], platform=lab["a"])
    maintenance_services.maintenance_tick()
    assert len(moves()) == 3 and moves()[2].vm_name == first.vm_name
    finish(moves()[2])
    maintenance_services.maintenance_tick()
    assert HostMaintenance.objects.get().state == MaintenanceState.IN_MAINTENANCE
    with pytest.raises(StateConflict):
        maintenance_services.maintenance_retry(user=users["operator"], platform=lab["a"])


def test_the_scheduling_policies_rules_bind_the_evacuation_too(users, lab):
    from tests.operations_app.job_support import managed_vm
    from tests.operations_app.policies.support import scheduling_policy

    # web-1 and web-2 may never run beside web-3 (on lab-b), and web-2 must not go to lab-c
    managed_vm(lab["version"], lab["b"], "web-3", vcpus=1, memory_mib=512)
    scheduling_policy(
        users,
        name="replicas-apart",
        automation="recommend",
        affinity=[
            {"name": "apart", "kind": "anti_affinity", "vms": {"vms": ["web-1", "web-3"]}},
        ],
        platform_rules=[
            {
                "name": "not-c",
                "rule": "must_not",
                "vms": {"vms": ["web-2"]},
                "platforms": {"platforms": ["lab-c"]},
            }
        ],
    )
    plan = maintenance_services.evacuation_plan(user=users["operator"], platform=lab["a"])
    targets = {m["vm"]: m["target"] for m in plan["moves"]}
    assert targets == {"web-1": "lab-c", "web-2": "lab-b"}, plan
    verdicts = {m["vm"]: {v["host"]: v for v in m["verdicts"]} for m in plan["moves"]}
    assert "apart" in verdicts["web-1"]["lab-b"]["reason"]
    assert "not-c" in verdicts["web-2"]["lab-c"]["reason"]
