"""Snapshot jobs: take one (``snapshot``) and return to one (``rollback``).

Snapshots are libvirt *internal* snapshots: stored in the VM's qcow2 files, with the
guest's memory when it runs (QEMU pauses it while RAM is written), so returning to one
brings back the running guest. They need every writable disk to be qcow2 (clones are).

A rollback first keeps the current state as a ``before_rollback`` snapshot, then
reverts and checks the VM answers as it did when the snapshot was taken. If anything
fails after the revert, the VM is returned to that safety snapshot. Retention keeps
the newest ``VMPERSONA_SNAPSHOT_RETENTION`` snapshots per VM and deletes older ones.
"""

from __future__ import annotations

from operations_app import hypervisor as hv
from operations_app.models import ManagedVM, SnapshotOrigin, VMSnapshot, VMState
from operations_app.runners.base import Runner, Step, StepFailed
from operations_app.runners.watch import HealthWatch, watch_settings
from operations_app.services import snapshots as snapshot_services
from operations_app.services.inventory import inventory_vm_seen
from operations_app.services.platforms import platform_connect
from operations_app.services.volume_secrets import volume_secrets_supply

AGENT_TIMEOUT = 300


class _SnapshotJob(Runner):
    def _conn(self) -> hv.Hypervisor:
        return platform_connect(self.job.platform, timeout=60)

    def _vm(self) -> ManagedVM:
        return ManagedVM.objects.select_related("platform").get(pk=self.vm_id)

    def take(self, conn: hv.Hypervisor, origin: str, description: str) -> VMSnapshot:
        job, vm = self.job, self._vm()
        name = snapshot_services.snapshot_name_for(job, origin)
        state = conn.domains.state(job.vm_name)
        try:
            info = conn.snapshots.create(
                job.vm_name,
                name,
                mode="internal",
                description=description or None,
                labels={"job": str(job.pk), "origin": str(origin)},
            )
        except hv.Unsupported as exc:
            raise StepFailed(f"{job.vm_name} cannot be snapshotted here: {exc}") from exc
        return snapshot_services.snapshot_record(
            vm=vm,
            job=job,
            name=info.name,
            kind=info.kind,
            with_memory=info.has_memory,
            vm_state=state.value,
            origin=origin,
            description=description,
        )

    def step_retention(self) -> str:
        vm = self._vm()
        keep_name = (self.job.params or {}).get("snapshot")
        old = [
            s for s in snapshot_services.snapshots_beyond_retention(vm=vm) if s.name != keep_name
        ]
        if not old:
            return "nothing beyond the retention"
        deleted = []
        with self._conn() as conn:
            for snap in old:
                try:
                    conn.snapshots.delete(self.job.vm_name, snap.name)
                    reason = f"retention (job #{self.job.pk})"
                except hv.NotFound:
                    reason = "no longer in libvirt"
                snapshot_services.snapshot_mark_removed(snapshots=[snap], reason=reason)
                deleted.append(snap.name)
        return "deleted beyond the retention: " + ", ".join(deleted)


class SnapshotRunner(_SnapshotJob):
    def steps(self) -> list[Step]:
        return [
            Step("snapshot", "Take the snapshot", self.step_snapshot, 3),
            Step("retention", "Delete snapshots beyond the retention", self.step_retention, 1),
        ]

    def step_snapshot(self) -> str:
        with self._conn() as conn:
            if not conn.domains.exists(self.job.vm_name):
                raise StepFailed(f"{self.job.vm_name} does not exist on {self.job.platform.name}.")
            snap = self.take(
                conn, SnapshotOrigin.MANUAL, (self.job.params or {}).get("description", "")
            )
        self.result_update(snapshot=snap.name, snapshot_id=snap.pk)
        memory = "with memory" if snap.with_memory else "disks only"
        return f"snapshot {snap.name} ({snap.kind}, {memory}, VM {snap.vm_state})"

    def rollback(self) -> list[str]:
        name = (self.job.result or {}).get("snapshot")
        if not name:
            return []
        try:
            with self._conn() as conn:
                conn.snapshots.delete(self.job.vm_name, name)
        except hv.NotFound:
            pass
        except hv.HypervisorError as exc:
            return [f"snapshot {name}: {exc}"]
        snapshot_services.snapshot_mark_removed(
            snapshots=VMSnapshot.objects.filter(job=self.job), reason="its job failed"
        )
        return []

    def success_message(self) -> str:
        return f"Snapshot {(self.job.result or {}).get('snapshot')} of {self.job.vm_name} taken."


class RollbackRunner(_SnapshotJob):
    def steps(self) -> list[Step]:
        return [
            Step("check", "Find the snapshot", self.step_check, 1),
            Step("safety", "Keep the current state as a snapshot", self.step_safety, 2),
            Step("revert", "Return to the snapshot", self.step_revert, 2),
            Step("verify", "Check the VM as the snapshot left it", self.step_verify, 2),
            *(
                [Step("watch", "Watch the VM's health", self.step_watch, 2)]
                if watch_settings(self._profile_document()).period_s
                else []
            ),
            Step("retention", "Delete snapshots beyond the retention", self.step_retention, 1),
        ]

    def _profile_document(self) -> dict | None:
        if self.job.vm_id is None:
            return None
        vm = ManagedVM.objects.filter(pk=self.job.vm_id).select_related("profile_version").first()
        return vm.profile_version.document if vm and vm.profile_version else None

    def step_watch(self) -> str:
        """An in-place change is watched like a clone: a failing VM returns to the state
        kept before the rollback (``rollback``)."""
        if self._snapshot().vm_state != hv.DomainState.RUNNING.value:
            return "the VM was returned to a stopped state: nothing to watch"
        with self._conn() as conn:
            return HealthWatch(
                self, conn=lambda: conn, document=self._profile_document() or {}
            ).run()

    def _snapshot(self) -> VMSnapshot:
        params = self.job.params or {}
        snapshot_id = params.get("snapshot_id")
        snap = (
            VMSnapshot.objects.filter(pk=snapshot_id, vm_id=self.vm_id).first()
            if snapshot_id is not None
            else None
        )
        if snap is None or snap.removed_at is not None:
            raise StepFailed(
                f"Snapshot {params.get('snapshot')} is no longer kept.", check="snapshot"
            )
        return snap

    def step_check(self) -> str:
        snap = self._snapshot()
        with self._conn() as conn:
            try:
                info = conn.snapshots.get(self.job.vm_name, snap.name)
            except hv.NotFound as exc:
                snapshot_services.snapshot_mark_removed(
                    snapshots=[snap], reason="no longer in libvirt"
                )
                raise StepFailed(
                    f"Snapshot {snap.name} is no longer in libvirt.", check="snapshot"
                ) from exc
        return f"{snap.name}: taken {snap.created_at:%Y-%m-%d %H:%M:%S}, VM {info.state}"

    def step_safety(self) -> str:
        if (self.job.result or {}).get("safety"):
            return "already kept"
        with self._conn() as conn:
            snap = self.take(
                conn,
                SnapshotOrigin.BEFORE_ROLLBACK,
                f"state before the rollback to {self._snapshot().name} (job #{self.job.pk})",
            )
        self.result_update(safety=snap.name)
        return f"current state kept as {snap.name}"

    def _supply_secrets(self, conn: hv.Hypervisor) -> None:
        """A revert to a running state starts the VM: its volume secrets must be there
        (they are ephemeral and gone if the host restarted)."""
        supplied = volume_secrets_supply(conn, self.job.vm_name)
        for path in supplied.supplied:
            self.log(f"secret of {path} supplied again from the key store")
        for problem in supplied.problems:
            self.log(problem, level="warning")

    def step_revert(self) -> str:
        snap = self._snapshot()
        with self._conn() as conn:
            self._supply_secrets(conn)
            self.result_update(reverted=True)
            conn.snapshots.revert(self.job.vm_name, snap.name)
        return f"returned to {snap.name}"

    def step_verify(self) -> str:
        snap = self._snapshot()
        name = self.job.vm_name
        with self._conn() as conn:
            state = conn.domains.state(name)
            expected_running = snap.vm_state == hv.DomainState.RUNNING.value
            if expected_running and state != hv.DomainState.RUNNING:
                raise StepFailed(f"{name} is {state.value}, not running as in {snap.name}.")
            if expected_running:
                try:
                    conn.agent.wait_for_agent(name, timeout=AGENT_TIMEOUT)
                except hv.HypervisorError as exc:
                    raise StepFailed(f"The guest agent of {name} does not answer: {exc}") from exc
            meta = conn.domains.get_metadata(name)
        vm = self._vm()
        if meta is None or (vm.content_hash and meta.content_hash != vm.content_hash):
            raise StepFailed(
                f"{name}'s definition after the revert does not carry its profile's metadata.",
                check="/",
            )
        inventory_vm_seen(
            vm_id=vm.pk,
            state=VMState.RUNNING if state == hv.DomainState.RUNNING else VMState.SHUTOFF,
        )
        return f"{name} is {state.value}" + (
            ", its guest agent answers" if expected_running else ""
        )

    def rollback(self) -> list[str]:
        result = self.job.result or {}
        safety = result.get("safety")
        if not safety:
            return []
        try:
            with self._conn() as conn:
                if result.get("reverted"):
                    self._supply_secrets(conn)
                    conn.snapshots.revert(self.job.vm_name, safety)
                    self.log(f"returned to the state before the rollback ({safety})")
                else:
                    conn.snapshots.delete(self.job.vm_name, safety)
                    snapshot_services.snapshot_mark_removed(
                        snapshots=VMSnapshot.objects.filter(job=self.job, name=safety),
                        reason="its rollback did not go ahead",
                    )
        except hv.HypervisorError as exc:
            return [f"returning to {safety}: {exc}"]
        return []

    def success_message(self) -> str:
        return (
            f"{self.job.vm_name} rolled back to {(self.job.params or {}).get('snapshot')}; "
            f"the state before is kept as {(self.job.result or {}).get('safety')}."
        )
