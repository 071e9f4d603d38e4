"""What a job made on a platform, recorded *before* it is made, removed on rollback.

Recording first means a worker killed between "create" and "record" cannot leak: the
row names something that may or may not exist, and removal treats "not there" as done.
"""

from __future__ import annotations

import logging
import posixpath
from datetime import datetime

from django.utils import timezone

from operations_app import hypervisor as hv
from operations_app.models import JobResource, OperationJob, Platform, ResourceKind
from operations_app.services.platforms import platform_connect

logger = logging.getLogger(__name__)


def resource_track(
    *, job: OperationJob, platform: Platform, kind: str, identifier: str, **detail
) -> JobResource:
    existing = JobResource.objects.filter(
        job=job, platform=platform, kind=kind, identifier=identifier, removed_at__isnull=True
    ).first()
    if existing is not None:
        return existing
    return JobResource.objects.create(
        job=job, platform=platform, kind=kind, identifier=identifier, detail=detail
    )


def resource_is_tracked(*, job: OperationJob, platform: Platform, identifier: str) -> bool:
    """Whether ``job`` recorded something named ``identifier`` on ``platform`` (removed or not)."""
    return JobResource.objects.filter(job=job, platform=platform, identifier=identifier).exists()


def resource_held(*, job: OperationJob, platform: Platform, kind: str) -> bool:
    """Whether ``job`` holds a ``kind`` on ``platform``: recorded, neither removed nor
    released to the VM."""
    return JobResource.objects.filter(
        job=job,
        platform=platform,
        kind=kind,
        removed_at__isnull=True,
        released_at__isnull=True,
    ).exists()


def resource_kinds(*, job: OperationJob) -> list[str]:
    """The kind of every resource ``job`` recorded, one entry per resource."""
    return list(JobResource.objects.filter(job=job).values_list("kind", flat=True))


def resources_left(*, job: OperationJob) -> list[JobResource]:
    """What ``job`` recorded that is not removed yet, oldest first."""
    return list(JobResource.objects.filter(job=job, removed_at__isnull=True))


def resources_adopt_from_clone(*, job: OperationJob) -> int:
    """Record for ``job`` what the succeeded clone jobs of its VM on its platform made and
    handed over to the VM (and is not removed yet). Returns how many were found."""
    clones = OperationJob.objects.filter(
        vm_name=job.vm_name, platform=job.platform, kind="clone", status="succeeded"
    )
    found = 0
    for res in JobResource.objects.filter(job__in=clones, removed_at__isnull=True):
        resource_track(
            job=job,
            platform=job.platform,
            kind=res.kind,
            identifier=res.identifier,
            **(res.detail or {}),
        )
        found += 1
    return found


def resources_mark_removed_with_vm(*, vm_name: str, at: datetime) -> int:
    """Mark everything the clone jobs of ``vm_name`` made (on any platform) as removed at
    ``at``: the VM was decommissioned with it. Returns how many were marked."""
    return JobResource.objects.filter(job__vm_name=vm_name, job__kind="clone").update(removed_at=at)


def resource_release(*, job: OperationJob) -> int:
    """The job succeeded: what it made now belongs to the VM and is no longer rolled back."""
    return JobResource.objects.filter(
        job=job, removed_at__isnull=True, released_at__isnull=True
    ).update(released_at=timezone.now())


def remove_volume(conn: hv.Hypervisor, pool: str, name: str, *, wait_s: float = 120) -> None:
    """Delete a volume and its secret, also when a dead worker left it half made.

    A worker killed while libvirt was still writing the volume leaves libvirtd to finish
    the allocation on its own ("still being allocated"): wait for that, then delete. A
    worker killed after defining an encrypted volume's secret but before the volume
    leaves the secret alone: remove it by its usage (the volume's path).
    """
    import time

    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.storage.volume_delete(pool, name, delete_secret=True, missing_ok=True)
            break
        except hv.HypervisorError as exc:
            if "being allocated" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(2)
    try:
        pool_path = conn.storage.pool_info(pool).path
    except hv.HypervisorError:
        return
    if pool_path:
        secret = conn.storage.secret_lookup_usage(posixpath.join(pool_path, name))
        if secret:
            conn.storage.secret_undefine(secret, missing_ok=True)


def _remove_one(conn: hv.Hypervisor, res: JobResource) -> None:
    kind, ident, detail = res.kind, res.identifier, res.detail or {}
    if kind == ResourceKind.DOMAIN:
        conn.domains.delete(ident, missing_ok=True)
    elif kind == ResourceKind.VOLUME:
        conn.storage.volume_delete(
            detail.get("pool") or res.platform.storage_pool,
            ident,
            delete_secret=True,
            missing_ok=True,
        )
    elif kind == ResourceKind.SECRET:
        conn.storage.secret_undefine(ident, missing_ok=True)
    elif kind == ResourceKind.NWFILTER:
        conn.nwfilters.undefine(ident, missing_ok=True)
    elif kind == ResourceKind.DHCP_HOST:
        try:
            conn.networks.dhcp_host_remove(detail["network"], mac=ident)
        except hv.NotFound:
            pass
    elif kind == ResourceKind.SNAPSHOT:
        try:
            conn.snapshots.delete(detail["domain"], ident)
        except hv.NotFound:
            pass
    else:  # pragma: no cover - new kinds must be handled here
        raise ValueError(f"unknown resource kind {kind}")


def resources_remove(*, job: OperationJob, include_released: bool = False) -> list[str]:
    """Remove, newest first, everything the job made that is still there.

    Returns a description of what could not be removed (empty when all is clean).
    """
    qs = JobResource.objects.filter(job=job, removed_at__isnull=True).select_related("platform")
    if not include_released:
        qs = qs.filter(released_at__isnull=True)
    # Domains first (their disks and filters are then free), then newest first.
    resources = sorted(
        qs.order_by("-created_at", "-pk"), key=lambda r: r.kind != ResourceKind.DOMAIN
    )
    leftovers: list[str] = []
    by_platform: dict[int, list[JobResource]] = {}
    for res in resources:
        by_platform.setdefault(res.platform_id, []).append(res)
    # Keep the global newest-first order within each platform.
    for platform_resources in by_platform.values():
        platform = platform_resources[0].platform
        try:
            conn = platform_connect(platform, timeout=30)
        except hv.HypervisorError as exc:
            leftovers.extend(
                f"{r.kind} {r.identifier} on {platform.name}: {exc}" for r in platform_resources
            )
            continue
        with conn:
            for res in platform_resources:
                try:
                    _remove_one(conn, res)
                except hv.HypervisorError as exc:
                    leftovers.append(f"{res.kind} {res.identifier} on {platform.name}: {exc}")
                    logger.warning("could not remove %s %s: %s", res.kind, res.identifier, exc)
                    continue
                JobResource.objects.filter(pk=res.pk).update(removed_at=timezone.now())
    return leftovers


def resources_gone_with_source(*, vm_name: str, platform: Platform) -> int:
    """Mark what jobs made for ``vm_name`` on ``platform`` as removed (the VM moved away
    and its source was removed with everything on it). Returns how many were marked."""
    return JobResource.objects.filter(
        job__vm_name=vm_name, platform=platform, removed_at__isnull=True
    ).update(removed_at=timezone.now())
