"""Host maintenance: take a platform out of service for a window and move its VMs away.

- ``evacuation_plan``: where each managed VM of a platform would go now, from the
  product's one placement (``operations_app.placement.evacuation``) with facts read from
  the rows and the hosts, and the adaptation layer's dry run (``adaptation.move``) asked
  of the best candidates. Changes nothing.
- ``maintenance_start``: from that moment no new clone or migration is placed on the
  platform (``selectors.maintenance.maintenance_refusal``); the plan shown is recorded.
- ``maintenance_tick`` (every minute, after the scheduled jobs): inside the window's
  open occurrence (never in a blackout, never after its cutoff), start migrations for
  the VMs still there, at most ``VMPERSONA_EVACUATION_PARALLEL`` at once per platform
  (leaving or arriving), each target chosen again from the hosts as they are then;
  record what became of each VM; once the last managed VM has left the platform is *in
  maintenance* and the requester and administrators get the summary. A VM that could
  not move is tried again in the window's next occurrence; the summary of an occurrence
  that leaves VMs behind says which and why.
- ``maintenance_end``: back in service; optionally the VMs it moved away come back.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from operations_app import hypervisor as hv
from operations_app.models import (
    ACTIVE_STATUSES,
    HostMaintenance,
    JobKind,
    JobStatus,
    JobTrigger,
    MaintenanceState,
    MaintenanceWindow,
    ManagedVM,
    OperationJob,
    Platform,
    Severity,
    VMState,
)
from operations_app.placement.evacuation import (
    HOST_FILTERS,
    SCORES,
    EvacuationPlan,
    HostFacts,
    PlanCache,
    VMFacts,
    place_vm,
    plan_evacuation,
    vm_order,
)
from operations_app.selectors.maintenance import maintenance_active_by_platform, maintenance_of
from operations_app.selectors.windows import windows_for
from operations_app.services import migrations as migration_services
from operations_app.services import policies as policy_services
from operations_app.services.dryrun import MoveDryRuns
from operations_app.services.notifications import administrators, notify
from operations_app.services.placement import PlacementRow, host_facts_of, placement_rows
from operations_app.windows import BLACKOUT, decide, occurrence_at
from vmpersona.errors import StateConflict, error_text, field_error
from vmpersona.history import attribute_change
from vmpersona.roles import OPERATORS, require_role

logger = logging.getLogger(__name__)

WAITING, MOVING, MOVED, FAILED, UNMOVABLE, GONE = (
    "waiting",
    "moving",
    "moved",
    "failed",
    "unmovable",
    "gone",
)
VM_STATUS_WORDS = {
    WAITING: "waits for the window",
    MOVING: "moving",
    MOVED: "moved",
    FAILED: "move failed",
    UNMOVABLE: "cannot be moved",
    GONE: "gone",
    "left": "left in place: the maintenance ended first",
}


def parallel_moves() -> int:
    return max(1, int(getattr(settings, "VMPERSONA_EVACUATION_PARALLEL", 2)))


# --------------------------------------------------------------------------- facts


def _active_moves() -> list[OperationJob]:
    return list(
        OperationJob.objects.filter(kind=JobKind.MIGRATE, status__in=ACTIVE_STATUSES).exclude(
            status=JobStatus.SCHEDULED
        )
    )


def host_facts(platform: Platform, *, moving_in: Iterable[ManagedVM] = ()) -> HostFacts:
    """What ``platform`` has, has committed (its VMs and those on their way to it) and
    allows."""
    used = (
        ManagedVM.objects.filter(platform=platform)
        .exclude(state=VMState.GONE)
        .aggregate(vcpus=Sum("vcpus"), memory=Sum("memory_mib"))
    )
    used_vcpus = int(used["vcpus"] or 0)
    used_memory = int(used["memory"] or 0)
    for vm in moving_in:
        used_vcpus += vm.vcpus
        used_memory += vm.memory_mib
    maintenance = maintenance_of(platform)
    return host_facts_of(
        platform,
        used_vcpus=used_vcpus,
        used_memory_mib=used_memory,
        maintenance=maintenance.get_state_display().lower() if maintenance else "",
    )


def _vms_on(platform: Platform) -> tuple[list[ManagedVM], list[ManagedVM]]:
    """(managed VMs that can be moved, unmanaged ones) on the platform."""
    rows = list(
        ManagedVM.objects.filter(platform=platform)
        .exclude(state=VMState.GONE)
        .select_related("platform", "profile_version__policy")
        .order_by("name")
    )
    managed = [v for v in rows if v.managed and v.profile_version_id is not None]
    return managed, [v for v in rows if v not in managed]


class _Platforms(dict):
    """Platform rows by name, each read when first asked: a plan's dry runs ask for a
    few of the fleet's platforms, and placement reads the others' facts only."""

    def __missing__(self, name: str) -> Platform:
        row = self[name] = Platform.objects.get(name=name)
        return row


class _Planner(MoveDryRuns):
    """The facts and the dry runs of one evacuation plan (``services.dryrun``): the
    source's and targets' connections stay open while it is made, and closed after. The
    source must answer: without it there is nothing to plan."""

    def __init__(
        self,
        platform: Platform,
        stack: contextlib.ExitStack,
        rows: dict[str, Platform] | None = None,
    ) -> None:
        if rows is None:
            rows = {p.name: p for p in Platform.objects.exclude(pk=platform.pk)}
        rows[platform.name] = platform  # the rows object itself: it may read rows when asked
        super().__init__(stack, rows)
        self.platform = platform
        src = self.connection(platform.name)
        if isinstance(src, str):
            raise hv.HypervisorError(src)
        self.src = src


def _hosts(
    platform: Platform,
    *,
    in_flight: list[OperationJob],
    rows: dict[str, Platform] | dict[str, PlacementRow] | None = None,
) -> dict[str, HostFacts]:
    """``host_facts`` of every other platform (``rows``, read when not given), in a fixed
    number of queries whatever the fleet's size."""
    if rows is None:
        rows = {p.name: p for p in placement_rows(Platform.objects.exclude(pk=platform.pk))}
    vms = {v.pk: v for v in ManagedVM.objects.filter(pk__in=[j.vm_id for j in in_flight])}
    arriving: dict[int, list[ManagedVM]] = {}
    for j in in_flight:
        if j.vm_id in vms:
            arriving.setdefault(j.platform_id, []).append(vms[j.vm_id])
    committed: dict[int, tuple[int, int]] = {
        r["platform_id"]: (int(r["vcpus"] or 0), int(r["memory"] or 0))
        for r in ManagedVM.objects.exclude(state=VMState.GONE)
        .values("platform_id")
        .annotate(vcpus=Sum("vcpus"), memory=Sum("memory_mib"))
    }
    maintenances = maintenance_active_by_platform()
    out = {}
    for name in sorted(rows):
        row = rows[name]
        if row.pk == platform.pk:
            continue
        used_vcpus, used_memory = committed.get(row.pk, (0, 0))
        for vm in arriving.get(row.pk, ()):
            used_vcpus += vm.vcpus
            used_memory += vm.memory_mib
        maintenance = maintenances.get(row.pk)
        out[name] = host_facts_of(
            row,
            used_vcpus=used_vcpus,
            used_memory_mib=used_memory,
            maintenance=maintenance.get_state_display().lower() if maintenance else "",
        )
    return out


def _plan(
    platform: Platform, vms: list[ManagedVM], unmanaged: list[ManagedVM], *, limit: int | None
) -> EvacuationPlan:
    in_flight = _active_moves()
    # every other platform's facts read once (only the columns and the parts of its
    # capabilities placement reads); the rows of the platforms a dry run asks, when asked
    hosts = _hosts(platform, in_flight=in_flight)
    with contextlib.ExitStack() as stack:
        try:
            planner = _Planner(platform, stack, _Platforms())
        except hv.HypervisorError as exc:
            raise StateConflict(f"{platform.name} cannot be reached: {exc}") from exc
        facts = [planner.vm_facts(v) for v in vms]
        # the scheduling policies' affinity and platform rules bind this placement too
        rules = policy_services.fleet_rules()
        filters, scores = HOST_FILTERS, SCORES
        if rules is not None:
            filters = (*HOST_FILTERS[:3], *rules.filters(), *HOST_FILTERS[3:])
            scores = (*SCORES, ("platform preference", rules.preference))

        def moved(vm: VMFacts, target: str) -> None:
            if rules is not None:
                rules.placed[vm.name] = target
                rules.generation += 1

        if limit is None:
            return plan_evacuation(
                platform.name,
                facts,
                hosts.values(),
                dry_run=planner.dry_run,
                unmanaged=[v.name for v in unmanaged],
                filters=filters,
                scores=scores,
                on_move=moved,
            )
        # The tick places only the VMs it can start now, the others wait for their turn.
        plan = EvacuationPlan(source=platform.name, unmanaged=sorted(v.name for v in unmanaged))
        cache = PlanCache()
        for vm in vm_order(facts):
            if len(plan.moves) >= limit:
                break
            placement, runs = place_vm(
                vm,
                hosts,
                source=platform.name,
                dry_run=planner.dry_run,
                cache=cache,
                filters=filters,
                scores=scores,
            )
            plan.dry_runs += runs
            if placement.movable:
                plan.moves.append(placement)
                hosts[placement.target] = hosts[placement.target].with_vm(vm)
                moved(vm, placement.target)
            else:
                plan.unmovable.append(placement)
        return plan


def evacuation_plan(*, user, platform: Platform) -> dict[str, Any]:
    """Where each managed VM on ``platform`` would go now, and why; what stays (the VMs
    nothing can take, the unmanaged VMs, which are never touched). Changes nothing."""
    require_role(user, OPERATORS, "plan host maintenance")
    managed, unmanaged = _vms_on(platform)
    plan = _plan(platform, managed, unmanaged, limit=None)
    return _plan_dict(plan, platform)


def _plan_dict(plan: EvacuationPlan, platform: Platform) -> dict[str, Any]:
    out = plan.to_dict()
    out["platform"] = platform.name
    out["parallel"] = parallel_moves()
    out["made_at"] = timezone.now().isoformat()
    return out


# --------------------------------------------------------------------------- requests


def _window_problem(window: MaintenanceWindow | None, now: datetime) -> str:
    if window is None:
        return ""
    if window.kind == BLACKOUT:
        return f"'{window.name}' is a blackout; maintenance needs a maintenance window."
    if not window.enabled:
        return f"Window '{window.name}' is disabled."
    state = decide([window.entry()], now)
    if state.next_start is None:
        return f"Window '{window.name}' does not open again."
    return ""


@transaction.atomic
def maintenance_start(
    *,
    user,
    platform: Platform,
    window: MaintenanceWindow | None = None,
    move_back: bool = False,
    reason: str = "",
    plan: dict[str, Any] | None = None,
) -> HostMaintenance:
    """Put ``platform`` into maintenance (for ``window``; without one its VMs are moved
    at once). No new VM is placed there from now on."""
    require_role(user, OPERATORS, "put platforms into maintenance")
    problem = _window_problem(window, timezone.now())
    if problem:
        raise field_error("window", problem, code="invalid")
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise field_error("reason", "At most 500 characters.", code="max_length")
    Platform.objects.select_for_update().filter(pk=platform.pk).first()
    current = maintenance_of(platform)
    if current is not None:
        raise StateConflict(
            f"Platform {platform.name} is already {current.get_state_display().lower()}."
        )
    managed, _ = _vms_on(platform)
    maintenance = HostMaintenance(
        platform=platform,
        window=window,
        move_back=bool(move_back),
        reason=reason,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        plan=plan or {},
        vms={v.name: {"status": WAITING, "job": None, "target": "", "reason": ""} for v in managed},
    )
    when = f"in window '{window.name}'" if window else "at once"
    attribute_change(maintenance, user=user, reason=f"maintenance requested, VMs to move {when}")
    try:
        with transaction.atomic():
            maintenance.save()
    except IntegrityError as exc:
        raise StateConflict(f"Platform {platform.name} is already in maintenance.") from exc
    if not managed:
        _finish_evacuation(maintenance, timezone.now())
    return maintenance


@transaction.atomic
def maintenance_end(*, user, platform: Platform, move_back: bool | None = None) -> HostMaintenance:
    """Put ``platform`` back in service; with ``move_back`` (default: as requested) the
    VMs this maintenance moved away, still where it put them, migrate back."""
    require_role(user, OPERATORS, "end platform maintenance")
    maintenance = maintenance_of(platform)
    if maintenance is None:
        raise StateConflict(f"Platform {platform.name} is not in maintenance.")
    maintenance = HostMaintenance.objects.select_for_update().get(pk=maintenance.pk)
    back = maintenance.move_back if move_back is None else bool(move_back)
    _cancel_waiting(maintenance)
    maintenance.state = MaintenanceState.ENDED
    maintenance.ended_at = timezone.now()
    maintenance.ended_by = user if getattr(user, "is_authenticated", False) else None
    attribute_change(maintenance, user=user, reason="maintenance ended")
    maintenance.save()
    if back:
        _move_back(user, maintenance)
    return maintenance


def _cancel_waiting(maintenance: HostMaintenance) -> None:
    for info in maintenance.vms.values():
        if info["status"] in (WAITING, UNMOVABLE):
            info["status"], info["reason"] = "left", "maintenance ended before it moved"


def _move_back(user, maintenance: HostMaintenance) -> None:
    platform = maintenance.platform
    for name, info in sorted(maintenance.vms.items()):
        if info["status"] != MOVED:
            continue
        vm = (
            ManagedVM.objects.filter(name=name, platform__name=info["target"])
            .exclude(state=VMState.GONE)
            .first()
        )
        if vm is None:
            info["back"] = "not where the maintenance put it"
            continue
        try:
            job = migration_services.job_request_migrate(
                user=user,
                vm=vm,
                target=platform,
                trigger=JobTrigger.MAINTENANCE,
                trigger_detail=f"back after the maintenance of {platform.name}",
            )
        except Exception as exc:  # noqa: BLE001 - said on the record, the others still go
            info["back"] = error_text(exc)
            continue
        info["back_job"] = job.pk
    HostMaintenance.objects.filter(pk=maintenance.pk).update(vms=maintenance.vms)


# --------------------------------------------------------------------------- the tick


def _open(maintenance: HostMaintenance, now: datetime) -> tuple[bool, str, datetime | None]:
    """(may moves start now, why not, the occurrence's start) for the maintenance: its
    window's occurrence must be open and before its cutoff, and no blackout covering the
    platform open (nor about to be, within the cutoff)."""
    blackouts = [
        w.entry()
        for w in windows_for(platform=maintenance.platform)
        if w.kind == BLACKOUT and w.enabled
    ]
    window = maintenance.window
    if window is None:
        if not blackouts:
            return True, "", None
        # Without a window of its own, only the blackouts can hold it back.
        state = decide(blackouts, now)
        blocked = state.kind == BLACKOUT and not state.may_start
        return (not blocked), (state.reason if blocked else ""), None
    if not window.enabled:
        return False, f"window '{window.name}' is disabled", None
    state = decide([window.entry(), *blackouts], now)
    if not state.may_start:
        return False, state.reason, None
    occurrence = occurrence_at(window.rule(), now)
    return True, "", occurrence.start if occurrence else None


def _vm_blocked(vm: ManagedVM, now: datetime) -> str:
    """Why a blackout covering the VM itself holds its move back, or ""."""
    entries = [w.entry() for w in windows_for(vm=vm) if w.kind == BLACKOUT and w.enabled]
    if not entries:
        return ""
    state = decide(entries, now)
    return state.reason if state.kind == BLACKOUT and not state.may_start else ""


def maintenance_tick(now: datetime | None = None) -> dict[str, list[str]]:
    """Move on every platform entering maintenance; the platforms by what happened."""
    now = now or timezone.now()
    done: dict[str, list[str]] = {"moving": [], "waiting": [], "evacuated": []}
    for maintenance in HostMaintenance.objects.filter(
        state=MaintenanceState.ENTERING
    ).select_related("platform", "window", "requested_by"):
        try:
            outcome = _tick_one(maintenance, now)
        except Exception:  # noqa: BLE001 - one platform's trouble must not hold up the others
            logger.exception("maintenance of %s could not move on", maintenance.platform.name)
            continue
        done[outcome].append(maintenance.platform.name)
    return done


def _tick_one(maintenance: HostMaintenance, now: datetime) -> str:
    with transaction.atomic():
        maintenance = (
            HostMaintenance.objects.select_for_update(of=("self",))
            .select_related("platform", "window", "requested_by")
            .get(pk=maintenance.pk)
        )
        if maintenance.state != MaintenanceState.ENTERING:
            return "waiting"
        _follow_jobs(maintenance, now)
        managed, unmanaged = _vms_on(maintenance.platform)
        here = {vm.name for vm in managed}
        for vm in managed:
            maintenance.vms.setdefault(
                vm.name, {"status": WAITING, "job": None, "target": "", "reason": ""}
            )
        for name, info in maintenance.vms.items():
            if name not in here and info["status"] in (WAITING, FAILED, UNMOVABLE):
                info["status"], info["reason"] = GONE, "no longer on the platform"
        if not managed and not _moving(maintenance):
            _finish_evacuation(maintenance, now)
            return "evacuated"
        may, why, occurrence_start = _open(maintenance, now)
        if not may:
            _summarize_missed(maintenance, now, why)
            HostMaintenance.objects.filter(pk=maintenance.pk).update(vms=maintenance.vms)
            return "waiting"
        started = _start_moves(maintenance, managed, unmanaged, now, occurrence_start)
        if maintenance.window is None and not started:
            _summarize_stuck(maintenance)
        HostMaintenance.objects.filter(pk=maintenance.pk).update(vms=maintenance.vms)
    return "moving" if started or _moving(maintenance) else "waiting"


def _moving(maintenance: HostMaintenance) -> bool:
    return any(info["status"] == MOVING for info in maintenance.vms.values())


def _follow_jobs(maintenance: HostMaintenance, now: datetime) -> None:
    """What became of the moves started earlier."""
    ids = [i["job"] for i in maintenance.vms.values() if i["status"] == MOVING and i["job"]]
    jobs = {j.pk: j for j in OperationJob.objects.filter(pk__in=ids).select_related("platform")}
    for info in maintenance.vms.values():
        job = jobs.get(info.get("job")) if info["status"] == MOVING else None
        if job is None:
            continue
        if job.status == JobStatus.SUCCEEDED:
            info["status"], info["reason"] = MOVED, ""
            info["path"] = (job.result or {}).get("path") or info.get("path", "")
            info["at"] = (job.finished_at or now).isoformat()
        elif job.status in (
            JobStatus.FAILED,
            JobStatus.ROLLED_BACK,
            JobStatus.CANCELLED,
            JobStatus.SKIPPED,
            JobStatus.EXPIRED,
            JobStatus.REJECTED,
        ):
            info["status"] = FAILED
            info["reason"] = (job.error or job.get_status_display())[:500]
            info["at"] = (job.finished_at or now).isoformat()


def _slots(platform_ids: Iterable[int]) -> dict[int, int]:
    """Migrations at work per platform (leaving or arriving)."""
    busy: dict[int, int] = {}
    rows = (
        OperationJob.objects.filter(kind=JobKind.MIGRATE, status__in=ACTIVE_STATUSES)
        .exclude(status=JobStatus.SCHEDULED)
        .values("platform_id", "source_platform_id")
        .annotate(n=Count("id"))
    )
    for row in rows:
        for pid in (row["platform_id"], row["source_platform_id"]):
            if pid is not None:
                busy[pid] = busy.get(pid, 0) + row["n"]
    return busy


def _start_moves(
    maintenance: HostMaintenance,
    managed: list[ManagedVM],
    unmanaged: list[ManagedVM],
    now: datetime,
    occurrence_start: datetime | None,
) -> int:
    platform = maintenance.platform
    cap = parallel_moves()
    busy = _slots([])
    free = cap - busy.get(platform.pk, 0)
    occurrence = occurrence_start.isoformat() if occurrence_start else ""
    candidates = []
    for vm in managed:
        info = maintenance.vms[vm.name]
        if info["status"] in (MOVING, MOVED):
            continue
        if info["status"] in (FAILED, UNMOVABLE) and info.get("occurrence") == occurrence:
            continue  # tried in this occurrence already; the next one tries again
        blocked = _vm_blocked(vm, now)
        if blocked:
            info["status"], info["reason"] = WAITING, blocked
            continue
        candidates.append(vm)
    if free <= 0 or not candidates:
        return 0
    plan = _plan(platform, candidates, unmanaged, limit=free)
    started = 0
    for placement in plan.unmovable:
        info = maintenance.vms[placement.vm]
        info.update(status=UNMOVABLE, reason=placement.reason[:1000], occurrence=occurrence)
    targets = {p.name: p for p in Platform.objects.filter(name__in=[m.target for m in plan.moves])}
    for placement in plan.moves:
        target = targets[placement.target]
        info = maintenance.vms[placement.vm]
        if busy.get(target.pk, 0) >= cap:
            info["status"], info["reason"] = WAITING, f"{target.name} already takes {cap} moves"
            continue
        vm = next(v for v in managed if v.name == placement.vm)
        window = f" in window '{maintenance.window.name}'" if maintenance.window else ""
        try:
            job = migration_services.job_request_migrate(
                user=maintenance.requested_by,
                vm=vm,
                target=target,
                mode="auto",
                trigger=JobTrigger.MAINTENANCE,
                trigger_detail=f"maintenance of {platform.name}{window}",
                params={"maintenance": maintenance.pk},
            )
        except Exception as exc:  # noqa: BLE001 - recorded, the others still go
            info.update(status=FAILED, reason=error_text(exc)[:1000], occurrence=occurrence)
            continue
        info.update(
            status=MOVING,
            job=job.pk,
            target=target.name,
            path=placement.path,
            reason=placement.path_reason,
            occurrence=occurrence,
        )
        busy[target.pk] = busy.get(target.pk, 0) + 1
        started += 1
    return started


def _summary_lines(maintenance: HostMaintenance) -> list[str]:
    lines = []
    for name, info in sorted(maintenance.vms.items()):
        status = info["status"]
        if status == MOVED:
            path = f" ({info['path']})" if info.get("path") else ""
            job = f", job #{info['job']}" if info.get("job") else ""
            lines.append(f"{name}: moved to {info['target']}{path}{job}")
        else:
            why = f": {info['reason']}" if info.get("reason") else ""
            lines.append(f"{name}: {VM_STATUS_WORDS.get(status, status)}{why}")
    return lines


def _recipients(maintenance: HostMaintenance) -> list:
    people = list(administrators())
    if maintenance.requested_by is not None:
        people.append(maintenance.requested_by)
    return people


def _finish_evacuation(maintenance: HostMaintenance, now: datetime) -> None:
    platform = maintenance.platform
    _, unmanaged = _vms_on(platform)
    maintenance.state = MaintenanceState.IN_MAINTENANCE
    maintenance.evacuated_at = now
    lines = _summary_lines(maintenance)
    if unmanaged:
        lines.append(
            "Left alone (not managed by VM Persona): " + ", ".join(v.name for v in unmanaged)
        )
    moved = sum(1 for i in maintenance.vms.values() if i["status"] == MOVED)
    maintenance.summary = "\n".join(lines)
    attribute_change(maintenance, user=None, reason="the last managed VM has left")
    maintenance.save()
    notify(
        recipients=_recipients(maintenance),
        severity=Severity.SUCCESS if not unmanaged else Severity.WARNING,
        message=(
            f"{platform.name} is in maintenance: {moved} VM{'s' if moved != 1 else ''} "
            f"moved away" + (f", {len(unmanaged)} unmanaged left alone" if unmanaged else "") + "."
        ),
        link=platform.get_absolute_url(),
        details="\n".join(f"- {line}" for line in lines),
    )


def _summarize_stuck(maintenance: HostMaintenance) -> None:
    """Without a window: once every VM left has been tried and none is moving, say which
    are still there and why (once, until an operator asks to try them again)."""
    if maintenance.summarized_occurrence is not None or _moving(maintenance):
        return
    left = sorted(n for n, i in maintenance.vms.items() if i["status"] in (FAILED, UNMOVABLE))
    if not left:
        return
    lines = _summary_lines(maintenance)
    maintenance.summary = "\n".join(lines)
    maintenance.summarized_occurrence = maintenance.started_at
    HostMaintenance.objects.filter(pk=maintenance.pk).update(
        summary=maintenance.summary, summarized_occurrence=maintenance.summarized_occurrence
    )
    notify(
        recipients=_recipients(maintenance),
        severity=Severity.WARNING,
        message=(
            f"{maintenance.platform.name} is still entering maintenance: "
            f"{len(left)} VM{'s' if len(left) != 1 else ''} could not move "
            f"({', '.join(left)}); try them again or end the maintenance."
        ),
        link=maintenance.platform.get_absolute_url(),
        details="\n".join(f"- {line}" for line in lines),
    )


@transaction.atomic
def maintenance_retry(*, user, platform: Platform) -> HostMaintenance:
    """Try the VMs whose move failed or that nothing could take again, at the next tick
    (inside the window, when the maintenance has one)."""
    require_role(user, OPERATORS, "retry platform maintenance")
    current = maintenance_of(platform)
    if current is None or current.state != MaintenanceState.ENTERING:
        raise StateConflict(f"Platform {platform.name} is not entering maintenance.")
    maintenance = HostMaintenance.objects.select_for_update().get(pk=current.pk)
    again = [n for n, i in maintenance.vms.items() if i["status"] in (FAILED, UNMOVABLE)]
    if not again:
        raise StateConflict(f"No VM of {platform.name} is waiting to be tried again.")
    for name in again:
        info = maintenance.vms[name]
        info.update(status=WAITING, occurrence=None, reason="to be tried again")
    maintenance.summarized_occurrence = None
    attribute_change(
        maintenance, user=user, reason=f"moves tried again: {', '.join(sorted(again))}"
    )
    maintenance.save()
    return maintenance


def _summarize_missed(maintenance: HostMaintenance, now: datetime, why: str) -> None:
    """Once per occurrence that closed with VMs still on the platform: say which and why."""
    window = maintenance.window
    if window is None:
        return
    tried = {i.get("occurrence") for i in maintenance.vms.values() if i.get("occurrence")}
    last = max(tried, default="")
    if not last or _moving(maintenance):
        return
    if maintenance.summarized_occurrence and maintenance.summarized_occurrence.isoformat() >= last:
        return
    occurrence = occurrence_at(window.rule(), datetime.fromisoformat(last))
    if occurrence is not None and now < occurrence.end:
        return  # still inside it (after the cutoff); say it once it is over
    lines = _summary_lines(maintenance)
    left = [n for n, i in maintenance.vms.items() if i["status"] != MOVED]
    maintenance.summary = "\n".join(lines)
    maintenance.summarized_occurrence = datetime.fromisoformat(last)
    HostMaintenance.objects.filter(pk=maintenance.pk).update(
        summary=maintenance.summary, summarized_occurrence=maintenance.summarized_occurrence
    )
    notify(
        recipients=_recipients(maintenance),
        severity=Severity.WARNING,
        message=(
            f"{maintenance.platform.name} is still entering maintenance: window "
            f"'{window.name}' closed with {len(left)} VM{'s' if len(left) != 1 else ''} "
            f"still there ({', '.join(sorted(left))}); they are tried again when it next opens."
        ),
        link=maintenance.platform.get_absolute_url(),
        details="\n".join(f"- {line}" for line in lines),
    )
