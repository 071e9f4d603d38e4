"""Requesting clones of approved profile versions.

A clone asked for without a platform is placed by the product's one placement
(``placement.choose``): every platform is filtered (enabled, reachable, not in
maintenance, the platform's limits, vCPU, memory and storage capacity with its
overcommit, the approved scheduling policies' platform rules and affinity), the ones
that pass are scored (memory and CPU headroom, running cost, the policies' ``should``
rules) and the profile's own placement (its constraints, architecture, the base image on
the platform) is asked of them best first. The job keeps the choice and every
platform's verdict in ``params["placement"]`` and says why in its log; a scheduled
clone chooses again when it starts (``clone_replace``).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from operations_app.models import (
    ACTIVE_STATUSES,
    BaseImage,
    BaseImageLocation,
    JobKind,
    JobStatus,
    JobTrigger,
    MaintenanceWindow,
    ManagedVM,
    OnMiss,
    OperationJob,
    Platform,
    VMState,
)
from operations_app.placement import (
    CloneRequest,
    DryRunVerdict,
    HostFacts,
    ImageFacts,
    PlacementRefused,
    VMFacts,
    check_image,
    place_clone,
)
from operations_app.placement import choose as choose_placement
from operations_app.placement.evacuation import HOST_FILTERS, SCORES, HostFilter, Refused
from operations_app.policies.fleet import FleetSnapshot, FleetVM
from operations_app.policies.rules import Rules
from operations_app.selectors.maintenance import maintenance_refusal
from operations_app.services.events import job_log
from operations_app.services.jobs import job_create
from operations_app.services.placement import platform_facts
from operations_app.services.policies import fleet_snapshot, policy_rules
from operations_app.services.schedule_when import schedule_request
from operations_app.windows import ScopeTarget, covers
from profiles_app.models import PolicyKind, PolicyVersion, VersionStatus
from vmpersona.errors import NotPermitted, StateConflict, field_error
from vmpersona.roles import OPERATORS, PRODUCTION, has_role, may_clone

VM_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")


def _check_vm_name(name: str) -> None:
    if not isinstance(name, str) or not VM_NAME_RE.match(name):
        raise field_error(
            "vm_name",
            "lowercase letters, digits and dashes, 1 to 63 characters, not starting or ending with a dash",
        )


def _may_request(user, version: PolicyVersion | None) -> None:
    """Operators run any operation; authors may clone Development/Testing profiles
    (``vmpersona.roles.may_clone``, which the pages ask before offering a clone)."""
    if has_role(user, OPERATORS):
        return
    if version is not None and may_clone(user, environment=version.environment):
        return
    if version is not None and version.environment == PRODUCTION:
        raise NotPermitted(f"{version.label} is flagged Production: only operators may clone it.")
    raise NotPermitted(
        f"{getattr(user, 'username', 'anonymous')} may not run operations: this needs the 'operators' role."
    )


GIB = 1024**3
AUTO = "auto"


def _clones_on_their_way(exclude: int) -> dict[str, tuple[int, int]]:
    """vCPUs and memory of the clones queued or running and not yet in the inventory,
    by platform name: placement counts them as committed."""
    out: dict[str, tuple[int, int]] = {}
    jobs = list(
        OperationJob.objects.filter(kind=JobKind.CLONE, status__in=ACTIVE_STATUSES)
        .exclude(status=JobStatus.SCHEDULED)
        .exclude(pk=exclude)
        .select_related("platform", "profile_version")
    )
    present = set(
        ManagedVM.objects.exclude(state=VMState.GONE)
        .filter(name__in=[j.vm_name for j in jobs])
        .values_list("name", flat=True)
    )
    for job in jobs:
        if job.vm_name in present or job.profile_version is None:
            continue
        res = (job.profile_version.document or {}).get("resource_allocation") or {}
        vcpus, memory = out.get(job.platform.name, (0, 0))
        out[job.platform.name] = (
            vcpus + int(res.get("vcpus") or 0),
            memory + int(res.get("memory_mib") or 0),
        )
    return out


def clone_platform_choose(
    *,
    version: PolicyVersion,
    vm_name: str,
    job: OperationJob | None = None,
    extra_filters: tuple[tuple[str, HostFilter], ...] = (),
) -> tuple[Platform, dict[str, Any]]:
    """The platform a clone of ``version`` named ``vm_name`` goes to, and what the job
    keeps of the choice (``params["placement"]``: the chosen platform, a sentence saying
    why, every platform's verdict). ``job``: the scheduled job choosing as it starts;
    ``extra_filters`` refuse platforms too (its window's scope).

    When no platform can take it: a ``ValidationError`` at ``platform`` naming each
    platform with why it was refused."""
    document = version.document or {}
    now = timezone.now()
    snapshot, _, platforms = fleet_snapshot(now=now)
    res = document.get("resource_allocation") or {}
    root = float(res.get("storage_gib") or 0)
    volumes = sum(
        float(v.get("size_gib") or 0) for v in document.get("data_volume_definitions") or []
    )
    disk = int((root + volumes) * GIB)
    facts = VMFacts(
        name=vm_name,
        vcpus=int(res.get("vcpus") or 0),
        memory_mib=int(res.get("memory_mib") or 0),
        disk_bytes=disk,
        disk_allocation_bytes=disk,
        running=True,
        profile=version.label,
    )
    new_vm = FleetVM(
        facts=facts,
        platform="",
        profile=version.policy.name,
        profile_version=version.label,
        execution_flags=tuple(document.get("execution_flags") or ()),
    )
    hosts: dict[str, HostFacts] = {n: h.facts for n, h in snapshot.hosts.items()}
    for name, (vcpus, memory) in _clones_on_their_way(job.pk if job else 0).items():
        if name in hosts:
            h = hosts[name]
            hosts[name] = dataclasses.replace(
                h, used_vcpus=h.used_vcpus + vcpus, used_memory_mib=h.used_memory_mib + memory
            )
    affinity, platform_rules = policy_rules()
    rules = Rules(
        affinity=affinity,
        platform_rules=platform_rules,
        snapshot=FleetSnapshot(
            taken_at=now, hosts=snapshot.hosts, vms={**snapshot.vms, vm_name: new_vm}
        ),
        placed={v.name: v.platform for v in snapshot.vms.values()},
    )
    request = CloneRequest.from_document(document, vm_name=vm_name)
    image = BaseImage.objects.filter(image_id=request.image_id).first()
    locations = (
        dict(BaseImageLocation.objects.filter(image=image).values_list("platform_id", "path"))
        if image is not None
        else {}
    )

    def profile_fits(vm: VMFacts, host: HostFacts) -> DryRunVerdict:
        platform = platforms[host.name]
        offer = platform_facts(platform)
        image_facts = (
            ImageFacts(
                image_id=image.image_id,
                min_memory_mib=image.min_memory_mib,
                location_path=locations.get(platform.pk),
            )
            if image is not None
            else None
        )
        try:
            check_image(request, offer, image_facts)
            decision = place_clone(request, offer, image_facts)
        except PlacementRefused as exc:
            return DryRunVerdict(False, reason=str(exc))
        return DryRunVerdict(
            True, path="clone", reason=f"{decision.domain_type} domain, machine {decision.machine}"
        )

    placement = choose_placement.choose_platform(
        facts,
        hosts,
        check=profile_fits,
        filters=(*HOST_FILTERS[:3], *rules.filters(), *extra_filters, *HOST_FILTERS[3:]),
        scores=(*SCORES, ("platform preference", rules.preference)),
    )
    if not placement.target:
        raise field_error("platform", placement.reason, code="no_platform")
    return platforms[placement.target], choose_placement.record(placement, at=now.isoformat())


@transaction.atomic
def job_request_clone(
    *,
    user,
    version: PolicyVersion,
    platform: Platform | None,
    vm_name: str,
    trigger: str = JobTrigger.MANUAL,
    trigger_policy=None,
    trigger_detail: str = "",
    params: dict | None = None,
    window: str | None = None,
    at: datetime | str | None = None,
    on_miss: str = OnMiss.NEXT,
    on_behalf_of=None,
) -> OperationJob:
    """Queue a clone of an approved profile version onto a platform as ``vm_name``; with
    ``window`` (a maintenance window's name, or "auto") or ``at`` (an aware time) it is
    scheduled instead (``services.schedule_when``). ``user`` None is the system, acting
    for ``on_behalf_of`` when given (an approved policy plan's approver). ``platform``
    None: placement chooses it (``clone_platform_choose``), and a scheduled clone
    chooses again when it starts (``clone_replace``)."""
    _check_vm_name(vm_name)
    version = PolicyVersion.objects.select_related("policy").get(pk=version.pk)
    if version.policy.kind != PolicyKind.VPPD:
        raise field_error(
            "version",
            f"{version.label} is a {version.policy.get_kind_display().lower()}, not a VM profile",
            code="kind",
        )
    if version.status != VersionStatus.APPROVED:
        raise StateConflict(
            f"{version.label} is {version.get_status_display().lower()}; only approved versions can be cloned."
        )
    if user is not None:
        _may_request(user, version)
    if ManagedVM.objects.filter(name=vm_name).exclude(state=VMState.GONE).exists():
        raise field_error("vm_name", f"a VM named '{vm_name}' already exists", code="duplicate")
    params = dict(params or {})
    if platform is None:
        named = (
            MaintenanceWindow.objects.filter(name=window).first()
            if window and window != AUTO
            else None
        )
        platform, params["placement"] = clone_platform_choose(
            version=version, vm_name=vm_name, extra_filters=_window_filter(named, version)
        )
    if not platform.enabled:
        raise StateConflict(f"Platform {platform.name} is disabled.")
    refusal = maintenance_refusal(platform)
    if refusal:
        raise field_error("platform", refusal, code="maintenance")
    job = OperationJob(
        kind=JobKind.CLONE,
        trigger=trigger,
        trigger_policy=trigger_policy,
        trigger_detail=trigger_detail,
        requested_by=user if getattr(user, "is_authenticated", False) else on_behalf_of,
        profile_version=version,
        content_hash=version.content_hash,
        platform=platform,
        vm_name=vm_name,
        params=params,
    )
    schedule_request(job, window=window, at=at, on_miss=on_miss)
    job = job_create(job=job, user=user)
    if "placement" in params:
        _log_placement(job, params["placement"], scheduled=job.status == JobStatus.SCHEDULED)
    return job


def _log_placement(job: OperationJob, record: dict[str, Any], *, scheduled: bool) -> None:
    message = record["summary"]
    if scheduled:
        message += " (for now: the platform is chosen again when the job starts)"
    job_log(job=job, message=message, step="placement")


def _window_filter(
    window: MaintenanceWindow | None, version: PolicyVersion
) -> tuple[tuple[str, HostFilter], ...]:
    """A placement filter refusing the platforms ``window`` does not cover for a clone of
    ``version`` (none without a window)."""
    if window is None:
        return ()
    scope = window.scope()
    flags = [f for f in version.execution_flags or () if isinstance(f, str)]
    name = window.name

    def in_window(vm: VMFacts, host: HostFacts) -> None:
        target = ScopeTarget.for_vm(
            platform=host.name, profile=version.policy.name, flags=flags, labels={}
        )
        if not covers(scope, target):
            raise Refused(f"maintenance window '{name}' does not cover {host.name}")

    return (("maintenance window", in_window),)


def clone_replace(job: OperationJob) -> str:
    """A scheduled clone placed automatically, as its time comes: its platform chosen
    again (the job's ``platform`` and ``params["placement"]`` updated; logged when the
    platform changes), among the platforms its maintenance window covers when it waits
    for one. Returns why no platform can take it now, or ""."""
    if (job.params or {}).get("placement", {}).get("mode") != AUTO or job.profile_version is None:
        return ""
    window = job.window if job.window_id else None
    try:
        platform, record = clone_platform_choose(
            version=job.profile_version,
            vm_name=job.vm_name,
            job=job,
            extra_filters=_window_filter(window, job.profile_version),
        )
    except ValidationError as exc:
        return "; ".join(m.split(": ", 1)[-1] for m in exc.messages)
    changed = platform.pk != job.platform_id
    job.platform = platform
    job.params = {**(job.params or {}), "placement": record}
    OperationJob.objects.filter(pk=job.pk).update(platform=platform, params=job.params)
    if changed:
        _log_placement(job, record, scheduled=False)
    return ""
