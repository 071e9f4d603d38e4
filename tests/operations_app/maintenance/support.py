"""Helpers for the host-maintenance tests: a small fleet on libvirt's test driver with
host facts recorded as a probe would, and a dry run answered from a table."""

from __future__ import annotations

from operations_app.models import Platform, PlatformStatus
from operations_app.placement.evacuation import DryRunVerdict
from operations_app.services import maintenance as maintenance_services
from tests.operations_app.job_support import approved_version, make_platform, managed_vm

GIB = 1024**3


def probed(platform: Platform, *, cpus: int = 4, memory_mib: int = 4096, pool_gib: int = 100):
    """Record capabilities on ``platform`` as a probe of such a host would."""
    caps = {
        "cpu_count": cpus,
        "memory_mib": memory_mib,
        "free_memory_mib": memory_mib,
        "pools": [
            {
                "name": platform.storage_pool,
                "capacity_bytes": pool_gib * GIB,
                "allocation_bytes": 0,
                "available_bytes": pool_gib * GIB,
            }
        ],
    }
    Platform.objects.filter(pk=platform.pk).update(capabilities=caps, status=PlatformStatus.OK)
    platform.refresh_from_db()
    return platform


def fleet(users, *, hosts=("lab-a", "lab-b"), vms=2, memory_mib=512):
    """Probed platforms ``hosts``; ``vms`` managed VMs (web-1, web-2, ...) on the first."""
    rows = {name: probed(make_platform(name)) for name in hosts}
    version = approved_version(users, "web", flags=("Testing",))
    first = rows[hosts[0]]
    out = {"platforms": rows, "version": version, "vms": []}
    for i in range(1, vms + 1):
        out["vms"].append(managed_vm(version, first, f"web-{i}", vcpus=1, memory_mib=memory_mib))
    return out


def answer_dry_runs(monkeypatch, table: dict | None = None):
    """Every dry run goes ahead live unless ``table[(vm, host)]`` says otherwise (a
    ``DryRunVerdict``); the questions asked are recorded in the returned list."""
    asked: list[tuple[str, str]] = []

    def dry_run(self, vm, host):
        asked.append((vm.name, host.name))
        return (table or {}).get(
            (vm.name, host.name), DryRunVerdict(True, path="live", reason="running, no changes")
        )

    monkeypatch.setattr(maintenance_services._Planner, "dry_run", dry_run)
    return asked
