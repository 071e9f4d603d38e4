"""Moving a VM's domain and disks between two hosts, for ``MigrateRunner``.

``TwoHostRunner`` adds the source platform (``job.source_platform``) to a ``VMRunner``
(whose ``conn`` is the target) and the moves themselves: live (a peer-to-peer migration
copying all storage), cold (volumes copied through libvirt streams, the adapted
definition started on the target), back (a VM already on the target moved back live into
the source's volumes during a rollback), settling a migration a dead worker left
running, and removing what is left of the source after the cutover.
"""

from __future__ import annotations

import time

from operations_app import hypervisor as hv
from operations_app.models import BaseImageLocation, OperationJob, Platform, ResourceKind
from operations_app.runners.base import Cancelled, StepFailed
from operations_app.runners.vm import VMRunner
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from operations_app.services.platforms import platform_connect
from operations_app.services.resources import resources_gone_with_source
from vmpersona.units import duration_text, ms_text, size_text

AGENT_TIMEOUT = 300
MIGRATION_TIMEOUT = 600
# How long a migration libvirt carries on after its worker died may run before the
# rollback aborts it (letting it end is gentler than cancelling a disk mirror).
ORPHANED_MIGRATION_GRACE = 300
SHUTDOWN_TIMEOUT = 120
PROGRESS_EVERY_S = 1.0


class TwoHostRunner(VMRunner):
    """``job.platform`` is the target, ``job.source_platform`` the source."""

    def __init__(self, job: OperationJob) -> None:
        super().__init__(job)
        self._src: hv.Hypervisor | None = None

    @property
    def source(self) -> Platform:
        """The platform the VM moves from."""
        if self.job.source_platform is None:
            raise StepFailed("The migration names no source platform.")
        return self.job.source_platform

    @property
    def src(self) -> hv.Hypervisor:
        if self._src is None:
            self._src = platform_connect(self.source, timeout=60)
        return self._src

    def close(self) -> None:
        super().close()
        if self._src is not None:
            self._src.close()
            self._src = None

    def _guest_commands(self, conn: hv.Hypervisor, when: str) -> list[str]:
        done = []
        for fix in (self.job.result.get("adaptation") or {}).get(f"guest_commands_{when}", []):
            action = fix.get("action") or {}
            argv = list(action.get("command") or [])
            if not argv:
                continue
            try:
                res = conn.agent.exec(
                    self.job.vm_name, argv, timeout=float(action.get("timeout") or 60)
                )
            except hv.HypervisorError as exc:
                raise StepFailed(f"Fix {fix.get('fix_id')}: {exc}", check="adaptation") from exc
            expected = int(action.get("expect_exit_code", 0))
            if res.exit_code != expected:
                raise StepFailed(
                    f"Fix {fix.get('fix_id')} exited {res.exit_code} (expected {expected}).",
                    check="adaptation",
                )
            done.append(str(fix.get("fix_id")))
        return done

    def _progress_reporter(self, what: str):
        """A callback for long copies: heartbeat, a progress event about once a second,
        and True (stop) when the job was cancelled. A copy's end (``done`` reaching
        ``total``, or ``final``) is always reported, before anything is logged about it:
        the page's transfer line is never behind its log."""
        last = [0.0]
        sent: list[tuple | None] = [None]  # the figures of the last event sent

        def report(done: int | None, total: int | None, *, final: bool = False, **extra) -> bool:
            now = time.monotonic()
            ended = final or (
                isinstance(done, int | float)
                and isinstance(total, int | float)
                and 0 < total <= done
            )
            if not ended and now - last[0] < PROGRESS_EVERY_S:
                return False
            if ended and sent[0] == (done, total):
                return False  # this end was reported already
            last[0] = now
            sent[0] = (done, total)
            job_services.job_heartbeat(job=self.job)
            event_services.job_event(
                job=self.job,
                kind="transfer",
                step="restore",
                what=what,
                done_bytes=done,
                total_bytes=total,
                **extra,
            )
            return job_services.job_cancel_requested(job=self.job)

        return report

    def _restore_live(self) -> str:
        job, name = self.job, self.job.vm_name
        before = self._guest_commands(self.src, "before")
        disks = job.result["disks"]
        dest_xml = hv.retarget_disks(
            self.src.domains.xml(name, migratable=True),
            {old: d["path"] for old, d in disks.items() if not d["by_pool"]},
        )
        dest_xml = hv.swap_secrets(dest_xml, job.result.get("secrets") or {})
        dest_xml = hv.swap_pools(
            dest_xml, {d["source_pool"]: self.plan.pool for d in disks.values()}
        )
        self.track(ResourceKind.DOMAIN, name)
        target = job.platform
        dest_uri = target.migration_uri or target.uri
        report = self._progress_reporter("live migration")
        try:
            result = self.src.domains.migrate(
                name,
                dest_uri=dest_uri,
                live=True,
                p2p=True,
                copy_storage_all=True,
                persistent=True,
                undefine_source=False,
                dest_xml=dest_xml,
                migrate_uri=(job.params or {}).get("migrate_uri") or None,
                bandwidth_mibps=(job.params or {}).get("bandwidth_mibps") or None,
                timeout=MIGRATION_TIMEOUT,
                progress=lambda p: report(
                    *p.done_and_total(),
                    memory_bytes=p.memory_processed_bytes,
                    disk_bytes=p.disk_processed_bytes,
                ),
            )
        except hv.OperationAborted as exc:
            raise Cancelled() from exc
        report(
            result.data_processed_bytes,
            result.data_processed_bytes,
            final=True,
            memory_bytes=result.memory_processed_bytes,
            disk_bytes=result.disk_processed_bytes,
        )
        self.result_update(
            migration={
                "path": "live",
                "why": job.result.get("path_reason", ""),
                "elapsed_ms": result.elapsed_ms,
                "libvirt_job_ms": result.total_ms,
                "downtime_ms": result.downtime_ms,
                "data_processed_bytes": result.data_processed_bytes,
                "memory_processed_bytes": result.memory_processed_bytes,
                "disk_processed_bytes": result.disk_processed_bytes,
            },
            guest_commands_before=before,
        )
        self.guest_call(self.guest().wait_ready, timeout=AGENT_TIMEOUT)
        return (
            f"live migration to {target.name} ({job.result.get('path_reason', '')}): "
            f"{ms_text(result.elapsed_ms)}, downtime {ms_text(result.downtime_ms)}, "
            f"{size_text(result.data_processed_bytes)} moved "
            f"({size_text(result.disk_processed_bytes)} of disk)"
        )

    def _restore_cold(self) -> str:
        job, name, target = self.job, self.job.vm_name, self.job.platform
        result = job.result
        started = time.monotonic()
        before: list[str] = []
        downtime_from = None
        if self.src.domains.exists(name) and self.src.domains.state(name).active:
            before = self._guest_commands(self.src, "before")
            self.log(f"shutting {name} down on {self.source.name}")
            downtime_from = time.monotonic()
            try:
                how = self.src.domains.shutdown(name, timeout=SHUTDOWN_TIMEOUT, force=False)
            except hv.OperationTimeout as exc:
                raise StepFailed(
                    f"{name} did not shut down within {duration_text(SHUTDOWN_TIMEOUT)}; "
                    f"it is left running on {self.source.name}."
                ) from exc
            self.result_update(source_stopped=True)
            self.log(f"source stopped ({how})")
        location = BaseImageLocation.objects.get(image=self.image, platform=target)
        copied = 0
        for disk in result["disks"].values():
            vol = disk["volume"]
            report = self._progress_reporter(f"volume {vol}")
            try:
                size = self.src.storage.volume_copy_to(
                    disk["source_pool"],
                    vol,
                    self.conn.storage,
                    self.plan.pool,
                    vol,
                    backing_path=location.path if vol == self.plan.root_volume else None,
                    progress=report,
                )
            except hv.OperationAborted as exc:
                raise Cancelled() from exc
            copied += size
            report(size, size, final=True)
            self.log(f"copied volume {vol} ({size_text(size)})")
        xml = hv.swap_secrets(result["adapted_xml"], result.get("secrets") or {})
        xml = hv.swap_pools(
            xml, {d["source_pool"]: self.plan.pool for d in result["disks"].values()}
        )
        spec = hv.parse_domain_xml(xml)
        adapted = hv.parse_domain_xml(result["adapted_xml"])
        spec.hotplug_slots = adapted.hotplug_slots
        spec.metadata = adapted.metadata
        self.track(ResourceKind.DOMAIN, name)
        self.conn.domains.define(spec)
        self.conn.domains.start(name)
        self.guest_call(self.guest().wait_ready, timeout=AGENT_TIMEOUT)
        now = time.monotonic()
        self.result_update(
            migration={
                "path": "cold",
                "why": result.get("path_reason", ""),
                "elapsed_ms": int((now - started) * 1000),
                "downtime_ms": int((now - downtime_from) * 1000) if downtime_from else None,
                "data_processed_bytes": copied,
                "memory_processed_bytes": 0,
                "disk_processed_bytes": copied,
            },
            guest_commands_before=before,
        )
        mig = job.result["migration"]
        return (
            f"cold migration to {target.name} ({result.get('path_reason', '')}): "
            f"{ms_text(mig['elapsed_ms'])}, downtime {ms_text(mig['downtime_ms'])}, "
            f"{size_text(copied)} copied"
        )

    def remove_source(self) -> list[str]:
        job, name = self.job, self.job.vm_name
        source = self.source
        left = []
        try:
            if self.src.domains.exists(name):
                self.src.domains.delete(name, missing_ok=True)
        except hv.HypervisorError as exc:
            left.append(f"domain {name} on {source.name}: {exc}")
        for disk in (job.result.get("disks") or {}).values():
            try:
                self.src.storage.volume_delete(
                    disk["source_pool"], disk["volume"], delete_secret=True, missing_ok=True
                )
            except hv.HypervisorError as exc:
                left.append(f"volume {disk['volume']} on {source.name}: {exc}")
        filter_name = self._plan.filter_name if self._plan else None
        if filter_name:
            try:
                self.src.nwfilters.undefine(filter_name, missing_ok=True)
            except hv.HypervisorError as exc:
                left.append(f"nwfilter {filter_name} on {source.name}: {exc}")
        if not left:
            from operations_app.services.snapshots import snapshots_gone_with_domain

            snapshots_gone_with_domain(
                vm_id=self.vm_id,
                platform_id=source.pk,
                reason=f"removed with the source when the VM moved to {job.platform.name} (job #{job.pk})",
            )
            resources_gone_with_source(vm_name=name, platform=source)
        return left

    def _settle_transfer(self) -> str | None:
        """A worker that died mid-migration leaves the source's libvirtd migrating: let
        that end first (aborting it if it runs past ``ORPHANED_MIGRATION_GRACE``), so
        the rollback works on settled domains. Says what is left when libvirt would not
        let go of the domain."""
        job, name = self.job, self.job.vm_name
        try:
            with platform_connect(self.source, timeout=60) as src:
                if not src.domains.exists(name):
                    return None
                outcome = src.domains.settle_job(name, grace_s=ORPHANED_MIGRATION_GRACE)
        except hv.OperationTimeout as exc:
            return (
                f"libvirt on {self.source.name} still holds {name} for the dead "
                f"worker's migration ({exc}); restarting libvirtd there releases it"
            )
        except hv.HypervisorError as exc:
            event_services.job_log(
                job=job,
                level="warning",
                message=f"could not check for a migration in progress: {exc}",
            )
            return None
        if outcome:
            event_services.job_log(
                job=job,
                level="warning",
                message=(
                    f"the migration of {name} libvirt was still running ended on its own"
                    if outcome == "ended"
                    else f"aborted the migration of {name} still running after "
                    f"{ORPHANED_MIGRATION_GRACE} s"
                ),
            )
        return None

    def _migrate_back(self) -> bool:
        """When the VM already runs on the target, move it back live (its memory and
        disks as they are now) into the source's own volumes. False when it did not."""
        job, name = self.job, self.job.vm_name
        source = self.source
        disks = (job.result or {}).get("disks") or {}
        secrets = {new: old for old, new in ((job.result or {}).get("secrets") or {}).items()}
        try:
            with platform_connect(job.platform, timeout=60) as tgt:
                if not tgt.domains.exists(name) or not tgt.domains.state(name).active:
                    return False
                xml = hv.retarget_disks(
                    tgt.domains.xml(name, migratable=True),
                    {d["path"]: old for old, d in disks.items() if not d["by_pool"]},
                )
                source_pools = {d["source_pool"] for d in disks.values() if d["by_pool"]}
                if len(source_pools) == 1:
                    xml = hv.swap_pools(xml, {job.platform.storage_pool: source_pools.pop()})
                tgt.domains.migrate(
                    name,
                    dest_uri=source.migration_uri or source.uri,
                    live=True,
                    p2p=True,
                    copy_storage_all=True,
                    persistent=True,
                    undefine_source=False,
                    dest_xml=hv.swap_secrets(xml, secrets),
                    migrate_uri=(job.params or {}).get("migrate_uri") or None,
                    timeout=MIGRATION_TIMEOUT,
                )
            return True
        except hv.HypervisorError as exc:
            event_services.job_log(
                job=job,
                level="warning",
                message=f"moving {name} back live failed ({exc}); it is restarted from its disks",
            )
            return False


__all__ = ["TwoHostRunner"]
