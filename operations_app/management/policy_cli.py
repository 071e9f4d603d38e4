"""The scheduling policy and plan subcommands of ``manage.py persona``::

    persona policy create FILE [--kind scheduling] [--name NAME] [--note TEXT] --as USER
    persona policy submit NAME@N --as USER
    persona policy approve NAME@N [--comment TEXT] --as USER
    persona policy reject NAME@N --comment TEXT --as USER
    persona policy list [--json]
    persona policy evaluate NAME [--json] [--verdicts] --as USER
    persona plan list [--policy NAME] [--status S] [--json]
    persona plan show ID [--json] [--verdicts]
    persona plan approve ID [--skip N ...] [--comment TEXT] --as USER
    persona plan reject ID --comment TEXT --as USER
    persona plan run ID [--skip N ...] [--comment TEXT] [--timeout S] --as USER

A scheduling policy is a document in the versioned policy store, like a VPPD (``manage.py
vppd`` handles VPPDs): ``create`` stores its first draft, which an author submits and
another person, an approver, approves. ``evaluate`` runs its approved version on the
fleet now and records the plan it proposes; approving a plan turns each action not
skipped into a migration job; ``run`` approves a proposed plan the same way (an approved
one as it is), follows its jobs until each ends and prints the outcome (exit 4 when an
action did not succeed, 5 when ``--timeout`` passes first). ``--json`` prints what the API answers for the same thing.

Every change is made as a user (``--as USER``, or ``$VMPERSONA_CLI_USER``) with the role
the web UI asks for. Invalid input prints each problem as ``<path>: <message>`` (exit 1);
a refusal, an unknown policy, plan or user, or a state that does not allow it exits 3;
usage errors exit 2.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from django.db.models import Count

from operations_app.api.plans import check_skip
from operations_app.api.serializers import plans as plan_serializers
from operations_app.management import job_cli
from operations_app.management.cli_text import print_json, table, utc, verdict_text
from operations_app.management.job_cli import Output, cli_user
from operations_app.models import ActionStatus, PlanStatus, PolicyPlan, PolicyPlanAction
from operations_app.selectors import plans as plan_selectors
from operations_app.services import policies as policy_services
from profiles_app import selectors as profile_selectors
from profiles_app.documents import parse_document_text
from profiles_app.models import Policy, PolicyKind
from profiles_app.services import versions as version_services
from vmpersona.errors import NotFoundError

COMMAND = ("python", "manage.py", "persona")


def add_parsers(sub, as_option: Callable[..., None]) -> None:
    """``persona policy ...`` and ``persona plan ...``; ``as_option(p, requests=True)``
    adds ``--as USER``."""
    pol = sub.add_parser(
        "policy",
        help="scheduling policies: store, review and evaluate them",
        description="Scheduling policies are versioned, approvable documents (see "
        "/api/v1/schemas/scheduling/). Evaluating one records the plan it proposes.",
    )
    actions = pol.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="store a document as a new policy's first draft")
    create.add_argument("file", metavar="FILE", help="a JSON document, or - for stdin")
    _kind_option(create)
    create.add_argument(
        "--name", default="", metavar="NAME", help="the policy's name (default: the document's)"
    )
    create.add_argument("--note", default="", metavar="TEXT", help="change note")
    as_option(create, requests=True)

    submit = actions.add_parser("submit", help="send a draft for approval (its author)")
    submit.add_argument("label", metavar="NAME@N")
    _kind_option(submit)
    as_option(submit, requests=True)

    approve = actions.add_parser(
        "approve", help="approve a pending version (an approver who did not write it)"
    )
    approve.add_argument("label", metavar="NAME@N")
    approve.add_argument("--comment", default="", metavar="TEXT")
    _kind_option(approve)
    as_option(approve, requests=True)

    reject = actions.add_parser("reject", help="reject a pending version, saying why")
    reject.add_argument("label", metavar="NAME@N")
    reject.add_argument("--comment", default="", metavar="TEXT", help="why (required)")
    _kind_option(reject)
    as_option(reject, requests=True)

    listing = actions.add_parser("list", help="scheduling policies with their versions")
    _json_option(listing)

    evaluate = actions.add_parser(
        "evaluate",
        help="evaluate a policy's approved version now and record the plan it proposes",
    )
    evaluate.add_argument("name", metavar="NAME")
    _verdicts_option(evaluate)
    _json_option(evaluate)
    as_option(evaluate, requests=True)

    plan = sub.add_parser(
        "plan",
        help="plans proposed by scheduling policies: list, show, approve or reject them",
    )
    plan_actions = plan.add_subparsers(dest="action", required=True, metavar="ACTION")

    plan_list = plan_actions.add_parser("list", help="plans, newest first")
    plan_list.add_argument("--policy", metavar="NAME", help="only this policy's plans")
    plan_list.add_argument("--status", choices=PlanStatus.values, help="only plans in this status")
    _json_option(plan_list)

    show = plan_actions.add_parser(
        "show", help="a plan: its actions with their reasons and predicted effect"
    )
    show.add_argument("plan_id", type=int, metavar="ID")
    _verdicts_option(show)
    _json_option(show)

    plan_approve = plan_actions.add_parser(
        "approve", help="approve a proposed plan: its actions (but those skipped) become jobs"
    )
    plan_approve.add_argument("plan_id", type=int, metavar="ID")
    plan_approve.add_argument(
        "--skip",
        type=int,
        nargs="+",
        action="extend",
        default=[],
        metavar="N",
        help="leave out these actions (their numbers, as `plan show` lists them)",
    )
    plan_approve.add_argument("--comment", default="", metavar="TEXT")
    _json_option(plan_approve)
    as_option(plan_approve, requests=True)

    plan_run = plan_actions.add_parser(
        "run",
        help="approve a proposed plan (an approved one as it is) and follow its jobs to the end",
    )
    plan_run.add_argument("plan_id", type=int, metavar="ID")
    plan_run.add_argument(
        "--skip",
        type=int,
        nargs="+",
        action="extend",
        default=[],
        metavar="N",
        help="leave out these actions when approving",
    )
    plan_run.add_argument("--comment", default="", metavar="TEXT")
    plan_run.add_argument(
        "--interval", type=float, default=1.0, help="seconds between looks at the jobs"
    )
    plan_run.add_argument(
        "--timeout", type=float, default=None, help="give up following after this many seconds"
    )
    as_option(plan_run, requests=True)

    plan_reject = plan_actions.add_parser("reject", help="reject a proposed plan, saying why")
    plan_reject.add_argument("plan_id", type=int, metavar="ID")
    plan_reject.add_argument("--comment", default="", metavar="TEXT", help="why (required)")
    _json_option(plan_reject)
    as_option(plan_reject, requests=True)


def _kind_option(p) -> None:
    p.add_argument(
        "--kind",
        choices=PolicyKind.values,
        default=PolicyKind.SCHEDULING,
        help="the kind of policy (default: scheduling)",
    )


def _verdicts_option(p) -> None:
    p.add_argument(
        "--verdicts",
        action="store_true",
        help="also every platform's verdict for each action's VM: the filter that refused "
        "it and why, or its score",
    )


def _json_option(p) -> None:
    p.add_argument("--json", action="store_true", help="print it as JSON (as the API answers it)")


# --------------------------------------------------------------------------- policies


def run_policy(opts: dict[str, Any], out: Output) -> None:
    """``persona policy ACTION``."""
    action = opts["action"]
    if action == "list":
        list_policies(out, as_json=opts["json"])
        return
    user = cli_user(opts["as_user"])
    if action == "evaluate":
        plan = policy_services.policy_evaluate(user=user, policy=scheduling_policy(opts["name"]))
        show_plan(out, plan, as_json=opts["json"], verdicts=opts["verdicts"])
        return
    kind = opts["kind"]
    if action == "create":
        version = version_services.policy_create(
            user=user,
            document=parse_document_text(_read(opts["file"])),
            name=opts["name"] or None,
            kind=kind,
            change_note=opts["note"],
        )
        out.write(f"{version.label} draft created ({version.policy.get_kind_display().lower()}).")
        out.write("Submit it for approval: " + _command("submit", version.label, kind=kind))
        return
    version = profile_selectors.version_by_label(_label(opts["label"]), kind=kind)
    if action == "submit":
        version = version_services.version_submit(user=user, version=version)
        out.write(f"{version.label} submitted for approval.")
    elif action == "approve":
        version = version_services.version_approve(
            user=user, version=version, comment=opts["comment"]
        )
        out.write(f"{version.label} approved.")
        if kind == PolicyKind.SCHEDULING:
            out.write("Evaluate it now: " + _command("evaluate", version.policy.name))
    else:
        version = version_services.version_reject(
            user=user, version=version, comment=opts["comment"]
        )
        out.write(f"{version.label} rejected.")


def _label(label: str) -> str:
    if "@" not in label:
        raise CommandError(f"Name the version as NAME@N (e.g. {label}@1).", returncode=2)
    return label


def _command(action: str, subject: str, *, kind: str = PolicyKind.SCHEDULING) -> str:
    """The ``persona policy`` line that does the next step."""
    words = [*COMMAND, "policy", action, subject]
    if kind != PolicyKind.SCHEDULING:
        words += ["--kind", kind]
    return shlex.join(words) + " --as USER"


def _read(name: str) -> str:
    try:
        if name == "-":
            return sys.stdin.read()
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(
            f"Cannot read {name}: {getattr(exc, 'strerror', None) or exc}", returncode=2
        ) from exc


def scheduling_policy(name: str) -> Policy:
    policy = plan_selectors.scheduling_policies().filter(name=name).first()
    if policy is None:
        raise NotFoundError(f"No scheduling policy named '{name}'.")
    return policy


def list_policies(out: Output, *, as_json: bool = False) -> None:
    policies: Any = profile_selectors.profile_list(kind=PolicyKind.SCHEDULING)
    rows = []
    for p in policies:
        approved = policy_services.approved_version(p) if p.approved_number else None
        doc = approved.document if approved is not None else {}
        rows.append(
            {
                "name": p.name,
                "approved_version": p.approved_number,
                "latest_version": p.latest_number,
                "pending": p.pending_count,
                "trigger": doc.get("trigger", ""),
                "automation": doc.get("automation", ""),
                "description": p.description,
            }
        )
    if as_json:
        print_json(out, rows)
        return
    if not rows:
        out.write("no scheduling policies")
        return
    table(
        out,
        ("NAME", "APPROVED", "LATEST", "PENDING", "TRIGGER", "AUTOMATION", "DESCRIPTION"),
        [
            (
                r["name"],
                str(r["approved_version"] or "-"),
                str(r["latest_version"] or "-"),
                str(r["pending"]),
                r["trigger"] or "-",
                r["automation"] or "-",
                _short(r["description"]),
            )
            for r in rows
        ],
    )


# --------------------------------------------------------------------------- plans


def run_plan(opts: dict[str, Any], out: Output) -> None:
    """``persona plan ACTION``."""
    action = opts["action"]
    if action == "list":
        if opts.get("policy"):
            scheduling_policy(opts["policy"])
        rows = list(
            plan_selectors.plan_list(
                policy=opts.get("policy") or "", status=opts.get("status") or ""
            )
            .annotate(action_count=Count("actions"))
            .order_by("-created_at", "-pk")
        )
        if opts["json"]:
            print_json(out, plan_serializers.PlanSerializer(rows, many=True).data)
        else:
            print_plans(out, rows)
        return
    plan = plan_or_error(opts["plan_id"])
    if action == "show":
        show_plan(out, plan, as_json=opts["json"], verdicts=opts["verdicts"])
        return
    user = cli_user(opts["as_user"])
    if action == "run":
        run_plan_jobs(opts, out, plan, user)
        return
    if action == "approve":
        skip = opts["skip"] or []
        check_skip(plan, skip)
        plan = policy_services.plan_approve(
            user=user, plan=plan, skip=skip, comment=opts["comment"]
        )
    else:
        plan = policy_services.plan_reject(user=user, plan=plan, comment=opts["comment"])
    if opts["json"]:
        show_plan(out, plan, as_json=True)
        return
    decided_line(out, plan_or_error(plan.pk))


def run_plan_jobs(opts: dict[str, Any], out: Output, plan: PolicyPlan, user) -> None:
    """``persona plan run``: approve when proposed, then follow each action's job."""
    if plan.status == PlanStatus.PROPOSED:
        skip = opts["skip"] or []
        check_skip(plan, skip)
        plan = policy_services.plan_approve(
            user=user, plan=plan, skip=skip, comment=opts["comment"]
        )
        decided_line(out, plan_or_error(plan.pk))
    elif plan.status != PlanStatus.APPROVED:
        raise CommandError(
            f"Plan #{plan.pk} is {plan.get_status_display().lower()}: it has nothing to run.",
            returncode=3,
        )
    elif opts["skip"] or opts["comment"]:
        raise CommandError(
            f"Plan #{plan.pk} is approved already: --skip and --comment go with a proposed plan.",
            returncode=2,
        )
    failed: list[str] = []
    waiting: list[str] = []
    for action in plan_selectors.plan_actions(plan):
        job = action.job
        if job is None:
            continue
        if job.status == "scheduled":
            waiting.append(f"job {job.pk} ({action.vm_name}) waits for its window")
            continue
        out.write(f"[{action.index}] {action.vm_name}: job {job.pk}")
        try:
            job_cli.follow(
                job,
                after=0,
                out=out,
                verbosity=opts.get("verbosity", 1),
                interval=opts["interval"],
                timeout=opts["timeout"],
            )
        except job_cli.JobOutcome as outcome:
            if outcome.code == job_cli.EXIT_WAIT_TIMEOUT:
                raise
            failed.append(f"[{action.index}] {action.vm_name}: {outcome}")
    policy_services.plans_tick()
    plan = plan_or_error(plan.pk)
    for line in waiting:
        out.write(line)
    out.write(f"Plan #{plan.pk}: {plan.get_status_display().lower()}.")
    if failed:
        raise job_cli.JobOutcome(
            "Not every action succeeded:\n" + "\n".join(failed), job_cli.EXIT_JOB_UNSUCCESSFUL
        )


def plan_or_error(pk: int) -> PolicyPlan:
    plan = plan_selectors.plan_get(pk)
    if plan is None:
        raise NotFoundError(f"No plan #{pk}.")
    return plan


def show_plan(out: Output, plan: PolicyPlan, *, as_json: bool = False, verdicts: bool = False):
    plan = plan_selectors.plan_get(plan.pk) or plan
    actions = plan_selectors.plan_actions(plan)
    if as_json:
        data = plan_serializers.PlanDetailSerializer(plan, context={"actions": actions}).data
        print_json(out, data)
        return
    print_plan(out, plan, actions, verdicts=verdicts)


# --------------------------------------------------------------------------- text


def _short(text: str, width: int = 50) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def effect_text(efficacy: dict[str, Any], realised: dict[str, Any] | None = None) -> str:
    """The plan's predicted effect (and the one measured after, once there is one)."""
    e, r = efficacy or {}, realised or {}
    if e.get("metric"):
        metric = str(e["metric"])
        text = (
            f"{metric} peak {_num(e.get('peak_before'))} % -> {_num(e.get('peak_after'))} % "
            f"predicted; spread between platforms {_num(e.get('spread_before'))} -> "
            f"{_num(e.get('spread_after'))} points"
        )
        if r.get("peak") is not None:
            text += f"; measured after: peak {_num(r['peak'])} %, spread {_num(r.get('spread'))}"
        return text
    if e.get("monthly_cost_before") is not None:
        currency = e.get("currency", "")
        text = (
            f"monthly cost {_num(e['monthly_cost_before'])} -> "
            f"{_num(e.get('monthly_cost_after'))} {currency} predicted "
            f"(saving {_num(e.get('monthly_saving'))})"
        )
        if r.get("monthly_cost") is not None:
            text += f"; measured after: {_num(r['monthly_cost'])}"
        return text
    if "exposure_before" in e:
        fixed = e.get("advisories_fixed") or {}
        text = (
            f"advisories fixed: {len(fixed)} VM(s) "
            + (
                "("
                + "; ".join(f"{vm}: {', '.join(ids)}" for vm, ids in sorted(fixed.items()))
                + ")"
                if fixed
                else ""
            )
            + f"; VMs on exposed platforms {e.get('vms_exposed_before')} -> "
            f"{e.get('vms_exposed_after')} predicted"
        )
        if e.get("approve_at_once"):
            text += f"; CVSS {_num(e.get('worst_cvss'))}: asks approvers at once"
        return text
    if "vms_left" in e:
        left = ", ".join(f"{n} {c}" for n, c in sorted(e["vms_left"].items())) or "none"
        text = f"VMs left on the platforms emptied: {left}"
        if r.get("moved") is not None:
            text += f"; moved: {', '.join(r['moved']) or 'none'}"
        return text
    return "-"


def action_effect_text(action: PolicyPlanAction) -> str:
    e = action.effect or {}
    parts = []
    if e.get("source_load"):
        before, after = e["source_load"]
        parts.append(f"{action.source.name} {_num(before)} % -> {_num(after)} %")
    if e.get("target_load"):
        before, after = e["target_load"]
        parts.append(f"{action.target.name} {_num(before)} % -> {_num(after)} %")
    if e.get("monthly_cost"):
        here, there = e["monthly_cost"]
        parts.append(
            f"{_num(here)} -> {_num(there)} a month (saves {_num(e.get('monthly_saving'))}, "
            f"pays back in {_num(e.get('payback_days'))} days)"
        )
    if e.get("moved_gib") is not None:
        parts.append(f"moves {_num(e['moved_gib'])} GiB")
    return ", ".join(parts) or "-"


def print_plan(
    out: Output, plan: PolicyPlan, actions: Sequence[PolicyPlanAction], *, verdicts: bool = False
) -> None:
    """A plan: its status and decision, its effect, findings, and each action with its
    reasons, predicted effect, status and job (with ``verdicts``, every platform's
    verdict for its VM); the commands to decide on it while it is proposed."""
    status = plan.get_status_display().lower()
    out.write(f"Plan #{plan.pk} of {plan.policy_version.label} ({plan.automation}): {status}")
    expiry = (
        f"; expires {utc(plan.expires_at)}"
        if plan.status == PlanStatus.PROPOSED and plan.expires_at
        else ""
    )
    by = plan.requested_by.get_username() if plan.requested_by else "the periodic evaluation"
    lines = [
        ("fleet as of", f"{utc(plan.taken_at)} (evaluated by {by}){expiry}"),
        ("effect", effect_text(plan.efficacy, plan.realised)),
    ]
    if plan.decided_at:
        who = plan.decided_by.get_username() if plan.decided_by else "the system"
        comment = f": {plan.comment}" if plan.comment else ""
        lines.append(("decided", f"{status} by {who} at {utc(plan.decided_at)}{comment}"))
    if plan.finished_at:
        lines.append(("finished", utc(plan.finished_at)))
    for label, value in lines:
        out.write(f"{label + ':':<13}{value}")
    if plan.findings:
        out.write("findings:")
        for finding in plan.findings:
            out.write(f"  - {finding}")
    if not actions:
        out.write("Nothing to do.")
    else:
        out.write(f"actions ({len(actions)}):")
    for a in actions:
        job = f" as job {a.job_id}" if a.job_id else ""
        path = f" ({a.path})" if a.path else ""
        out.write(
            f"  [{a.index}] {a.kind} {a.vm_name}: {a.source.name} -> {a.target.name}{path}"
            f" — {a.status}{job}"
        )
        for reason in a.reasons or []:
            out.write(f"      - {reason}")
        out.write(f"      effect: {action_effect_text(a)}")
        if a.note:
            out.write(f"      note: {a.note}")
        if verdicts:
            _verdicts(out, a.placement or {})
    if plan.status == PlanStatus.PROPOSED and actions:
        if plan.automation == "recommend":
            out.write("This policy only recommends: its plans are not run.")
        else:
            out.write("Decide:")
            plan_command = shlex.join([*COMMAND, "plan"])
            out.write(
                f"  {plan_command} approve {plan.pk} [--skip N ...] [--comment TEXT] --as USER"
            )
            out.write(f"  {plan_command} reject {plan.pk} --comment TEXT --as USER")


def _verdicts(out: Output, placement: dict[str, Any]) -> None:
    rows = placement.get("verdicts") or []
    if not rows:
        return
    out.write("      each platform:")
    for v in rows:
        out.write(f"        {v['host']}: {verdict_text(v)}")


def decided_line(out: Output, plan: PolicyPlan) -> None:
    """What approving or rejecting did: the jobs requested, the actions left out or stale."""
    who = plan.decided_by.get_username() if plan.decided_by else "the system"
    if plan.status == PlanStatus.REJECTED:
        out.write(f"Plan #{plan.pk} rejected by {who}: nothing runs.")
        return
    actions = plan_selectors.plan_actions(plan)
    jobs = [a for a in actions if a.job_id]
    out.write(
        f"Plan #{plan.pk} approved by {who}: {len(jobs)} migration job"
        f"{'s' if len(jobs) != 1 else ''} requested."
    )
    for a in actions:
        if a.job is not None:
            what = f"job {a.job.pk} ({a.job.status})"
        elif a.status == ActionStatus.SKIPPED:
            what = a.note or "skipped"
        else:
            what = a.status + (f": {a.note}" if a.note else "")
        out.write(f"  [{a.index}] {a.vm_name} {a.source.name} -> {a.target.name}: {what}")


def print_plans(out: Output, rows: Sequence[PolicyPlan]) -> None:
    if not rows:
        out.write("no plans")
        return
    table(
        out,
        ("ID", "POLICY", "STATUS", "AUTOMATION", "ACTIONS", "FLEET AS OF", "DECIDED BY"),
        [
            (
                str(p.pk),
                p.policy_version.label,
                p.status,
                p.automation,
                str(getattr(p, "action_count", "-")),
                utc(p.taken_at),
                (p.decided_by.get_username() if p.decided_by else "the system")
                if p.decided_at
                else "-",
            )
            for p in rows
        ],
    )
