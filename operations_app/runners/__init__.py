"""Runners turn a job into a list of small, named, idempotent steps.

Loading this package registers each kind's rollback with the reaper, so the reaper (a
service) undoes a dead worker's job the way its runner would without importing runners.
"""

from __future__ import annotations

from operations_app.models import JobKind, OperationJob
from operations_app.runners.base import Runner
from operations_app.services.reaper import register_rollback


def runner_for(job: OperationJob) -> Runner:
    if job.kind == JobKind.CLONE:
        from operations_app.runners.clone import CloneRunner

        return CloneRunner(job)
    if job.kind == JobKind.DECOMMISSION:
        from operations_app.runners.decommission import DecommissionRunner

        return DecommissionRunner(job)
    if job.kind == JobKind.MIGRATE:
        from operations_app.runners.migrate import MigrateRunner

        return MigrateRunner(job)
    if job.kind == JobKind.SNAPSHOT:
        from operations_app.runners.snapshot import SnapshotRunner

        return SnapshotRunner(job)
    if job.kind == JobKind.ROLLBACK:
        from operations_app.runners.snapshot import RollbackRunner

        return RollbackRunner(job)
    if job.kind == JobKind.POWER:
        from operations_app.runners.power import PowerRunner

        return PowerRunner(job)
    raise ValueError(f"No runner for jobs of kind {job.kind}")


def _rollback(job: OperationJob) -> list[str]:
    return runner_for(job).rollback()


# A power job has nothing to undo: its rollback records the state the VM was left in.
for _kind in (JobKind.CLONE, JobKind.MIGRATE, JobKind.SNAPSHOT, JobKind.ROLLBACK, JobKind.POWER):
    register_rollback(_kind, _rollback)
