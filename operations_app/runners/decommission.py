"""Decommission: remove a VM with its disks, volumes, secrets, filter and leases.

What belongs to the VM is read from libvirt (its disks and their secrets, its filter)
and from the resources of the job that cloned it; nothing outside that is touched.
A decommission cannot be rolled back: a failure leaves what is left listed on the job.
"""

from __future__ import annotations

from operations_app import hypervisor as hv
from operations_app.models import ResourceKind
from operations_app.runners.base import Runner, Step, StepFailed
from operations_app.services.inventory import inventory_vm_gone
from operations_app.services.platforms import platform_connect
from operations_app.services.resources import (
    resource_kinds,
    resource_track,
    resources_adopt_from_clone,
    resources_left,
    resources_mark_removed_with_vm,
    resources_remove,
)
from operations_app.services.snapshots import snapshots_gone_with_domain


class DecommissionRunner(Runner):
    def steps(self) -> list[Step]:
        return [
            Step("inventory", "List what belongs to the VM", self.step_inventory, 1),
            Step("stop", "Stop the VM", self.step_stop, 1),
            Step("remove", "Remove the domain, volumes, secrets and filter", self.step_remove, 2),
        ]

    def _conn(self) -> hv.Hypervisor:
        return platform_connect(self.job.platform, timeout=60)

    def step_inventory(self) -> str:
        job = self.job
        with self._conn() as conn:
            if not conn.domains.exists(job.vm_name):
                return f"domain {job.vm_name} is already gone"
            spec = conn.domains.spec(job.vm_name, inactive=True)
            meta = conn.domains.get_metadata(job.vm_name)
            if meta is None:
                raise StepFailed(
                    f"{job.vm_name} was not made by this product (no persona metadata); it is left alone."
                )
            for disk in spec.disks:
                if disk.device != "disk" or disk.readonly:
                    continue
                path = disk.path
                pool = disk.pool
                volume = disk.volume
                if path and not volume:
                    try:
                        info = conn.storage.volume_info_by_path(path)
                        pool, volume = info.pool, info.name
                    except hv.NotFound:
                        continue
                if volume:
                    resource_track(
                        job=job,
                        platform=job.platform,
                        kind=ResourceKind.VOLUME,
                        identifier=volume,
                        pool=pool,
                    )
            filters = {i.filter for i in spec.interfaces if i.filter}
            for name in filters:
                resource_track(
                    job=job, platform=job.platform, kind=ResourceKind.NWFILTER, identifier=name
                )
        # Whatever the clone job recorded and handed over to the VM.
        resources_adopt_from_clone(job=job)
        # The domain goes first when removing (resources are removed newest first).
        resource_track(
            job=job, platform=job.platform, kind=ResourceKind.DOMAIN, identifier=job.vm_name
        )
        kinds = resource_kinds(job=job)
        return f"{len(kinds)} item(s): " + ", ".join(sorted(set(kinds)))

    def step_stop(self) -> str:
        with self._conn() as conn:
            if (
                conn.domains.exists(self.job.vm_name)
                and conn.domains.state(self.job.vm_name).active
            ):
                conn.domains.shutdown(self.job.vm_name, timeout=30)
                return "stopped"
        return "not running"

    def step_remove(self) -> str:
        # The domain was recorded last so it is removed first (its disks are then free).
        leftovers = resources_remove(job=self.job)
        if leftovers:
            raise StepFailed("Could not remove: " + "; ".join(leftovers))
        if self.job.vm_id:
            inventory_vm_gone(vm_id=self.job.vm_id)
            snapshots_gone_with_domain(
                vm_id=self.job.vm_id,
                platform_id=self.job.platform_id,
                reason=f"removed with the VM (job #{self.job.pk})",
            )
        resources_mark_removed_with_vm(vm_name=self.job.vm_name, at=self.job.created_at)
        return "domain, volumes, secrets and filter removed"

    def rollback(self) -> list[str]:
        # Nothing to restore: report what is still there.
        return [f"{r.kind} {r.identifier}" for r in resources_left(job=self.job)]

    def on_success(self) -> None:
        pass
