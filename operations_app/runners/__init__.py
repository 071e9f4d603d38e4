"""Runners turn a job into a list of small, named, idempotent steps."""

from __future__ import annotations


def runner_for(job):
    from operations_app.models import JobKind

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
    raise ValueError(f"No runner for jobs of kind {job.kind}")
