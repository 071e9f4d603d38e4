"""Migrate: move a managed VM from its platform to another one, in eight steps (nine with a health watch).

1. snapshot: record the source's restore point (its persistent definition and whether
   it ran). The move never writes to the source's disks: a live migration only reads
   them, and the source definition is kept (``undefine_source`` off) until the target is
   verified, so reverting means starting that definition again. A libvirt snapshot would
   not help here: an internal one is impossible with LUKS data volumes, and an external
   one would put an overlay under the disks the migration copies;
2. retrieve the VPPD version the VM conforms to and check the domain's metadata carries
   the same content hash;
3. adapt: the adaptation plan (``operations_app.adaptation.move.plan_move``, which the
   dry run shares): unresolved blocking differences stop the job here, before anything
   is made, with the source untouched. The path is chosen here: live when the plan
   changes no hardware, cold otherwise;
4. provision on the target: nwfilter, root disk (linked clone of the target's copy of
   the base image), data volumes (LUKS with the same key from the key store, so a new
   libvirt secret on the target). Each is recorded as a job resource on the target;
5. restore: guest commands meant for before the cutover, then a live peer-to-peer
   migration copying all storage into the pre-created volumes, with a destination XML
   whose disks and secrets are the target's (or the cold path below);
6. adapt_guest: the guest commands meant for after the move, on the target;
7. verify against the VPPD on the target (the clone's itemised checks, ``VMRunner``);
   then, when the profile asks for one, the health watch (``runners.watch``): the VM
   runs on the target and is probed for the watch period while the source stays
   defined and stopped, as it was left;
8. cutover: only now is the source's definition, its volumes, secrets and filter
   removed and the inventory moved to the target.

Any failure before the cutover rolls back (a failed health watch too): a VM already running on the target is moved
back live into the source's volumes (else the source is started again from its disks,
which the move did not change), then the target is torn down.

The cold path (the target needs hardware changes a running guest cannot take, such as
another machine type, or the VM is not running): guest commands meant for before the
cutover, a clean shutdown of the source (its disks are then consistent and stay as they
are: the restore point), each volume copied as stored through libvirt streams (a
qcow2 overlay re-pointed at the target's copy of its base, LUKS volumes still encrypted
under the same key), the adapted definition defined and started on the target. A
rollback tears the target down and starts the source again from its unchanged disks.
"""

from __future__ import annotations

from operations_app import hypervisor as hv
from operations_app.adaptation.move import plan_move
from operations_app.models import BaseImageLocation, ResourceKind
from operations_app.placement import Plan
from operations_app.runners.base import Step, StepFailed
from operations_app.runners.transfer import AGENT_TIMEOUT, TwoHostRunner
from operations_app.services import events as event_services
from operations_app.services.inventory import inventory_vm_moved
from operations_app.services.jobs import job_provisioned_plan
from operations_app.services.platforms import platform_connect
from operations_app.services.resources import resource_held, resource_is_tracked, resource_release
from operations_app.services.volume_secrets import volume_secrets_supply
from vmpersona.units import ms_text


class MigrateRunner(TwoHostRunner):
    """``job.platform`` is the target, ``job.source_platform`` the source, ``job.vm`` the VM."""

    def steps(self) -> list[Step]:
        return [
            Step("snapshot", "Record the source's restore point", self.step_snapshot, 1),
            Step("retrieve", "Retrieve the profile version", self.step_retrieve, 1),
            Step("adapt", "Plan the adaptation to the target", self.step_adapt, 1),
            Step("provision", "Provision on the target platform", self.step_provision, 2),
            Step("restore", "Move the VM to the target", self.step_restore, 4),
            Step("adapt_guest", "Adapt the guest on the target", self.step_adapt_guest, 1),
            Step(
                "verify", "Verify the VM against the profile", self.step_verify, 3, verifying=True
            ),
            *self.watch_steps(),
            Step("cutover", "Remove the source and update the inventory", self.step_cutover, 1),
        ]

    # ----------------------------------------------------------------- 1 snapshot

    def step_snapshot(self) -> str:
        job, name = self.job, self.job.vm_name
        if (job.result or {}).get("restore_point"):
            return "restore point already recorded"
        if not self.src.domains.exists(name):
            raise StepFailed(f"{name} does not exist on {self.source.name}.")
        info = self.src.domains.lookup(name)
        running = info.state.value == "running"
        self.result_update(
            restore_point={
                "platform": self.source.name,
                "uuid": info.uuid,
                "state": info.state.value,
                "running": running,
                "xml": self.src.domains.xml(name, inactive=True),
            }
        )
        return (
            f"{name} is {info.state.value} on {self.source.name}; its definition is kept "
            "as the restore point (the move only reads the source disks)"
        )

    # ----------------------------------------------------------------- 2 retrieve

    def step_retrieve(self) -> str:
        job, version = self.job, self.version
        if version is None:
            raise StepFailed(f"{job.vm_name} conforms to no profile version.", check="/")
        version.refresh_from_db()
        meta = self.src.domains.get_metadata(job.vm_name)
        if meta is None or meta.content_hash != version.content_hash:
            raise StepFailed(
                f"The domain's metadata ({(meta.content_hash or '')[:12] if meta else 'none'}) does not "
                f"match {version.label} ({version.content_hash[:12]}).",
                check="/",
            )
        if job.content_hash and job.content_hash != version.content_hash:
            raise StepFailed(
                f"{version.label} changed since the migration was requested.", check="/"
            )
        self.document = version.document
        self.load_state()
        if self._image is None:
            raise StepFailed("The VM's base image is not registered.", check="/base_image_id")
        if not BaseImageLocation.objects.filter(image=self.image, platform=job.platform).exists():
            raise StepFailed(
                f"Base image '{self.image.image_id}' is not available on {job.platform.name}.",
                check="/base_image_id",
            )
        plan = job_provisioned_plan(job=job)
        if not plan:
            raise StepFailed(f"No record of how {job.vm_name} was provisioned was found.")
        self.plan = Plan(**plan)
        self.plan.pool = job.platform.storage_pool
        self.plan.pool_path = self.conn.storage.pool_info(self.plan.pool).path or ""
        self.save_plan()
        return f"{version.label} (hash {version.content_hash[:12]}) matches the domain's metadata"

    # ----------------------------------------------------------------- 3 adaptation plan

    def step_adapt(self) -> str:
        self.load_state()
        job = self.job
        move = plan_move(
            src=self.src,
            tgt=self.conn,
            vm_name=job.vm_name,
            source=self.source,
            target=job.platform,
            fixes=self.document.get("fixes", []),
            requested=(job.params or {}).get("mode", "auto"),
            running=bool(job.result["restore_point"]["running"]),
            pool_path=self.plan.pool_path,
        )
        self.result_update(adaptation=move["adaptation"], disks=move["disks"])
        if not move["adaptation"]["ok"]:
            raise StepFailed(
                "Unresolved differences block the migration: "
                + "; ".join(move["adaptation"]["problems"]),
                check="adaptation",
            )
        if move["refused"]:
            raise StepFailed(move["refused"], check="mode")
        path, why = move["path"], move["path_reason"]
        self.result_update(
            path=path,
            path_reason=why,
            requested_mode=move["requested_mode"],
            adapted_xml=move["adapted_xml"] if path == "cold" else "",
            xml_diff=move["xml_diff"],
        )
        self.log(f"path: {path} ({why})")
        fixes = ", ".join(f["fix_id"] for f in move["adaptation"]["fixes"]) or "none"
        return (
            f"{len(move['adaptation']['differences'])} difference(s), fixes: {fixes}; {path}: {why}"
        )

    # ----------------------------------------------------------------- 4 provision

    def step_provision(self) -> str:
        from profiles_app.services.keys import volume_key_reveal

        self.load_state()
        plan, job = self.plan, self.job
        if self.conn.domains.exists(job.vm_name):
            raise StepFailed(f"A domain named {job.vm_name} already exists on {job.platform.name}.")
        made = []
        if plan.filter_name and not self.conn.nwfilters.exists(plan.filter_name):
            self.track(ResourceKind.NWFILTER, plan.filter_name)
            self.conn.nwfilters.define(self.firewall_spec())
            made.append(f"filter {plan.filter_name}")
        location = BaseImageLocation.objects.get(image=self.image, platform=job.platform)
        keys = {v["volume"]: v.get("key_ref") for v in plan.volumes}
        secrets = dict(job.result.get("secrets") or {})
        for disk in job.result["disks"].values():
            name = disk["volume"]
            if self.conn.storage.volume_exists(plan.pool, name):
                if not resource_is_tracked(job=job, platform=job.platform, identifier=name):
                    raise StepFailed(f"Volume {name} already exists on {job.platform.name}.")
                continue
            self.track(ResourceKind.VOLUME, name, pool=plan.pool)
            if name == plan.root_volume:
                self.conn.storage.volume_create_linked_clone(
                    plan.pool,
                    name,
                    base_path=location.path,
                    base_format=self.image.format,
                    capacity_bytes=disk["capacity_bytes"],
                )
            elif disk["encrypted"]:
                key_ref = keys.get(name)
                if not key_ref:
                    raise StepFailed(f"No key is recorded for the encrypted volume {name}.")
                info = self.conn.storage.volume_create_encrypted(
                    plan.pool,
                    name,
                    capacity_bytes=disk["capacity_bytes"],
                    passphrase=volume_key_reveal(name=key_ref).encode(),
                    format=disk["format"],
                    description=f"volume {name} of {job.vm_name}",
                )
                self.track(ResourceKind.SECRET, info.secret_uuid or "", volume=info.path)
                if disk["secret_uuid"]:
                    secrets[disk["secret_uuid"]] = info.secret_uuid
            else:
                self.conn.storage.volume_create(
                    plan.pool, name, capacity_bytes=disk["capacity_bytes"], format=disk["format"]
                )
            made.append(f"volume {name}")
        self.result_update(secrets=secrets)
        return ", ".join(made) or "nothing to make"

    # ----------------------------------------------------------------- 5 restore

    def step_restore(self) -> str:
        self.load_state()
        job, name = self.job, self.job.vm_name
        if self.conn.domains.exists(name) and self.conn.domains.state(name).active:
            return "already running on the target"
        if job.result.get("path") == "cold":
            return self._restore_cold()
        return self._restore_live()

    def step_adapt_guest(self) -> str:
        after = self._guest_commands(self.conn, "after")
        self.result_update(guest_commands_after=after)
        return ", ".join(after) or "no guest commands after the move"

    # ----------------------------------------------------------------- 7 cutover

    def step_cutover(self) -> str:
        job, name, vm_id = self.job, self.job.vm_name, self.vm_id
        info = self.conn.domains.lookup(name)
        # From here on the target is the VM: it is never rolled back again.
        self.result_update(cut_over=True)
        resource_release(job=job)  # what the job made on the target now belongs to the VM
        inventory_vm_moved(vm_id=vm_id, platform=job.platform, info=info)
        left = self.remove_source()
        if left:
            raise StepFailed(
                f"{name} runs on {job.platform.name}, but the source could not be fully removed: "
                + "; ".join(left)
            )
        return f"{name} now runs on {job.platform.name} (uuid {info.uuid}); source removed"

    # ----------------------------------------------------------------- outcome

    def on_success(self) -> None:
        pass  # the cutover step did it

    def rollback(self) -> list[str]:
        self.close()
        if (self.job.result or {}).get("cut_over"):
            # The VM runs on the target; only what is left of the source is reported.
            return self.remove_source()
        point = (self.job.result or {}).get("restore_point")
        stuck = self._settle_transfer()
        # A cold move never changed the source's disks: it starts again from them.
        cold = (self.job.result or {}).get("path") == "cold"
        moved_back = self._migrate_back() if point and not cold else False
        leftovers = super().rollback()  # the target's resources
        if stuck:
            leftovers.append(stuck)
        if point is None:
            return leftovers
        name, source = self.job.vm_name, self.source
        if not moved_back and resource_held(
            job=self.job, platform=self.job.platform, kind=ResourceKind.DOMAIN
        ):
            # The VM may still run on the target (which could not be reached to stop
            # it): starting the source as well would run two copies on one identity.
            leftovers.append(
                f"{name} is not restarted on {source.name} while it may still run on "
                f"{self.job.platform.name}; the reaper retries once that host answers"
            )
            return leftovers
        try:
            with platform_connect(source, timeout=60) as src:
                if not src.domains.exists(name):
                    leftovers.append(f"{name} is no longer defined on {source.name}")
                elif point["running"] and not src.domains.state(name).active:
                    # its volume secrets are ephemeral: gone if the source host restarted
                    for problem in volume_secrets_supply(src, name).problems:
                        leftovers.append(problem)
                    src.domains.start(name)
                    event_services.job_log(
                        job=self.job,
                        level="warning",
                        message=f"{name} restarted on {source.name} from its disks",
                    )
        except hv.HypervisorError as exc:
            leftovers.append(f"{name} could not be restarted on {source.name}: {exc}")
        if moved_back:
            event_services.job_log(job=self.job, message=f"{name} moved back live to {source.name}")
        if not leftovers and (self.job.result or {}).get("watch") and point["running"]:
            leftovers += self._check_back_on_source()
        return leftovers

    def _check_back_on_source(self) -> list[str]:
        """After a failed health watch: the VM answers on the source as before (the same
        probes, once), recorded with the job."""
        name, source = self.job.vm_name, self.source
        try:
            with platform_connect(source, timeout=60) as src:
                from operations_app.guest import GuestProvisioner

                guest = GuestProvisioner(src, name)
                guest.wait_ready(timeout=AGENT_TIMEOUT)
                results = guest.health_round(self.version.document)
        except hv.HypervisorError as exc:
            return [f"{name} does not answer on {source.name} after the revert: {exc}"]
        except Exception as exc:  # noqa: BLE001 - a guest error is reported, not raised
            return [f"{name} could not be checked on {source.name} after the revert: {exc}"]
        failed = [r for r in results if not r.passed]
        event_services.job_event(
            job=self.job,
            kind="health",
            where=source.name,
            passed=not failed,
            failed=[r.name for r in failed],
            checks=[
                {
                    "name": r.name,
                    "pointer": r.pointer,
                    "expected": r.expected,
                    "actual": r.actual,
                    "passed": r.passed,
                }
                for r in results
            ],
        )
        event_services.job_log(
            job=self.job,
            level="warning" if failed else "info",
            message=f"{name} is back on {source.name}: {len(results) - len(failed)}/{len(results)} "
            "health checks pass"
            + (f" (failing: {', '.join(r.name for r in failed)})" if failed else ""),
        )
        self.result_update(back_on_source={"checks": len(results), "failed": len(failed)})
        return []

    def success_message(self) -> str:
        summary = (self.job.result or {}).get("verification", {})
        mig = (self.job.result or {}).get("migration", {})
        return (
            f"{self.job.vm_name} migrated ({mig.get('path', '?')}) from "
            f"{self.source.name} to {self.job.platform.name}, downtime "
            f"{ms_text(mig.get('downtime_ms'), unknown='?')}, verified ({summary.get('passed', '?')}/"
            f"{summary.get('checks', '?')} checks)."
        )


__all__ = ["MigrateRunner"]
