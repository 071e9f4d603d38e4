"""Scheduling policies through the services: a fleet snapshot read in a fixed number of
queries, evaluations recorded as plans with reasons, approval with separation of duties,
actions checked again and run as ordinary migration jobs, plans expiring, superseded,
finished with their realised effect."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from operations_app.models import (
    ActionStatus,
    JobKind,
    JobStatus,
    JobTrigger,
    ManagedVM,
    Notification,
    OperationJob,
    PlanStatus,
    PolicyPlan,
    VMMetricSample,
)
from operations_app.placement.evacuation import DryRunVerdict
from operations_app.services import policies as policy_services
from operations_app.services.dryrun import MoveDryRuns
from profiles_app.models import PolicyKind
from profiles_app.services import versions as version_services
from tests.operations_app.job_support import approved_version, make_platform, managed_vm
from tests.operations_app.maintenance.support import probed
from tests.operations_app.scheduling_support import window
from vmpersona.errors import NotPermitted, StateConflict

pytestmark = pytest.mark.django_db


def scheduling_policy(users, *, author="author", approver="approver", **doc):
    document = {
        "schema_version": "1.0",
        "name": "balance-cpu",
        "trigger": "utilisation",
        "utilisation": {"metric": "cpu", "trigger_percent": 80, "target_percent": 60},
        "aggressiveness": 5,
        "automation": "approve",
        "caps": {"moves_per_run": 3, "moves_per_platform": 2},
        **doc,
    }
    version = version_services.policy_create(
        user=users[author], document=document, kind=PolicyKind.SCHEDULING
    )
    version = version_services.version_submit(user=users[author], version=version)
    return version_services.version_approve(user=users[approver], version=version).policy


def busy(vm, percent, *, now=None):
    VMMetricSample.objects.create(
        vm=vm, at=(now or timezone.now()) - timedelta(minutes=1), cpu_percent=percent
    )


@pytest.fixture
def fleet(users, monkeypatch):
    a, b = probed(make_platform("lab-a"), cpus=2), probed(make_platform("lab-b"), cpus=2)
    web = approved_version(users, "web", flags=("Testing",))
    big = managed_vm(web, a, "big", vcpus=1, memory_mib=512)
    small = managed_vm(web, a, "small", vcpus=1, memory_mib=512)
    busy(big, 100)  # 1 core
    busy(small, 70)  # 0.7 cores: lab-a at 85 %
    asked = []

    def dry_run(self, vm, host):
        asked.append((vm.name, host.name))
        return DryRunVerdict(True, path="live", reason="running, no changes")

    monkeypatch.setattr(MoveDryRuns, "dry_run", dry_run)
    return {"a": a, "b": b, "big": big, "small": small, "web": web, "asked": asked}


def test_the_snapshot_takes_the_same_number_of_queries_for_any_fleet_size(users, fleet):
    now = timezone.now()
    with CaptureQueriesContext(connection) as small_fleet:
        policy_services.fleet_snapshot(now=now)
    for i in range(30):
        vm = managed_vm(fleet["web"], fleet["b"], f"extra-{i}", vcpus=1, memory_mib=128)
        busy(vm, 10)
    make_platform("lab-c")
    with CaptureQueriesContext(connection) as large_fleet:
        snapshot, _, _ = policy_services.fleet_snapshot(now=now)
    assert len(large_fleet) == len(small_fleet)
    assert snapshot.vms["big"].cpu_cores == 1.0 and snapshot.vms["big"].platform == "lab-a"


def test_an_evaluation_records_a_plan_with_reasons_and_tells_the_approvers(users, fleet):
    policy = scheduling_policy(users)
    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    assert plan.status == PlanStatus.PROPOSED and plan.automation == "approve"
    (action,) = plan.actions.all()
    assert (action.vm_name, action.source, action.target) == ("big", fleet["a"], fleet["b"])
    assert "lab-a at 85.0 % cpu" in action.reasons[0]
    assert plan.efficacy["peak_after"] < plan.efficacy["peak_before"]
    assert plan.expires_at > timezone.now()
    note = Notification.objects.filter(recipient=users["approver2"]).latest("pk")
    assert f"Plan #{plan.pk} of balance-cpu: 1 move waits for your approval." == note.message
    # the same facts, the same plan; the newer supersedes the older
    again = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    assert again.snapshot_digest and list(again.actions.values_list("vm_name", flat=True)) == [
        "big"
    ]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.SUPERSEDED


def test_only_operators_evaluate_and_only_approved_scheduling_policies(users, fleet):
    policy = scheduling_policy(users)
    with pytest.raises(NotPermitted):
        policy_services.policy_evaluate(user=users["viewer"], policy=policy)
    with pytest.raises(StateConflict, match="is not a scheduling policy"):
        policy_services.policy_evaluate(user=users["operator"], policy=fleet["web"].policy)


def test_approving_runs_the_actions_as_policy_migrations_for_the_approver(users, fleet):
    policy = scheduling_policy(users)
    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    with pytest.raises(NotPermitted):
        policy_services.plan_approve(user=users["operator"], plan=plan)  # not an approver
    plan = policy_services.plan_approve(user=users["approver2"], plan=plan, comment="go")
    assert plan.status == PlanStatus.APPROVED and plan.decided_by == users["approver2"]
    (action,) = plan.actions.all()
    job = action.job
    assert action.status == ActionStatus.SCHEDULED and job.kind == JobKind.MIGRATE
    assert job.trigger == JobTrigger.POLICY and job.trigger_policy == policy
    assert job.requested_by == users["approver2"] and job.status == JobStatus.QUEUED
    assert f"plan #{plan.pk}" in job.trigger_detail
    with pytest.raises(StateConflict, match="only proposed plans can be decided"):
        policy_services.plan_approve(user=users["approver2"], plan=plan)


def test_the_author_may_not_approve_a_plan_moving_production_vms(users, fleet):
    ManagedVM.objects.filter(name="big").update(execution_flags=["Production"])
    policy = scheduling_policy(users, author="author_approver", approver="approver")
    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    with pytest.raises(NotPermitted, match="another approver must"):
        policy_services.plan_approve(user=users["author_approver"], plan=plan)
    assert policy_services.plan_approve(user=users["approver2"], plan=plan).status == "approved"


def test_skipped_and_stale_actions_do_not_run(users, fleet):
    probed(fleet["b"], cpus=4)
    busy(
        ManagedVM.objects.create(
            platform=fleet["a"],
            name="third",
            domain_uuid="00000000-0000-0000-0000-000000000003",
            managed=True,
            profile_version=fleet["web"],
            vcpus=1,
            memory_mib=512,
        ),
        60,
    )
    policy = scheduling_policy(users)
    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    actions = list(plan.actions.all())
    assert len(actions) == 2
    ManagedVM.objects.filter(name=actions[1].vm_name).update(platform=fleet["b"])
    plan = policy_services.plan_approve(user=users["approver2"], plan=plan, skip=[0])
    first, second = plan.actions.all()
    assert first.status == ActionStatus.SKIPPED and "skipped by approver2" in first.note
    assert second.status == ActionStatus.STALE and "runs on lab-b now" in second.note
    assert not OperationJob.objects.exists()


def test_recommend_only_plans_are_never_run_and_rejection_needs_a_reason(users, fleet):
    policy = scheduling_policy(users, automation="recommend")
    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    with pytest.raises(StateConflict, match="only recommends"):
        policy_services.plan_approve(user=users["approver2"], plan=plan)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        policy_services.plan_reject(user=users["approver2"], plan=plan, comment=" ")
    plan = policy_services.plan_reject(user=users["approver2"], plan=plan, comment="not now")
    assert plan.status == PlanStatus.REJECTED


def test_an_automatic_policy_runs_its_plan_in_its_window(users, fleet):
    window(users, "night")
    policy = scheduling_policy(users, automation="automatic", window="night")
    plan = policy_services.policy_evaluate(user=None, policy=policy)
    assert plan.status == PlanStatus.APPROVED and plan.decided_by is None
    job = plan.actions.get().job
    assert job.status == JobStatus.SCHEDULED and job.window.name == "night"


def test_plans_expire_and_finish_with_the_realised_effect(users, fleet):
    policy = scheduling_policy(users, plan_expiry_minutes=5)
    stale = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    assert policy_services.plans_tick(timezone.now() + timedelta(minutes=6))["expired"] == [
        stale.pk
    ]
    with pytest.raises(StateConflict):
        policy_services.plan_approve(user=users["approver2"], plan=stale)

    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    plan = policy_services.plan_approve(user=users["approver2"], plan=plan)
    job = plan.actions.get().job
    assert policy_services.plans_tick()["done"] == []  # its job still runs
    OperationJob.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now()
    )
    ManagedVM.objects.filter(name="big").update(platform=fleet["b"])
    assert policy_services.plans_tick()["done"] == [plan.pk]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DONE and plan.actions.get().status == ActionStatus.SUCCEEDED
    assert plan.realised["load"]["lab-a"] == 35.0 and plan.realised["load"]["lab-b"] == 50.0
    note = Notification.objects.filter(recipient=users["approver2"]).latest("pk")
    assert note.message == f"Plan #{plan.pk} of balance-cpu is done: 1 of 1 actions ran."
    # the VM just moved is in its cooldown: the next evaluation leaves it alone
    busy(ManagedVM.objects.get(name="big"), 100)
    busy(ManagedVM.objects.get(name="small"), 100)
    ManagedVM.objects.filter(name="small").update(platform=fleet["b"])
    nxt = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    assert "big" not in list(nxt.actions.values_list("vm_name", flat=True))


def test_the_periodic_evaluation_runs_each_policy_when_due(users, fleet, settings):
    settings.VMPERSONA_POLICY_EVALUATION_MINUTES = 15
    scheduling_policy(users)
    now = timezone.now()
    assert policy_services.policies_tick(now)["evaluated"] == ["balance-cpu"]
    assert policy_services.policies_tick(now + timedelta(minutes=5))["evaluated"] == []
    assert policy_services.policies_tick(now + timedelta(minutes=16))["evaluated"] == [
        "balance-cpu"
    ]
    assert PolicyPlan.objects.filter(status=PlanStatus.SUPERSEDED).count() == 1


def test_the_author_and_the_asker_hear_of_each_decision_with_its_comment(users, fleet):
    policy = scheduling_policy(users)
    author = policy.versions.get().author
    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    policy_services.plan_approve(user=users["approver2"], plan=plan, comment="go ahead")
    for person in (author, users["operator"]):
        note = Notification.objects.filter(recipient=person).latest("pk")
        assert note.message == (
            f"Plan #{plan.pk} of balance-cpu approved by approver2: 1 of 1 actions requested. "
            "go ahead"
        )
        assert note.link == plan.get_absolute_url()
    assert not Notification.objects.filter(
        recipient=users["approver2"], message__contains="approved by"
    ).exists()

    again = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    policy_services.plan_reject(user=users["approver2"], plan=again, comment="not in December")
    note = Notification.objects.filter(recipient=author).latest("pk")
    assert note.message == f"Plan #{again.pk} of balance-cpu rejected by approver2: not in December"
