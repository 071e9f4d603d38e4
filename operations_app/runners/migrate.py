"""Migrate: move a managed VM from its platform to another one (the spec's six steps).

1. snapshot: record the source's restore point (its persistent definition and whether
   it ran). The move never writes to the source's disks: a live migration only reads
   them, and the source definition is kept (``undefine_source`` off) until the target is
   verified, so reverting means starting that definition again. A libvirt snapshot would
   not help here: an internal one is impossible with LUKS data volumes, and an external
   one would put an overlay under the disks the migration copies;
2. retrieve the VPPD version the VM conforms to and check the domain's metadata carries
   the same content hash;
3. adaptation plan (``operations_app.adaptation``): unresolved blocking differences stop
   the job here, before anything is made, with the source untouched. The path is chosen
   here: live when the plan changes no hardware, cold otherwise;
4. provision on the target: nwfilter, root disk (linked clone of the target's copy of
   the base image), data volumes (LUKS with the same key from the key store, so a new
   libvirt secret on the target). Each is recorded as a job resource on the target;
5. restore: guest commands meant for before the cutover, then a live peer-to-peer
   migration copying all storage into the pre-created volumes, with a destination XML
   whose disks and secrets are the target's; then the guest commands meant for after;
6. verification against the VPPD on the target (the clone's itemised checks);
7. cutover: only now is the source's definition, its volumes, secrets and filter
   removed and the inventory moved to the target.

Any failure before the cutover rolls back: a VM already running on the target is moved
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

import posixpath
import time
import xml.etree.ElementTree as ET

from django.utils import timezone

from operations_app import hypervisor as hv
from operations_app.models import (
    BaseImageLocation,
    JobKind,
    JobResource,
    JobStatus,
    OperationJob,
    Platform,
    ResourceKind,
)
from operations_app.runners.base import Cancelled, Step, StepFailed
from operations_app.runners.clone import CloneRunner, Plan
from operations_app.services import events as event_services
from operations_app.services import jobs as job_services
from operations_app.services.inventory import inventory_vm_moved
from operations_app.services.platforms import platform_connect
from operations_app.services.resources import resource_release

AGENT_TIMEOUT = 300
MIGRATION_TIMEOUT = 600
# How long a migration libvirt carries on after its worker died may run before the
# rollback aborts it (letting it end is gentler than cancelling a disk mirror).
ORPHANED_MIGRATION_GRACE = 300
SHUTDOWN_TIMEOUT = 120
PROGRESS_EVERY_S = 1.0
# Differences a live move resolves itself: the disks land in the target's pool.
LIVE_CARRIED = ("storage_pool", "storage_path")


def choose_path(
    *, requested: str, hardware_changes: list[str], source_running: bool
) -> tuple[str, str]:
    """(path, why): ``live`` or ``cold``; raises ``StepFailed`` when the request cannot be met."""
    if requested not in ("auto", "live", "cold"):
        raise StepFailed(f"Unknown migration mode {requested!r}.", check="mode")
    if hardware_changes:
        why = (
            "the target needs changes a live migration cannot make ("
            + "; ".join(hardware_changes)
            + ")"
        )
        if requested == "live":
            raise StepFailed(f"A live migration was requested, but {why}.", check="mode")
        return "cold", why
    if not source_running:
        if requested == "live":
            raise StepFailed(
                "A live migration was requested, but the VM is not running.", check="mode"
            )
        return "cold", "the VM is not running"
    if requested == "cold":
        return "cold", "a cold migration was requested"
    return "live", "no hardware or definition changes beyond disk locations, and the VM is running"


def swap_secrets(xml: str, secrets: dict[str, str]) -> str:
    """The domain XML with each disk encryption secret UUID replaced by its target's."""
    if not secrets:
        return xml
    root = ET.fromstring(xml)
    for secret in root.findall("devices/disk/encryption/secret"):
        old = secret.get("uuid")
        if old in secrets:
            secret.set("uuid", secrets[old])
    for secret in root.findall("devices/disk/source/encryption/secret"):
        old = secret.get("uuid")
        if old in secrets:
            secret.set("uuid", secrets[old])
    return ET.tostring(root, encoding="unicode")


def swap_pools(xml: str, pools: dict[str, str]) -> str:
    """The domain XML with each volume disk's pool renamed (source pool -> target pool)."""
    pools = {old: new for old, new in pools.items() if old and new and old != new}
    if not pools:
        return xml
    root = ET.fromstring(xml)
    for source in root.findall("devices/disk/source"):
        pool = source.get("pool")
        if source.get("volume") and pool in pools:
            source.set("pool", pools[pool])
    return ET.tostring(root, encoding="unicode")


def disk_map(src: hv.Hypervisor, vm_name: str, pool_path: str) -> dict[str, dict]:
    """Source disk (its path, or ``pool/volume``) -> where and what it becomes on the
    target (a volume of the same name in the target's pool at ``pool_path``)."""
    out = {}
    for disk in src.domains.spec(vm_name, inactive=True).disks:
        if disk.device != "disk" or disk.readonly:
            continue
        if disk.path:
            info = src.storage.volume_info_by_path(disk.path)
            key = disk.path
        elif disk.pool and disk.volume:
            info = src.storage.volume_info(disk.pool, disk.volume)
            key = f"{disk.pool}/{disk.volume}"
        else:
            continue
        out[key] = {
            "volume": info.name,
            "source_pool": info.pool or disk.pool,
            "source_path": info.path,
            "by_pool": not disk.path,
            "path": posixpath.join(pool_path, info.name),
            "capacity_bytes": info.capacity_bytes,
            "allocation_bytes": info.allocation_bytes,
            "format": info.format or "qcow2",
            "encrypted": bool(info.encrypted),
            "secret_uuid": info.secret_uuid,
            "target": disk.target,
        }
    return out


def plan_move(
    *,
    src: hv.Hypervisor,
    tgt: hv.Hypervisor,
    vm_name: str,
    source,
    target,
    fixes: list[dict],
    requested: str,
    running: bool,
    pool_path: str,
) -> dict:
    """Everything the migration will do, decided without changing anything: the
    adaptation (differences, fixes, unresolved problems), the path (live or cold) and
    why, or why the request cannot be met (``refused``), the adapted definition and its
    diff against the source's. Read-only on both hosts; the dry run shows exactly this."""
    from operations_app.adaptation import plan_adaptation

    disks = disk_map(src, vm_name, pool_path)
    source_xml = src.domains.xml(vm_name, migratable=True)
    try:
        cpu_ok = tgt.cpu_compare(source_xml)
    except hv.HypervisorError:
        cpu_ok = None
    plan = plan_adaptation(
        domain=source_xml,
        source=source,
        target=target,
        vppd_fixes=fixes,
        cpu_compatible=cpu_ok,
        target_disk_paths={old: d["path"] for old, d in disks.items() if not d["by_pool"]},
    )
    adaptation = {
        "ok": plan.ok,
        "problems": plan.problems,
        "hardware_changes": plan.hardware_changes,
        "cpu_compatible": cpu_ok,
        "differences": [d.to_dict() for d in plan.differences],
        "unresolved": [d.to_dict() for d in plan.unresolved],
        "fixes": [f.to_dict() for f in plan.fixes],
        "guest_commands_before": [f.to_dict() for f in plan.guest_commands_before],
        "guest_commands_after": [f.to_dict() for f in plan.guest_commands_after],
        "notes": plan.notes,
    }
    out = {
        "adaptation": adaptation,
        "disks": disks,
        "requested_mode": requested,
        "path": None,
        "path_reason": "",
        "refused": "",
        "adapted_xml": "",
        "xml_diff": [],
        "copy_bytes": sum(int(d.get("allocation_bytes") or 0) for d in disks.values()),
    }
    if not plan.ok:
        return out
    # A live move keeps the source's definition and only points its disks at the
    # target's volumes: any other change to the definition needs the cold path.
    changes = list(plan.hardware_changes)
    try:
        snapshots = len(src.snapshots.list(vm_name))
    except hv.HypervisorError:
        snapshots = 0
    if snapshots:
        # libvirt refuses to migrate a running domain that has snapshots.
        changes.append(f"the VM has {snapshots} snapshot(s), which libvirt does not move live")
    for fix in plan.fixes:
        if fix.when == "definition" and any(d.kind not in LIVE_CARRIED for d in fix.differences):
            changes.append(f"{fix.fix_id}: " + ("; ".join(fix.changes) or fix.description))
    try:
        path, why = choose_path(
            requested=requested, hardware_changes=changes, source_running=running
        )
    except StepFailed as exc:
        out["refused"] = str(exc)
        return out
    adapted = plan.adapted
    if adapted.machine and "q35" in adapted.machine and path == "cold":
        # PCI Express hot-plug needs empty root ports, as a clone on q35 gets.
        adapted.hotplug_slots = len(adapted.disks) + len(adapted.interfaces) + 2
    out.update(
        path=path,
        path_reason=why,
        adapted_xml=hv.domain_xml(adapted),
        xml_diff=plan.diff(),
    )
    return out


class MigrateRunner(CloneRunner):
    """``job.platform`` is the target, ``job.source_platform`` the source, ``job.vm`` the VM."""

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

    def result_update(self, **values) -> None:
        self.job.result = {**(self.job.result or {}), **values}
        OperationJob.objects.filter(pk=self.job.pk).update(result=self.job.result)

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
        earlier = (
            OperationJob.objects.filter(
                vm_name=job.vm_name,
                kind__in=[JobKind.CLONE, JobKind.MIGRATE],
                status=JobStatus.SUCCEEDED,
            )
            .exclude(pk=job.pk)
            .order_by("-finished_at", "-pk")
            .first()
        )
        plan = (earlier.result or {}).get("plan") if earlier else None
        if not plan:
            raise StepFailed(f"No record of how {job.vm_name} was provisioned was found.")
        self.plan = Plan(**plan)
        self.plan.pool = job.platform.storage_pool
        self.plan.pool_path = self.conn.storage.pool_info(self.plan.pool).path or ""
        self.save_plan()
        return f"{version.label} (hash {version.content_hash[:12]}) matches the domain's metadata"

    # ----------------------------------------------------------------- 3 adaptation plan

    def _disk_map(self) -> dict[str, dict]:
        return disk_map(self.src, self.job.vm_name, self.plan.pool_path)

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
                if not JobResource.objects.filter(
                    job=job, platform=job.platform, identifier=name
                ).exists():
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
        and True (stop) when the job was cancelled."""
        last = [0.0]

        def report(done: int | None, total: int | None, **extra) -> bool:
            now = time.monotonic()
            if now - last[0] < PROGRESS_EVERY_S:
                return False
            last[0] = now
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

    def step_restore(self) -> str:
        self.load_state()
        job, name = self.job, self.job.vm_name
        if self.conn.domains.exists(name) and self.conn.domains.state(name).active:
            return "already running on the target"
        if job.result.get("path") == "cold":
            return self._restore_cold()
        before = self._guest_commands(self.src, "before")
        disks = job.result["disks"]
        dest_xml = hv.retarget_disks(
            self.src.domains.xml(name, migratable=True),
            {old: d["path"] for old, d in disks.items() if not d["by_pool"]},
        )
        dest_xml = swap_secrets(dest_xml, job.result.get("secrets") or {})
        dest_xml = swap_pools(dest_xml, {d["source_pool"]: self.plan.pool for d in disks.values()})
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
            f"{result.elapsed_ms} ms, downtime {result.downtime_ms} ms, "
            f"{result.data_processed_bytes} bytes ({result.disk_processed_bytes} of disk)"
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
                    f"{name} did not shut down within {SHUTDOWN_TIMEOUT} s; it is left running "
                    f"on {self.source.name}."
                ) from exc
            self.result_update(source_stopped=True)
            self.log(f"source stopped ({how})")
        location = BaseImageLocation.objects.get(image=self.image, platform=target)
        copied = 0
        for disk in result["disks"].values():
            vol = disk["volume"]
            report = self._progress_reporter(f"volume {vol}")
            try:
                copied += self.src.storage.volume_copy_to(
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
            self.log(f"copied volume {vol}")
        xml = swap_secrets(result["adapted_xml"], result.get("secrets") or {})
        xml = swap_pools(xml, {d["source_pool"]: self.plan.pool for d in result["disks"].values()})
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
            f"{mig['elapsed_ms']} ms, downtime {mig['downtime_ms']} ms, {copied} bytes copied"
        )

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
            JobResource.objects.filter(
                job__vm_name=name, platform=source, removed_at__isnull=True
            ).update(removed_at=timezone.now())
        return left

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
        leftovers = super(CloneRunner, self).rollback()  # the target's resources
        if stuck:
            leftovers.append(stuck)
        if point is None:
            return leftovers
        name, source = self.job.vm_name, self.source
        if (
            not moved_back
            and JobResource.objects.filter(
                job=self.job,
                platform=self.job.platform,
                kind=ResourceKind.DOMAIN,
                removed_at__isnull=True,
                released_at__isnull=True,
            ).exists()
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
        return leftovers

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
                    xml = swap_pools(xml, {job.platform.storage_pool: source_pools.pop()})
                tgt.domains.migrate(
                    name,
                    dest_uri=source.migration_uri or source.uri,
                    live=True,
                    p2p=True,
                    copy_storage_all=True,
                    persistent=True,
                    undefine_source=False,
                    dest_xml=swap_secrets(xml, secrets),
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

    def success_message(self) -> str:
        summary = (self.job.result or {}).get("verification", {})
        mig = (self.job.result or {}).get("migration", {})
        return (
            f"{self.job.vm_name} migrated ({mig.get('path', '?')}) from "
            f"{self.source.name} to {self.job.platform.name}, downtime "
            f"{mig.get('downtime_ms', '?')} ms, verified ({summary.get('passed', '?')}/"
            f"{summary.get('checks', '?')} checks)."
        )


__all__ = ["MigrateRunner", "choose_path", "disk_map", "plan_move", "swap_secrets"]
