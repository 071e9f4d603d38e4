"""Inventory: what runs on each platform, and how busy it is."""

from __future__ import annotations

import logging
import uuid as uuid_mod
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from operations_app import hypervisor as hv
from operations_app.models import (
    WORKING_STATUSES,
    JobKind,
    JobResource,
    ManagedVM,
    OperationJob,
    Platform,
    PlatformStatus,
    ResourceKind,
    VMMetricSample,
    VMState,
)
from operations_app.services.platforms import platform_connect
from operations_app.services.volume_secrets import volume_secrets_supply
from vmpersona.history import attribute_change
from vmpersona.roles import OPERATORS, require_role

logger = logging.getLogger(__name__)

_STATE_MAP = {
    hv.DomainState.RUNNING: VMState.RUNNING,
    hv.DomainState.BLOCKED: VMState.RUNNING,
    hv.DomainState.PAUSED: VMState.PAUSED,
    hv.DomainState.SHUTDOWN: VMState.RUNNING,
    hv.DomainState.SHUTOFF: VMState.SHUTOFF,
    hv.DomainState.CRASHED: VMState.CRASHED,
    hv.DomainState.PMSUSPENDED: VMState.SUSPENDED,
}


def vm_state_for(state: hv.DomainState) -> str:
    """The inventory's word (``VMState``) for a domain state libvirt reports."""
    return _STATE_MAP.get(state, VMState.OTHER)


@dataclass
class SyncResult:
    platform: str
    reachable: bool
    seen: int = 0
    added: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # left to the jobs working on them
    samples: int = 0
    secrets_supplied: list[str] = field(default_factory=list)  # volume paths
    secret_problems: list[str] = field(default_factory=list)
    qemu_read: list[str] = field(default_factory=list)  # running QEMU versions read
    error: str = ""


def _profile_version(metadata: hv.DomainMetadata | None):
    if metadata is None or not metadata.profile or metadata.profile_version is None:
        return None
    from profiles_app.models import PolicyKind, PolicyVersion

    return PolicyVersion.objects.filter(
        policy__kind=PolicyKind.VPPD, policy__name=metadata.profile, number=metadata.profile_version
    ).first()


def _metric(prev: VMMetricSample | None, stats: hv.DomainStats, vcpus: int) -> VMMetricSample:
    at = timezone.now()
    cpu_percent = None
    if prev is not None and stats.cpu_time_ns is not None and prev.cpu_time_ns:
        elapsed_ns = (at - prev.at).total_seconds() * 1e9
        used = stats.cpu_time_ns - prev.cpu_time_ns
        if elapsed_ns > 0 and used >= 0:
            cpu_percent = round(min(100.0, 100.0 * used / (elapsed_ns * max(vcpus, 1))), 2)
    total_kib = stats.balloon_current_kib or stats.balloon_maximum_kib
    used_mib = None
    if total_kib and stats.balloon_unused_kib is not None:
        used_mib = (total_kib - stats.balloon_unused_kib) / 1024
    elif stats.balloon_rss_kib:
        used_mib = stats.balloon_rss_kib / 1024
    return VMMetricSample(
        at=at,
        cpu_time_ns=stats.cpu_time_ns or 0,
        cpu_percent=cpu_percent,
        memory_used_mib=round(used_mib, 1) if used_mib is not None else None,
        memory_total_mib=round(total_kib / 1024, 1) if total_kib else None,
        disk_read_bytes=sum(b.rd_bytes for b in stats.block),
        disk_write_bytes=sum(b.wr_bytes for b in stats.block),
        net_rx_bytes=sum(n.rx_bytes for n in stats.net),
        net_tx_bytes=sum(n.tx_bytes for n in stats.net),
    )


def _observed(info: hv.DomainInfo, now) -> dict:
    """What the inventory records of a domain as libvirt reports it. Not ``labels``:
    they are VM Persona's, not libvirt's, and no sync or move may change them."""
    meta = info.metadata
    fields = {
        "name": info.name,
        "state": _STATE_MAP.get(info.state, VMState.OTHER),
        "managed": meta is not None,
        "vcpus": info.vcpus,
        "memory_mib": info.memory_mib,
        "last_seen": now,
        "metadata": meta.to_dict() if meta is not None else {},
        "execution_flags": list(meta.execution_flags) if meta is not None else [],
        "content_hash": (meta.content_hash or "") if meta is not None else "",
    }
    version = _profile_version(meta)
    if version is not None:
        fields["profile_version"] = version
    return fields


def _domains_held_by_jobs(platform: Platform, *, since) -> set[str]:
    """Names of the platform's domains a job is making, moving or moving away: a job at
    work, or one that ended after ``since`` (when the domains were listed)."""
    jobs = OperationJob.objects.filter(Q(status__in=WORKING_STATUSES) | Q(finished_at__gte=since))
    made = JobResource.objects.filter(
        platform=platform, kind=ResourceKind.DOMAIN, job__in=jobs
    ).values_list("identifier", flat=True)
    leaving = jobs.filter(kind=JobKind.MIGRATE, source_platform=platform).values_list(
        "vm_name", flat=True
    )
    return {*made, *leaving}


def inventory_sync(
    *, platform: Platform, user=None, sample_metrics: bool = True, timeout: float = 30.0
) -> SyncResult:
    """Record every domain on the platform; domains no longer there are marked gone.

    ``user`` is the person asking (page, API, admin, CLI ``--as``), who needs the
    operators role; ``None`` is the system itself (the periodic sync, root's CLI).

    Domains a job is working on are left to that job, which records the outcome: a
    migration's target is not the VM until its cutover, nor a clone's domain before the
    clone records it.
    """
    if user is not None:
        require_role(user, OPERATORS, "sync inventories")
    result = SyncResult(platform=platform.name, reachable=False)
    listed_at = timezone.now()
    try:
        with platform_connect(platform, timeout=timeout) as conn:
            domains = conn.domains.list()
            stats = {s.uuid: s for s in conn.domains.stats()} if sample_metrics else {}
            _supply_secrets(conn, platform, domains, result, since=listed_at)
            installed = conn.hypervisor_version()
            running_qemu = _read_running_qemu(conn, platform, domains, installed, result)
    except hv.HypervisorError as exc:
        Platform.objects.filter(pk=platform.pk).update(
            status=PlatformStatus.UNREACHABLE, last_error=str(exc)[:2000]
        )
        result.error = str(exc)
        logger.warning("inventory of %s failed: %s", platform.name, exc)
        return result
    result.reachable = True
    now = timezone.now()
    with transaction.atomic():
        held = _domains_held_by_jobs(platform, since=listed_at)
        seen_uuids = []
        for info in domains:
            domain_uuid = uuid_mod.UUID(info.uuid)
            seen_uuids.append(domain_uuid)
            if info.name in held:
                result.held.append(info.name)
                continue
            defaults = _observed(info, now)
            # Locked: the row is saved whole, so a label change meanwhile must wait.
            vm = (
                ManagedVM.objects.select_for_update(of=("self",))
                .filter(platform=platform, domain_uuid=domain_uuid)
                .first()
            )
            if vm is None:
                vm = ManagedVM(platform=platform, domain_uuid=domain_uuid, **defaults)
                attribute_change(vm, reason="found on platform")
                vm.save()
                result.added.append(info.name)
            else:
                changed = any(getattr(vm, k) != v for k, v in defaults.items() if k != "last_seen")
                for key, value in defaults.items():
                    setattr(vm, key, value)
                if changed:
                    attribute_change(vm, reason="changed on platform")
                    vm.save()
                else:
                    ManagedVM.objects.filter(pk=vm.pk).update(last_seen=now)
            _record_running_qemu(vm, info, running_qemu)
            result.seen += 1
            sample_stats = stats.get(info.uuid)
            if sample_stats is not None and info.state.active:
                prev = vm.samples.order_by("-at").first()
                sample = _metric(prev, sample_stats, info.vcpus)
                sample.vm = vm
                sample.save()
                result.samples += 1
        for vm in (
            ManagedVM.objects.select_for_update(of=("self",))
            .filter(platform=platform)
            .exclude(domain_uuid__in=seen_uuids)
            .exclude(state=VMState.GONE)
        ):
            vm.state = VMState.GONE
            attribute_change(vm, reason="no longer on platform")
            vm.save()
            result.gone.append(vm.name)
        Platform.objects.filter(pk=platform.pk).update(
            status=PlatformStatus.OK, last_error="", last_synced_at=now
        )
        _record_installed_qemu(platform, installed)
    return result


def _read_running_qemu(
    conn: hv.Hypervisor,
    platform: Platform,
    domains: list[hv.DomainInfo],
    installed: str | None,
    result: SyncResult,
) -> dict[str, dict]:
    """The QEMU version each running domain's process runs, read only when not known
    for this process yet (a domain's id changes with each start, a migration's too) or
    when what was read differs from the installed version (a host restarted after an
    upgrade may give a domain its old id again). By domain uuid; ``{}`` for a domain that
    does not run, nothing for one kept as recorded."""
    known = {
        str(uuid): record
        for uuid, record in ManagedVM.objects.filter(platform=platform)
        .exclude(state=VMState.GONE)
        .values_list("domain_uuid", "running_qemu")
    }
    read: dict[str, dict] = {}
    for info in domains:
        record = known.get(info.uuid) or {}
        if not info.state.active or info.id is None:
            if record:
                read[info.uuid] = {}
            continue
        same_process = record.get("domain_id") == info.id
        version_read = record.get("version")
        if same_process and (not version_read or installed in (None, version_read)):
            continue  # known (or not readable) for this process
        try:
            version = conn.domains.qemu_version(info.name)
        except hv.HypervisorError as exc:  # e.g. stopped meanwhile
            logger.info("QEMU version of %s on %s not read: %s", info.name, platform.name, exc)
            continue
        if version is None:  # no QEMU monitor to ask: not asked again for this process
            read[info.uuid] = {"domain_id": info.id}
            continue
        read[info.uuid] = {
            **version.to_dict(),
            "domain_id": info.id,
            "read_at": timezone.now().isoformat(),
        }
        result.qemu_read.append(info.name)
    return read


def _record_running_qemu(vm: ManagedVM, info: hv.DomainInfo, read: dict[str, dict]) -> None:
    if info.uuid in read and vm.running_qemu != read[info.uuid]:
        vm.running_qemu = read[info.uuid]
        ManagedVM.objects.filter(pk=vm.pk).update(running_qemu=vm.running_qemu)


def _record_installed_qemu(platform: Platform, installed: str | None) -> None:
    """Keep the platform's installed QEMU version (its capabilities' ``hypervisor_version``,
    otherwise refreshed hourly) as libvirt reports it at each sync: a running VM is
    compared with it."""
    if not installed:
        return
    row = Platform.objects.select_for_update().filter(pk=platform.pk).first()
    if row is None or not row.capabilities:
        return
    if row.capabilities.get("hypervisor_version") != installed:
        row.capabilities = {**row.capabilities, "hypervisor_version": installed}
        Platform.objects.filter(pk=row.pk).update(capabilities=row.capabilities)


@transaction.atomic
def inventory_vm_record(
    *, job: OperationJob, info: hv.DomainInfo, state: str, execution_flags: list[str]
) -> ManagedVM:
    """Record the domain ``info`` describes, made by ``job`` on its platform from its
    profile version, as a managed VM in ``state``, and link the job to it."""
    version = job.profile_version
    vm, _ = ManagedVM.objects.update_or_create(
        platform=job.platform,
        domain_uuid=uuid_mod.UUID(info.uuid),
        defaults={
            "name": info.name,
            "state": state,
            "managed": True,
            "profile_version": version,
            "content_hash": version.content_hash if version is not None else "",
            "execution_flags": list(execution_flags),
            "vcpus": info.vcpus,
            "memory_mib": info.memory_mib,
            "metadata": info.metadata.to_dict() if info.metadata else {},
            "last_seen": timezone.now(),
        },
    )
    if job.vm_id != vm.pk:
        OperationJob.objects.filter(pk=job.pk).update(vm=vm)
        job.vm = vm
    return vm


def inventory_vm_gone(*, vm_id: int) -> None:
    """Record that the VM's domain no longer exists (e.g. a clone's rollback removed it)."""
    ManagedVM.objects.filter(pk=vm_id).update(state=VMState.GONE)


def inventory_vm_seen(*, vm_id: int, state: str) -> None:
    """Record that the VM's domain was just seen in ``state``."""
    ManagedVM.objects.filter(pk=vm_id).update(state=state, last_seen=timezone.now())


@transaction.atomic
def inventory_vm_moved(*, vm_id: int, platform: Platform, info: hv.DomainInfo) -> None:
    """Record that the VM now runs on ``platform`` as the domain ``info`` describes."""
    # A sync may still have recorded the arriving domain as a VM of its own.
    ManagedVM.objects.filter(platform=platform, domain_uuid=uuid_mod.UUID(info.uuid)).exclude(
        pk=vm_id
    ).delete()
    vm = ManagedVM.objects.select_for_update().get(pk=vm_id)
    vm.platform = platform
    vm.domain_uuid = uuid_mod.UUID(info.uuid)
    vm.running_qemu = {}  # a new QEMU process on the target: read at the next sync
    for key, value in _observed(info, timezone.now()).items():
        setattr(vm, key, value)
    attribute_change(vm, reason=f"moved to {platform.name}")
    vm.save()


def _supply_secrets(
    conn: hv.Hypervisor,
    platform: Platform,
    domains: list[hv.DomainInfo],
    result: SyncResult,
    *,
    since,
) -> None:
    """Put back the volume secrets a restarted host lost (they are ephemeral), for the
    managed domains no job is working on, so they can start again."""
    held = _domains_held_by_jobs(platform, since=since)
    for info in domains:
        if info.name in held or info.metadata is None or not info.metadata.volume_keys:
            continue
        try:
            supplied = volume_secrets_supply(conn, info.name)
        except hv.HypervisorError as exc:  # e.g. the domain went away meanwhile
            logger.info("secrets of %s on %s not checked: %s", info.name, platform.name, exc)
            continue
        result.secrets_supplied.extend(supplied.supplied)
        result.secret_problems.extend(supplied.problems)
        for problem in supplied.problems:
            logger.warning("inventory of %s: %s", platform.name, problem)


def inventory_sync_all(*, sample_metrics: bool = True) -> list[SyncResult]:
    return [
        inventory_sync(platform=p, sample_metrics=sample_metrics)
        for p in Platform.objects.filter(enabled=True).order_by("name")
    ]


def metrics_prune(*, keep_days: int = 14) -> int:
    cutoff = timezone.now() - timedelta(days=keep_days)
    deleted, _ = VMMetricSample.objects.filter(at__lt=cutoff).delete()
    return deleted
