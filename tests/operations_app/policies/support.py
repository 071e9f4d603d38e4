"""Helpers for the plan API and CLI tests: an approved scheduling policy, CPU samples,
and a small fleet whose lab-a runs hot (85 % of its two CPUs) beside an idle lab-b,
with the adaptation dry run answered from a table (no host is contacted)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from operations_app.models import VMMetricSample
from operations_app.placement.evacuation import DryRunVerdict
from operations_app.services.dryrun import MoveDryRuns
from profiles_app.models import PolicyKind
from profiles_app.services import versions as version_services
from tests.operations_app.job_support import approved_version, make_platform, managed_vm
from tests.operations_app.maintenance.support import probed


def balance_cpu(**doc) -> dict:
    """A valid CPU-balancing scheduling policy (approve automation); a field given as
    None is left out."""
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
    return {key: value for key, value in document.items() if value is not None}


def scheduling_policy(users, *, author="author", approver="approver", **doc):
    """An approved scheduling policy (``doc`` overrides the document's fields)."""
    version = version_services.policy_create(
        user=users[author], document=balance_cpu(**doc), kind=PolicyKind.SCHEDULING
    )
    version = version_services.version_submit(user=users[author], version=version)
    return version_services.version_approve(user=users[approver], version=version).policy


def busy(vm, percent):
    VMMetricSample.objects.create(
        vm=vm, at=timezone.now() - timedelta(minutes=1), cpu_percent=percent
    )


def hot_fleet(
    users, monkeypatch, *, vms=("big", "small"), loads=(100, 70), target_cpus: int = 2
) -> dict:
    """lab-a (2 CPUs) runs ``vms`` at ``loads`` percent of their one vCPU; lab-b
    (``target_cpus``) is idle. Every dry run goes ahead live."""
    a = probed(make_platform("lab-a"), cpus=2)
    b = probed(make_platform("lab-b"), cpus=target_cpus)
    web = approved_version(users, "web", flags=("Testing",))
    rows = {}
    for name, load in zip(vms, loads, strict=True):
        rows[name] = managed_vm(web, a, name, vcpus=1, memory_mib=512)
        busy(rows[name], load)

    def dry_run(self, vm, host):
        return DryRunVerdict(True, path="live", reason="running, no changes")

    monkeypatch.setattr(MoveDryRuns, "dry_run", dry_run)
    return {"a": a, "b": b, "web": web, **rows}
