"""Scheduling policies at work: evaluations, the plans they propose, and running them.

- ``fleet_snapshot``: the fleet as one evaluation sees it, read in a fixed number of
  queries whatever its size (platforms, current maintenances, VMs with their profiles,
  the recent utilisation samples averaged per VM, the policies' past moves, the moves
  on their way).
- ``policy_evaluate``: the approved version of a scheduling policy evaluated on a fresh
  snapshot (``operations_app.policies.evaluate``), the adaptation dry run asked of the
  candidates (``services.dryrun``); the plan is recorded with its actions and reasons,
  supersedes the policy's older proposed plan, and its readers are told. An automatic
  policy's plan is approved by the system at once.
- ``plan_approve`` / ``plan_reject``: approvers (never an author of the policy's
  version when its scope or a VM it moves is flagged Production); a recommend-only
  policy's plans are never run. Each action not skipped is checked again against the
  current facts (the VM still where the plan found it, the target still taking VMs)
  and becomes an ordinary migration job (trigger *policy*, in the policy's window when
  it has one), with its dry run, verification and rollback; a stale one is marked so,
  with the reason.
- ``plans_tick`` (every minute): expire proposed plans past their expiry, follow the
  approved ones' jobs, and once every action ended, record the realised effect beside
  the predicted one and tell the requester.
- ``policies_tick``: evaluate every approved scheduling policy whose last evaluation is
  ``VMPERSONA_POLICY_EVALUATION_MINUTES`` old.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Avg
from django.utils import timezone

from operations_app.advisories.exposure import as_pairs
from operations_app.models import (
    ACTIVE_STATUSES,
    ActionStatus,
    JobKind,
    JobStatus,
    JobTrigger,
    ManagedVM,
    OperationJob,
    PlanStatus,
    Platform,
    PolicyEvaluationState,
    PolicyPlan,
    PolicyPlanAction,
    Severity,
    VMMetricSample,
    VMState,
)
from operations_app.placement.evacuation import VMFacts
from operations_app.policies.evaluate import (
    NotEvaluated,
    evaluate,
    fleet_monthly_cost,
    main_currency,
)
from operations_app.policies.fleet import (
    LOADS,
    FleetHost,
    FleetSnapshot,
    FleetVM,
    profile_disk_bytes,
)
from operations_app.policies.rules import Rules
from operations_app.selectors import advisories as advisory_selectors
from operations_app.selectors.maintenance import maintenance_active_by_platform
from operations_app.services import migrations as migration_services
from operations_app.services.dryrun import MoveDryRuns
from operations_app.services.notifications import administrators, approvers, notify
from operations_app.services.placement import host_facts_of
from profiles_app.models import Policy, PolicyKind, PolicyVersion, VersionStatus
from profiles_app.scheduling.settings import policy_settings
from vmpersona.accounts.models import NotificationKind
from vmpersona.errors import NotPermitted, StateConflict, error_text
from vmpersona.history import attribute_change
from vmpersona.roles import APPROVERS, OPERATORS, has_role, require_role

logger = logging.getLogger(__name__)

GIB = 1024**3
FAILED_JOBS = (
    JobStatus.FAILED,
    JobStatus.ROLLED_BACK,
    JobStatus.CANCELLED,
    JobStatus.ERRORED,
    JobStatus.SKIPPED,
    JobStatus.EXPIRED,
    JobStatus.REJECTED,
)
PRODUCTION = "Production"


def evaluation_minutes() -> int:
    return max(1, int(getattr(django_settings, "VMPERSONA_POLICY_EVALUATION_MINUTES", 15)))


# --------------------------------------------------------------------------- the snapshot


def replacement_name(vm_name: str, number: int) -> str:
    """The name of the clone that replaces ``vm_name`` from version ``number``."""
    return f"{vm_name[:58]}-r{number}"


def _fleet_exposure(
    platforms: dict[str, Platform], rows: dict[str, ManagedVM]
) -> tuple[dict[str, tuple], dict[str, dict[str, Any]]]:
    """The advisories each platform and each VM's own applications are exposed to, and
    the approved version of each VM's profile when newer, with its exposure: four
    queries (the approved versions, the affected entries, the scores by CVE, the clones
    on their way)."""
    versions = [r.profile_version for r in rows.values() if r.profile_version is not None]
    approved = {
        v.policy_id: v
        for v in PolicyVersion.objects.filter(
            policy_id__in=sorted({v.policy_id for v in versions}) or [0],
            status=VersionStatus.APPROVED,
        ).select_related("policy")
    }
    documents = {v.pk: v.document for v in [*versions, *approved.values()]}
    host, own, qemu = advisory_selectors.fleet_exposures(
        platforms.values(), documents, rows.values()
    )
    # replacements already asked for (a clone job on its way) are not proposed again
    cloning = set(
        OperationJob.objects.filter(kind=JobKind.CLONE, status__in=ACTIVE_STATUSES).values_list(
            "vm_name", flat=True
        )
    )
    vm_fields: dict[str, dict[str, Any]] = {}
    for name, (older, stale) in qemu.items():
        vm_fields[name] = {
            "running_qemu": older.running,
            "installed_qemu": older.installed,
            "qemu_advisories": as_pairs(stale),
        }
    for row in rows.values():
        version = row.profile_version
        if version is None:
            continue
        fields: dict[str, Any] = vm_fields.setdefault(row.name, {})
        fields["advisories"] = as_pairs(own.get(version.pk, []))
        newer = approved.get(version.policy_id)
        name = replacement_name(row.name, newer.number) if newer is not None else ""
        if (
            newer is not None
            and newer.number > version.number
            and name not in rows
            and name not in cloning
        ):
            fields["replacement"] = newer.label
            fields["replacement_advisories"] = as_pairs(own.get(newer.pk, []))
        vm_fields[row.name] = fields
    return {name: as_pairs(items) for name, items in host.items()}, vm_fields


def fleet_snapshot(
    *, now: datetime, sample_minutes: int = 15, cooldown_days: int = 366
) -> tuple[FleetSnapshot, dict[str, ManagedVM], dict[str, Platform]]:
    """The fleet now, with the rows it was read from (VMs and platforms by name)."""
    platforms = {p.name: p for p in Platform.objects.order_by("name")}
    maintenances = maintenance_active_by_platform()
    present = ManagedVM.objects.exclude(state=VMState.GONE)
    # Each platform and profile version read once, not once per VM (their JSON documents
    # are what makes a row dear to read); the rows get them as their related objects.
    versions = {
        v.pk: v
        for v in PolicyVersion.objects.filter(
            pk__in=present.values("profile_version_id")
        ).select_related("policy")
    }
    by_id = {p.pk: p for p in platforms.values()}
    rows = {}
    for v in present.order_by("name"):
        v.platform = by_id[v.platform_id]
        v.profile_version = (  # type: ignore[misc]
            versions.get(v.profile_version_id) if v.profile_version_id is not None else None
        )
        rows[v.name] = v
    disks = {pk: profile_disk_bytes(v.document) for pk, v in versions.items()}
    use = {
        r["vm_id"]: r
        for r in VMMetricSample.objects.filter(at__gte=now - timedelta(minutes=sample_minutes))
        .values("vm_id")
        .annotate(cpu=Avg("cpu_percent"), memory=Avg("memory_used_mib"))
    }
    moves: dict[str, list[datetime]] = {}
    for name, at in (
        OperationJob.objects.filter(
            kind=JobKind.MIGRATE,
            trigger=JobTrigger.POLICY,
            status=JobStatus.SUCCEEDED,
            finished_at__gte=now - timedelta(days=cooldown_days),
        )
        .order_by("-finished_at")
        .values_list("vm_name", "finished_at")
    ):
        if at is not None:
            moves.setdefault(name, []).append(at)
    arriving: dict[int, list[str]] = {}
    for platform_id, vm_name in (
        OperationJob.objects.filter(kind=JobKind.MIGRATE, status__in=ACTIVE_STATUSES)
        .exclude(status=JobStatus.SCHEDULED)
        .values_list("platform_id", "vm_name")
    ):
        arriving.setdefault(platform_id, []).append(vm_name)

    host_exposure, vm_exposure = _fleet_exposure(platforms, rows)
    committed: dict[str, list[int]] = {}
    vms = []
    for row in rows.values():
        c = committed.setdefault(row.platform.name, [0, 0])
        c[0] += row.vcpus
        c[1] += row.memory_mib
        disk = disks.get(row.profile_version_id or 0) or 0
        sample: dict[str, Any] = dict(use.get(row.pk) or {})
        version = row.profile_version
        vms.append(
            FleetVM(
                facts=VMFacts(
                    name=row.name,
                    vcpus=row.vcpus,
                    memory_mib=row.memory_mib,
                    disk_bytes=disk,
                    disk_allocation_bytes=disk,
                    running=row.state == VMState.RUNNING,
                    profile=version.label if version else "",
                ),
                platform=row.platform.name,
                cpu_cores=round((sample.get("cpu") or 0.0) / 100.0 * max(row.vcpus, 1), 4),
                memory_used_mib=float(sample.get("memory") or 0.0),
                profile=version.policy.name if version else "",
                profile_version=version.label if version else "",
                execution_flags=tuple(row.execution_flags or ()),
                labels=dict(row.labels or {}),
                managed=bool(row.managed and version is not None),
                policy_moves=tuple(moves.get(row.name, ())),
                **vm_exposure.get(row.name, {}),
            )
        )
    hosts = []
    for name, p in platforms.items():
        used = committed.get(name, [0, 0])
        for vm_name in arriving.get(p.pk, ()):
            if vm_name in rows:
                used = [used[0] + rows[vm_name].vcpus, used[1] + rows[vm_name].memory_mib]
        maintenance = maintenances.get(p.pk)
        facts = host_facts_of(
            p,
            used_vcpus=used[0],
            used_memory_mib=used[1],
            maintenance=maintenance.get_state_display().lower() if maintenance else "",
        )
        caps = p.capabilities or {}
        hosts.append(
            FleetHost(
                facts=facts,
                cost_vcpu_hour=float(p.cost_vcpu_hour),
                cost_ram_gib_hour=float(p.cost_ram_gib_hour),
                cost_storage_gib_month=float(p.cost_storage_gib_month),
                currency=p.currency,
                versions={
                    k: str(caps.get(k) or "")
                    for k in ("libvirt_version", "hypervisor_version")
                    if caps.get(k)
                },
                labels=dict(p.labels or {}),
                advisories=host_exposure.get(name, ()),
            )
        )
    snapshot = FleetSnapshot.of(taken_at=now, hosts=hosts, vms=vms)
    return snapshot, rows, platforms


# --------------------------------------------------------------------------- evaluation


def policy_rules() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The affinity and platform rules of every approved scheduling policy, each named
    after its policy."""
    affinity: list[dict[str, Any]] = []
    platform_rules: list[dict[str, Any]] = []
    for version in PolicyVersion.objects.filter(
        policy__kind=PolicyKind.SCHEDULING, status=VersionStatus.APPROVED
    ).select_related("policy"):
        doc = version.document or {}
        for rule in doc.get("affinity") or ():
            affinity.append({**rule, "name": f"{version.policy.name}: {rule['name']}"})
        for rule in doc.get("platform_rules") or ():
            platform_rules.append({**rule, "name": f"{version.policy.name}: {rule['name']}"})
    return affinity, platform_rules


def fleet_rules(*, now: datetime | None = None) -> Rules | None:
    """The approved scheduling policies' affinity and platform rules, checked against the
    fleet now (None when no policy has any: placement then needs no fleet snapshot)."""
    affinity, platform_rules = policy_rules()
    if not affinity and not platform_rules:
        return None
    snapshot, _, _ = fleet_snapshot(now=now or timezone.now())
    return Rules(
        affinity=affinity,
        platform_rules=platform_rules,
        snapshot=snapshot,
        placed={v.name: v.platform for v in snapshot.vms.values()},
    )


def approved_version(policy: Policy) -> PolicyVersion | None:
    return policy.versions.filter(status=VersionStatus.APPROVED).first()


def _production(document: dict, vms: list[ManagedVM]) -> bool:
    scope_flags = (document.get("scope") or {}).get("execution_flags") or []
    return PRODUCTION in scope_flags or any(PRODUCTION in (v.execution_flags or []) for v in vms)


def policy_evaluate(*, user, policy: Policy, now: datetime | None = None) -> PolicyPlan:
    """Evaluate ``policy`` now and record its plan (``user`` None: the periodic task)."""
    if user is not None:
        require_role(user, OPERATORS, "evaluate scheduling policies")
    if policy.kind != PolicyKind.SCHEDULING:
        raise StateConflict(f"{policy.name} is not a scheduling policy.")
    version = approved_version(policy)
    if version is None:
        raise StateConflict(f"Scheduling policy {policy.name} has no approved version.")
    document = version.document
    settings = policy_settings(document)
    now = now or timezone.now()
    state, _ = PolicyEvaluationState.objects.get_or_create(policy=policy)
    snapshot, rows, platforms = fleet_snapshot(now=now, sample_minutes=settings.sample_minutes)
    with contextlib.ExitStack() as stack:
        dry_runs = MoveDryRuns(stack, platforms)
        dry_runs.vms = rows
        try:
            result = evaluate(
                settings, document, snapshot, streaks=state.streaks, dry_run=dry_runs.dry_run
            )
        except NotEvaluated as exc:
            raise StateConflict(str(exc)) from exc
    digest = hashlib.sha256(
        json.dumps(result.to_dict(), sort_keys=True, default=str).encode()
    ).hexdigest()
    with transaction.atomic():
        PolicyEvaluationState.objects.filter(pk=state.pk).update(
            streaks=result.streaks, evaluated_at=now, last_error=""
        )
        for older in PolicyPlan.objects.select_for_update().filter(
            policy=policy, status=PlanStatus.PROPOSED
        ):
            older.status = PlanStatus.SUPERSEDED
            attribute_change(older, user=user, reason="superseded by a newer evaluation")
            older.save(update_fields=["status"])
        plan = PolicyPlan(
            policy=policy,
            policy_version=version,
            status=PlanStatus.PROPOSED if result.actions else PlanStatus.EMPTY,
            automation=settings.automation,
            taken_at=now,
            expires_at=now + timedelta(minutes=settings.plan_expiry_minutes),
            findings=result.findings,
            efficacy=result.efficacy,
            snapshot_digest=digest,
            requested_by=user if getattr(user, "is_authenticated", False) else None,
        )
        attribute_change(plan, user=user, reason="evaluated")
        plan.save()
        PolicyPlanAction.objects.bulk_create(
            PolicyPlanAction(
                plan=plan,
                index=index,
                kind=action.kind,
                vm=rows.get(action.vm),
                vm_name=action.vm,
                source=platforms[action.source],
                target=platforms[action.target],
                path=action.path,
                reasons=action.reasons,
                effect=action.effect,
                placement=action.placement,
            )
            for index, action in enumerate(result.actions)
        )
    _tell_exposed_authors(plan, rows)
    if result.actions:
        _announce(plan, document)
        if settings.automation == "automatic":
            plan = plan_approve(user=None, plan=plan, comment="automatic policy")
    return plan


def _announce(plan: PolicyPlan, document: dict) -> None:
    n = plan.actions.count()
    what = f"Plan #{plan.pk} of {plan.policy.name}: {n} move{'s' if n != 1 else ''}"
    if (plan.efficacy or {}).get("approve_at_once"):
        people = [*approvers(), *administrators()]
        message = (
            f"{what}: advisories at CVSS {plan.efficacy.get('worst_cvss')} "
            f"(at or above {plan.efficacy.get('approve_at_once_cvss')}) — it asks for your "
            "approval now and runs at once, not in its window."
        )
        notify(
            recipients=people,
            severity=Severity.WARNING,
            message=message,
            link=plan.get_absolute_url(),
            kind=NotificationKind.PLANS,
        )
        return
    if plan.automation == "approve":
        people, message = approvers(), f"{what} waits for your approval."
    elif plan.automation == "automatic":
        people, message = administrators(), f"{what} runs by itself in its window."
    else:
        people, message = administrators(), f"{what} recommended (nothing runs by itself)."
    notify(
        recipients=people,
        severity=Severity.INFO,
        message=message,
        link=plan.get_absolute_url(),
        kind=NotificationKind.PLANS,
    )


# --------------------------------------------------------------------------- decisions


def _lock_proposed(plan: PolicyPlan, now: datetime) -> PolicyPlan:
    plan = (
        PolicyPlan.objects.select_for_update()
        .select_related("policy", "policy_version")
        .get(pk=plan.pk)
    )
    if plan.status != PlanStatus.PROPOSED:
        raise StateConflict(
            f"Plan #{plan.pk} is {plan.get_status_display().lower()}; only proposed plans can be decided."
        )
    if plan.expires_at is not None and now >= plan.expires_at:
        raise StateConflict(f"Plan #{plan.pk} expired; evaluate the policy again.")
    return plan


def may_decide(user, plan: PolicyPlan) -> bool:
    try:
        _check_decider(user, plan)
    except NotPermitted:
        return False
    return plan.status == PlanStatus.PROPOSED and plan.automation != "recommend"


def _check_decider(user, plan: PolicyPlan) -> None:
    require_role(user, APPROVERS, "decide on plans")
    version = plan.policy_version
    vms = [a.vm for a in plan.actions.select_related("vm") if a.vm is not None]
    wrote = version.author_id == user.pk or version.authors.filter(pk=user.pk).exists()
    if wrote and _production(version.document or {}, vms):
        raise NotPermitted(
            f"{user.username} wrote {version.label}, and its plan moves Production VMs: "
            "another approver must decide on it."
        )


@transaction.atomic
def plan_approve(
    *, user, plan: PolicyPlan, skip: list[int] | None = None, comment: str = ""
) -> PolicyPlan:
    """Approve ``plan`` (``user`` None: an automatic policy's own approval) with the
    actions in ``skip`` (their indexes) left out; the others become migration jobs."""
    now = timezone.now()
    if user is not None:
        _check_decider(user, plan)
    plan = _lock_proposed(plan, now)
    if plan.automation == "recommend":
        raise StateConflict(
            f"{plan.policy.name} only recommends: its plans are not run. Change its automation "
            "to 'approve' or 'automatic' to run them."
        )
    skip = sorted(set(skip or []))
    actions = list(plan.actions.select_related("vm__platform", "source", "target"))
    unknown = [i for i in skip if i not in {a.index for a in actions}]
    if unknown:
        raise StateConflict(f"Plan #{plan.pk} has no action {unknown[0]}.")
    window = policy_settings(plan.policy_version.document).window
    by = user.username if user is not None else "the system"
    for action in actions:
        if action.index in skip:
            action.status, action.note = ActionStatus.SKIPPED, f"skipped by {by}"
            action.save(update_fields=["status", "note"])
            continue
        _start(action, plan, user, window)
    plan.status = PlanStatus.APPROVED
    plan.decided_by = user if user is not None else None
    plan.decided_at = now
    plan.comment = comment[:2000]
    attribute_change(plan, user=user, reason=f"approved by {by}")
    plan.save()
    started = sum(1 for a in actions if a.status == ActionStatus.SCHEDULED)
    _tell_decision(
        plan,
        severity=Severity.SUCCESS if started else Severity.WARNING,
        message=(
            f"Plan #{plan.pk} of {plan.policy.name} approved by {by}: {started} of "
            f"{len(actions)} actions requested"
            + (f", {len(skip)} left out" if skip else "")
            + (f". {comment.strip()[:200]}" if comment.strip() else ".")
        ),
    )
    return plan


def _tell_decision(plan: PolicyPlan, *, severity: str, message: str) -> None:
    """The policy's author, whoever asked for the evaluation and the administrators
    hear of a decision on a plan (the decider is not told of their own decision)."""
    people = list(administrators())
    version = plan.policy_version
    for person in (getattr(version, "author", None), plan.requested_by):
        if person is not None:
            people.append(person)
    decider = plan.decided_by
    people = [p for p in people if decider is None or p.pk != decider.pk]
    notify(
        recipients=people,
        severity=severity,
        message=message,
        link=plan.get_absolute_url(),
        kind=NotificationKind.PLANS,
    )


def _start(action: PolicyPlanAction, plan: PolicyPlan, user, window: str | None) -> None:
    """Check the action against the facts now; request its job, or say why it is stale."""
    vm = action.vm
    if vm is None or vm.state == VMState.GONE:
        stale = f"{action.vm_name} is gone"
    elif vm.platform_id != action.source_id:
        stale = f"{vm.name} runs on {vm.platform.name} now, not {action.source.name}"
    else:
        stale = ""
    if (plan.efficacy or {}).get("approve_at_once"):
        window = None  # advisories this severe do not wait for the window
    if not stale and vm is not None and action.kind == "clone":
        stale = _start_clone(action, plan, user, window)
        if not stale:
            return
    elif not stale and vm is not None:
        try:
            # The approval is the decision; the system requests the job for the approver
            # (who need not be an operator).
            job = migration_services.job_request_migrate(
                user=None,
                on_behalf_of=user,
                vm=vm,
                target=action.target,
                mode="auto",
                trigger=JobTrigger.POLICY,
                trigger_policy=plan.policy,
                trigger_detail=f"plan #{plan.pk}: {'; '.join(action.reasons[:1])}",
                params={"plan": plan.pk, "plan_action": action.index},
                window=window,
            )
        except Exception as exc:  # noqa: BLE001 - the action says why; the others still go
            stale = error_text(exc)
        else:
            action.status, action.job, action.note = ActionStatus.SCHEDULED, job, ""
            action.save(update_fields=["status", "job", "note"])
            return
    action.status, action.note = ActionStatus.STALE, stale[:2000]
    action.save(update_fields=["status", "note"])


@transaction.atomic
def plan_reject(*, user, plan: PolicyPlan, comment: str) -> PolicyPlan:
    _check_decider(user, plan)
    plan = _lock_proposed(plan, timezone.now())
    if not (comment or "").strip():
        from vmpersona.errors import field_error

        raise field_error("comment", "say why the plan is rejected", code="required")
    plan.status = PlanStatus.REJECTED
    plan.decided_by = user
    plan.decided_at = timezone.now()
    plan.comment = comment.strip()[:2000]
    attribute_change(plan, user=user, reason=f"rejected by {user.username}")
    plan.save()
    _tell_decision(
        plan,
        severity=Severity.WARNING,
        message=f"Plan #{plan.pk} of {plan.policy.name} rejected by {user.username}: {plan.comment[:200]}",
    )
    return plan


# --------------------------------------------------------------------------- ticks


def plans_tick(now: datetime | None = None) -> dict[str, list[int]]:
    """Expire stale proposals; follow approved plans' jobs; finish the plans whose
    actions all ended, with their realised effect."""
    now = now or timezone.now()
    done: dict[str, list[int]] = {"expired": [], "done": []}
    for plan in PolicyPlan.objects.filter(status=PlanStatus.PROPOSED, expires_at__lte=now):
        plan.status = PlanStatus.EXPIRED
        attribute_change(plan, user=None, reason="not decided before it expired")
        plan.save(update_fields=["status"])
        done["expired"].append(plan.pk)
    for plan in PolicyPlan.objects.filter(status=PlanStatus.APPROVED).select_related(
        "policy", "policy_version", "requested_by", "decided_by"
    ):
        if _follow(plan):
            _finish(plan, now)
            done["done"].append(plan.pk)
    return done


def _follow(plan: PolicyPlan) -> bool:
    """Bring the actions up to date with their jobs; True when none is still running."""
    running = False
    for action in plan.actions.select_related("job").filter(status=ActionStatus.SCHEDULED):
        job = action.job
        if job is None:
            action.status, action.note = ActionStatus.FAILED, "its job was deleted"
        elif job.status == JobStatus.SUCCEEDED:
            action.status = ActionStatus.SUCCEEDED
        elif job.status in FAILED_JOBS:
            action.status, action.note = ActionStatus.FAILED, (job.error or job.status)[:2000]
        else:
            running = True
            continue
        action.save(update_fields=["status", "note"])
    return not running


def _finish(plan: PolicyPlan, now: datetime) -> None:
    settings = policy_settings(plan.policy_version.document)
    snapshot, _, _ = fleet_snapshot(now=now, sample_minutes=settings.sample_minutes)
    plan.realised = _realised(plan, settings, snapshot)
    plan.status = PlanStatus.DONE
    plan.finished_at = now
    attribute_change(plan, user=None, reason="every action ended")
    plan.save()
    actions = list(plan.actions.all())
    ok = sum(1 for a in actions if a.status == ActionStatus.SUCCEEDED)
    people = list(administrators())
    for person in (plan.requested_by, plan.decided_by):
        if person is not None:
            people.append(person)
    notify(
        recipients=people,
        severity=Severity.SUCCESS if ok == len(actions) else Severity.WARNING,
        message=f"Plan #{plan.pk} of {plan.policy.name} is done: {ok} of {len(actions)} actions ran.",
        link=plan.get_absolute_url(),
        kind=NotificationKind.PLANS,
    )


def _realised(plan: PolicyPlan, settings: Any, snapshot: FleetSnapshot) -> dict[str, Any]:
    placed = {v.name: v.platform for v in snapshot.vms.values()}
    if settings.trigger == "utilisation":
        load = LOADS[settings.metric]
        names = list((plan.efficacy.get("load_after") or {}).keys()) or list(snapshot.hosts)
        after = {n: round(load(snapshot, n, placed), 2) for n in names if n in snapshot.hosts}
        values = list(after.values())
        return {
            "metric": settings.metric,
            "load": after,
            "spread": round(max(values) - min(values), 2) if values else 0.0,
            "peak": max(values, default=0.0),
        }
    if settings.trigger == "cost":
        currency = plan.efficacy.get("currency") or main_currency(snapshot)
        placed = {v.name: v.platform for v in snapshot.vms.values()}
        return {"monthly_cost": fleet_monthly_cost(snapshot, placed, currency)}
    moved = [a.vm_name for a in plan.actions.all() if a.status == ActionStatus.SUCCEEDED]
    if settings.trigger == "vulnerability":
        # each platform's advisories at or above min_cvss, measured again
        exposure = {
            n: [[a, c] for a, c in h.advisories if c is not None and c >= settings.min_cvss]
            for n, h in snapshot.hosts.items()
        }
        return {"done": moved, "exposure": exposure}
    return {"moved": moved}


def policies_tick(now: datetime | None = None) -> dict[str, list[str]]:
    """Evaluate each approved scheduling policy whose last evaluation is old enough."""
    now = now or timezone.now()
    due = now - timedelta(minutes=evaluation_minutes())
    done: dict[str, list[str]] = {"evaluated": [], "failed": []}
    for policy in Policy.objects.filter(
        kind=PolicyKind.SCHEDULING, versions__status=VersionStatus.APPROVED
    ).order_by("name"):
        state = PolicyEvaluationState.objects.filter(policy=policy).first()
        if state is not None and state.evaluated_at is not None and state.evaluated_at > due:
            continue
        try:
            policy_evaluate(user=None, policy=policy, now=now)
        except Exception as exc:  # noqa: BLE001 - one policy's trouble must not stop the others
            logger.warning("policy %s could not be evaluated: %s", policy.name, exc)
            PolicyEvaluationState.objects.update_or_create(
                policy=policy, defaults={"evaluated_at": now, "last_error": error_text(exc)[:2000]}
            )
            done["failed"].append(policy.name)
            continue
        done["evaluated"].append(policy.name)
    return done


def may_evaluate(user) -> bool:
    return has_role(user, OPERATORS)


# --------------------------------------------------------------------------- vulnerabilities


def _start_clone(action: PolicyPlanAction, plan: PolicyPlan, user, window: str | None) -> str:
    """Request the replacement of an exposed VM: a clone of its profile's newer approved
    version on the same platform (the old VM stays until it is decommissioned); "" when
    requested, else why not."""
    from operations_app.services.clones import job_request_clone

    vm = action.vm
    assert vm is not None
    label = str((action.effect or {}).get("replacement") or "")
    name, _, number = label.rpartition("@")
    version = (
        PolicyVersion.objects.filter(policy__name=name, number=int(number)).first()
        if number.isdigit()
        else None
    )
    if version is None:
        return f"the replacement version {label or '(none)'} is gone"
    try:
        job = job_request_clone(
            user=None,
            on_behalf_of=user,
            version=version,
            platform=action.target,
            vm_name=replacement_name(vm.name, version.number),
            trigger=JobTrigger.POLICY,
            trigger_policy=plan.policy,
            trigger_detail=f"plan #{plan.pk}: replaces {vm.name} "
            f"({'; '.join(action.reasons[:1])}); {vm.name} stays until decommissioned",
            params={"plan": plan.pk, "plan_action": action.index, "replaces": vm.name},
            window=window,
        )
    except Exception as exc:  # noqa: BLE001 - the action says why; the others still go
        return error_text(exc) or "the clone could not be requested"
    action.status, action.job, action.note = ActionStatus.SCHEDULED, job, ""
    action.save(update_fields=["status", "job", "note"])
    return ""


def _tell_exposed_authors(plan: PolicyPlan, rows: dict[str, ManagedVM]) -> None:
    """Tell the authors of each profile whose applications are exposed with no safe
    newer version, once: not again while the policy's previous plan said the same."""
    exposed = (plan.efficacy or {}).get("exposed_profiles") or {}
    if not exposed:
        return
    previous = (
        PolicyPlan.objects.filter(policy=plan.policy, pk__lt=plan.pk)
        .order_by("-pk")
        .values_list("efficacy", flat=True)
        .first()
    )
    told = (previous or {}).get("exposed_profiles") or {}
    for profile, advisories in sorted(exposed.items()):
        if told.get(profile) == advisories:
            continue
        versions = [
            r.profile_version
            for r in rows.values()
            if r.profile_version is not None and r.profile_version.policy.name == profile
        ]
        people = {v.author_id: v.author for v in versions if v.author_id}
        for version in versions:
            people.update({a.pk: a for a in version.authors.all()})
        vms = sorted(r.name for r in rows.values() if r.profile_version in versions)
        notify(
            recipients=[p for _, p in sorted(people.items())],
            severity=Severity.WARNING,
            message=f"{profile}: its applications are exposed to {', '.join(advisories)} "
            f"(VMs {', '.join(vms)}) and no approved version fixes that: a new version is "
            "needed.",
            link=plan.get_absolute_url(),
            kind=NotificationKind.PLANS,
        )
