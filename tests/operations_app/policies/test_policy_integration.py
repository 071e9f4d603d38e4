"""Scheduling policies on the real testbed.

Utilisation: two guests on host-a spin a CPU each (a burner started through the guest
agent), the inventory's samples show host-a hot; a CPU-balancing policy proposes moving
one of them to host-b with its reasons, approving the plan runs a verified migration,
and the next evaluation proposes nothing (the loads are even and the VM just moved is in
its cooldown). Cost: host-a is declared dearer than host-b; a cost policy moves a VM to
host-b and the plan records the saving it realised. Vulnerability: an advisory against the QEMU
host-a runs (its version as libvirt reports it), with host-b's packages declared patched,
moves a VM to host-b."""

from __future__ import annotations

import json
import time

import pytest
from django.utils import timezone

from operations_app import hypervisor as hv
from operations_app.models import ActionStatus, JobStatus, ManagedVM, PlanStatus
from operations_app.policies.fleet import cpu_load
from operations_app.services import advisories as advisory_services
from operations_app.services import inventory as inventory_services
from operations_app.services import platforms as platform_services
from operations_app.services import policies as policy_services
from operations_app.tasks import run_job

from ..test_clone_integration import libvirt_leftovers
from ..test_migrate_integration import (  # noqa: F401 - fixtures
    _read_marker,
    _running_clone,
    _write_marker,
    cleanup,
)
from .support import scheduling_policy

pytestmark = [
    pytest.mark.integration,
    pytest.mark.one_engine,
    pytest.mark.django_db(transaction=True),
]

PIDFILE = "/tmp/burner.pid"


def _burn(platform, name: str) -> None:
    """Spin one vCPU of the guest until stopped: a shell loop, run as a daemon so it
    outlives the agent's command."""
    with hv.Hypervisor.connect(platform.uri) as conn:
        result = conn.agent.exec(
            name,
            [
                "/bin/busybox",
                "start-stop-daemon",
                "-S",
                "-b",
                "-m",
                "-p",
                PIDFILE,
                "-x",
                "/bin/busybox",
                "--",
                "sh",
                "-c",
                "while :; do :; done",
            ],
            timeout=30,
        )
        assert result.exit_code == 0, result


def _stop_burning(platform, name: str) -> None:
    with hv.Hypervisor.connect(platform.uri) as conn:
        conn.agent.exec(
            name, ["/bin/busybox", "start-stop-daemon", "-K", "-p", PIDFILE], timeout=30
        )


def _sample(*platforms, seconds: float) -> None:
    """Two inventory samples ``seconds`` apart: the second holds each guest's CPU use."""
    for platform in platforms:
        inventory_services.inventory_sync(platform=platform)
    time.sleep(seconds)
    for platform in platforms:
        inventory_services.inventory_sync(platform=platform)


def _run_plan(users, plan):
    plan = policy_services.plan_approve(user=users["approver2"], plan=plan, comment="go")
    (action,) = plan.actions.all()
    assert action.status == ActionStatus.SCHEDULED, action.note
    assert run_job(action.job.pk) == JobStatus.SUCCEEDED, action.job.error
    assert policy_services.plans_tick()["done"] == [plan.pk]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DONE
    assert plan.actions.get().status == ActionStatus.SUCCEEDED
    return plan


def test_a_hot_host_is_relieved_once_and_not_again(users, testbed_platforms, cleanup):  # noqa: F811
    host_a, host_b = testbed_platforms["host-a"], testbed_platforms["host-b"]
    names = ["pu-hot-1", "pu-hot-2"]
    cleanup.extend(names)
    for i, name in enumerate(names):
        _running_clone(users, host_a, name, f"10.231.0.{81 + i}/24")
        _write_marker(host_a, name, b"kept through the move\n")
        _burn(host_a, name)
    _sample(host_a, host_b, seconds=6)
    for name in names:
        sample = ManagedVM.objects.get(name=name).samples.latest("at")
        assert sample.cpu_percent is not None and sample.cpu_percent > 20, (name, sample)
    # The guests get what the machine spares (both hosts share its cores), so the
    # thresholds follow the load the policy will read: host-a is above the trigger,
    # and one guest on each host would be below it.
    snapshot, _, _ = policy_services.fleet_snapshot(now=timezone.now())
    placed = {vm.name: vm.platform for vm in snapshot.vms.values()}
    trigger = int(cpu_load(snapshot, "host-a", placed) * 0.75)
    assert trigger >= 10 and cpu_load(snapshot, "host-b", placed) == 0

    policy = scheduling_policy(
        users,
        name="balance-testbed",
        scope={"platforms": ["host-a", "host-b"]},
        utilisation={"metric": "cpu", "trigger_percent": trigger, "target_percent": trigger - 2},
        consecutive_evaluations=1,
        min_improvement_percent=5,
    )
    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    (action,) = plan.actions.all()
    moved, stays = action.vm_name, next(n for n in names if n != action.vm_name)
    assert (action.source.name, action.target.name) == ("host-a", "host-b")
    assert (
        action.reasons[0].startswith("host-a at ") and f"trigger {trigger} %" in action.reasons[0]
    )
    assert f"{moved} uses " in action.reasons[1] and "host-b would be at" in action.reasons[2]
    assert plan.efficacy["peak_after"] < plan.efficacy["peak_before"]
    verdicts = {v["host"]: v for v in action.placement["verdicts"]}
    assert verdicts["host-b"]["chosen"] and not verdicts["host-b"]["refused_by"], verdicts

    plan = _run_plan(users, plan)
    vm = ManagedVM.objects.get(name=moved)
    assert vm.platform == host_b
    assert _read_marker(host_b, moved) == b"kept through the move\n"
    assert libvirt_leftovers(host_a, moved) == []
    assert ManagedVM.objects.get(name=stays).platform == host_a

    # Both guests still spin, one on each host: nothing is above the trigger, and the
    # VM just moved would be left alone anyway.
    _sample(host_a, host_b, seconds=4)
    again = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    assert list(again.actions.all()) == [], again.findings
    assert f"{moved}: " not in " ".join(again.findings) or "cooldown" in " ".join(again.findings)
    for name, platform in ((moved, host_b), (stays, host_a)):
        _stop_burning(platform, name)


def test_a_cost_policy_moves_a_vm_to_the_cheaper_host(users, testbed_platforms, cleanup):  # noqa: F811
    host_a, host_b = testbed_platforms["host-a"], testbed_platforms["host-b"]
    name = "pc-cost-1"
    cleanup.append(name)
    host_a = platform_services.platform_update(
        platform=host_a, cost_vcpu_hour="0.0400", cost_ram_gib_hour="0.0100"
    )
    host_b = platform_services.platform_update(
        platform=host_b, cost_vcpu_hour="0.0100", cost_ram_gib_hour="0.0050"
    )
    _running_clone(users, host_a, name, "10.231.0.85/24")
    _write_marker(host_a, name, b"cheaper, same data\n")

    policy = scheduling_policy(
        users,
        name="cheaper-testbed",
        trigger="cost",
        utilisation=None,
        scope={"platforms": ["host-a", "host-b"]},
        cost={"horizon_days": 30, "min_saving_per_month": 1, "move_cost_per_gib": 0.01},
        consecutive_evaluations=1,
    )
    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    (action,) = plan.actions.all()
    assert (action.vm_name, action.source, action.target) == (name, host_a, host_b)
    assert action.reasons[0].startswith(f"{name} costs ") and "on host-b" in action.reasons[0]
    assert "pays back in" in action.reasons[1]
    saving = action.effect["monthly_saving"]
    assert saving > 1 and plan.efficacy["monthly_saving"] == pytest.approx(saving, abs=0.01)

    plan = _run_plan(users, plan)
    assert ManagedVM.objects.get(name=name).platform == host_b
    assert _read_marker(host_b, name) == b"cheaper, same data\n"
    assert libvirt_leftovers(host_a, name) == []
    assert plan.realised["monthly_cost"] == pytest.approx(
        plan.efficacy["monthly_cost_after"], abs=0.01
    )


# An advisory in OSV's format against every QEMU in Debian 12 before 1:99.0, with the
# score of a critical flaw: whatever QEMU this machine runs, host-a is exposed.
QEMU_ADVISORY = {
    "schema_version": "1.6.0",
    "id": "DSA-9999-1",
    "modified": "2026-11-30T00:00:00Z",
    "published": "2026-11-30T00:00:00Z",
    "aliases": ["CVE-2026-99999"],
    "summary": "qemu - security update",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "qemu"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:99.0"}]}],
        }
    ],
}


def test_an_advisory_against_host_a_moves_a_vm_to_the_patched_host_b(
    users,
    testbed_platforms,
    cleanup,  # noqa: F811
):
    host_a, host_b = testbed_platforms["host-a"], testbed_platforms["host-b"]
    name = "pv-vuln-1"
    cleanup.append(name)
    _running_clone(users, host_a, name, "10.231.0.86/24")
    _write_marker(host_a, name, b"patched host, same data\n")
    advisory_services.advisories_import(user=users["operator"], content=json.dumps(QEMU_ADVISORY))
    advisory_services.platform_facts_import(
        user=users["operator"],
        platform=host_b,
        content="qemu-system-x86 1:99.1+dfsg-1 qemu\nlibvirt-daemon 9.0.0-4 libvirt\n",
        debian_release="bookworm",
    )

    policy = scheduling_policy(
        users,
        name="patch-testbed",
        trigger="vulnerability",
        utilisation=None,
        scope={"platforms": ["host-a", "host-b"]},
        vulnerability={"min_cvss": 7, "approve_at_once_cvss": 9},
        consecutive_evaluations=1,
    )
    plan = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    (action,) = plan.actions.all()
    assert (action.kind, action.vm_name, action.source, action.target) == (
        "migrate",
        name,
        host_a,
        host_b,
    )
    flaw = "CVE-2026-99999" if "CVE-2026-99999" in action.reasons[0] else "DSA-9999-1"
    assert action.reasons[0].startswith(f"host-a is exposed to {flaw} (9.8)"), action.reasons
    assert f"no longer exposed to {flaw}" in action.reasons[1], action.reasons
    assert plan.efficacy["approve_at_once"] is True

    plan = _run_plan(users, plan)
    assert ManagedVM.objects.get(name=name).platform == host_b
    assert _read_marker(host_b, name) == b"patched host, same data\n"
    assert libvirt_leftovers(host_a, name) == []
    again = policy_services.policy_evaluate(user=users["operator"], policy=policy)
    assert list(again.actions.all()) == [], again.findings
