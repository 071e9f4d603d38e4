"""The host maintenance subcommands of ``manage.py persona``::

    persona maintenance plan PLATFORM [--json] --as USER
    persona maintenance start PLATFORM [--window NAME] [--move-back] [--reason TEXT]
                              [--yes] [--json] --as USER
    persona maintenance end PLATFORM [--move-back | --no-move-back] [--json] --as USER
    persona maintenance show PLATFORM [--json]
    persona maintenance list [--active | --ended] [--platform NAME] [--json]

``start`` prints the evacuation plan and, only with ``--yes``, starts the maintenance
and records that plan; without it nothing changes and the line to confirm with is
printed (no command of ``persona`` asks questions: it runs the same at a terminal, in a
script and in CI). ``--json`` prints what the API answers for the same thing.

Planning, starting and ending are requests made as a user with the operators role:
``--as USER``, or ``$VMPERSONA_CLI_USER``, as for jobs (the VMs' migrations are
requested in the name of whoever started the maintenance). Invalid input prints each
problem as ``<path>: <message>`` (exit 1); a refusal, an unknown platform or a state
that does not allow it exits 3.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from typing import Any

from django.core.management.base import CommandError

from operations_app.api.maintenance import refuse_if_in_maintenance, window_named
from operations_app.api.serializers import maintenance as maintenance_serializers
from operations_app.management.cli_text import print_json, table, utc, verdict_text
from operations_app.management.job_cli import Output, cli_user
from operations_app.management.platform_cli import platform_named
from operations_app.management.window_cli import summary_line
from operations_app.models import HostMaintenance, Platform
from operations_app.selectors import maintenance as maintenance_selectors
from operations_app.services import maintenance as maintenance_services

COMMAND = ("python", "manage.py", "persona", "maintenance")


def add_parser(sub, as_option: Callable[..., None]) -> None:
    """``persona maintenance ...``; ``as_option(p, requests=True)`` adds ``--as USER``."""
    mnt = sub.add_parser(
        "maintenance",
        help="host maintenance: empty a platform of its VMs for a window, and back",
        description="Take a platform out of service: no new VM is placed there, and its "
        "managed VMs move to other platforms inside a maintenance window (or at once).",
    )
    actions = mnt.add_subparsers(dest="action", required=True, metavar="ACTION")

    plan = actions.add_parser("plan", help="where each VM would go now, and why (changes nothing)")
    plan.add_argument("platform", metavar="PLATFORM")
    _verdicts_option(plan)
    _json_option(plan)
    as_option(plan, requests=True)

    start = actions.add_parser(
        "start",
        help="show the evacuation plan; with --yes, put the platform into maintenance",
        description="Prints the evacuation plan. With --yes the platform goes into "
        "maintenance and the plan is recorded; without it nothing changes.",
    )
    start.add_argument("platform", metavar="PLATFORM")
    start.add_argument(
        "--window",
        metavar="NAME",
        help="move the VMs inside this maintenance window's occurrences (default: at once, "
        "outside blackouts)",
    )
    start.add_argument(
        "--move-back",
        dest="move_back",
        action="store_true",
        help="when the maintenance ends, move the VMs it moved away back",
    )
    start.add_argument("--reason", default="", metavar="TEXT", help="why, for the record")
    start.add_argument("--yes", action="store_true", help="start it (without: only show the plan)")
    _verdicts_option(start)
    _json_option(start, "with --yes: print the maintenance started as JSON")
    as_option(start, requests=True)

    end = actions.add_parser(
        "end", help="put the platform back in service (optionally move its VMs back)"
    )
    end.add_argument("platform", metavar="PLATFORM")
    back = end.add_mutually_exclusive_group()
    back.add_argument(
        "--move-back",
        dest="move_back",
        action="store_true",
        default=None,
        help="move the VMs it moved away back (default: as asked when it started)",
    )
    back.add_argument(
        "--no-move-back",
        dest="move_back",
        action="store_false",
        help="leave them where they are",
    )
    _json_option(end)
    as_option(end, requests=True)

    retry = actions.add_parser(
        "retry", help="try the VMs whose move failed or that nothing could take again"
    )
    retry.add_argument("platform", metavar="PLATFORM")
    _json_option(retry)
    as_option(retry, requests=True)

    show = actions.add_parser(
        "show", help="a platform's current maintenance: state, window, each VM's progress"
    )
    show.add_argument("platform", metavar="PLATFORM")
    _json_option(show)

    listing = actions.add_parser("list", help="maintenances, newest first")
    which = listing.add_mutually_exclusive_group()
    which.add_argument(
        "--active",
        dest="active",
        action="store_true",
        default=None,
        help="only the current ones (entering or in maintenance)",
    )
    which.add_argument("--ended", dest="active", action="store_false", help="only ended ones")
    listing.add_argument("--platform", metavar="NAME", help="only this platform's")
    _json_option(listing)


def _verdicts_option(p) -> None:
    p.add_argument(
        "--verdicts",
        action="store_true",
        help="also every other platform's verdict for each VM: the filter that refused it "
        "and why, or its score",
    )


def _json_option(p, text: str = "print it as JSON (as the API answers it)") -> None:
    p.add_argument("--json", action="store_true", help=text)


# --------------------------------------------------------------------------- the actions


def run(opts: dict[str, Any], out: Output) -> None:
    """``persona maintenance ACTION``."""
    action = opts["action"]
    if action == "list":
        platform = platform_named(opts["platform"]) if opts.get("platform") else None
        rows = list(
            maintenance_selectors.maintenance_list(platform=platform, active=opts["active"])
        )
        if opts["json"]:
            print_json(out, maintenance_serializers.MaintenanceSerializer(rows, many=True).data)
        else:
            print_maintenances(out, rows)
        return
    platform = platform_named(opts["platform"])
    if action == "show":
        show(out, platform, as_json=opts["json"])
    elif action == "plan":
        user = cli_user(opts["as_user"])
        plan = maintenance_services.evacuation_plan(user=user, platform=platform)
        if opts["json"]:
            print_json(out, plan)
        else:
            print_plan(out, plan, verdicts=opts["verdicts"])
    elif action == "start":
        start(out, platform, opts)
    elif action == "end":
        user = cli_user(opts["as_user"])
        maintenance = maintenance_services.maintenance_end(
            user=user, platform=platform, move_back=opts["move_back"]
        )
        if opts["json"]:
            print_json(out, _detail(maintenance))
        else:
            print_ended(out, maintenance)
    elif action == "retry":
        user = cli_user(opts["as_user"])
        maintenance = maintenance_services.maintenance_retry(user=user, platform=platform)
        if opts["json"]:
            print_json(out, _detail(maintenance))
        else:
            again = sorted(n for n, i in maintenance.vms.items() if i.get("status") == "waiting")
            out.write(
                f"{platform.name}: {', '.join(again)} will be tried again at the next tick"
                + (f" inside window '{maintenance.window.name}'." if maintenance.window else ".")
            )


def start(out: Output, platform: Platform, opts: dict[str, Any]) -> None:
    if opts["json"] and not opts["yes"]:
        raise CommandError(
            "--json goes with --yes; the plan alone: persona maintenance plan PLATFORM --json",
            returncode=2,
        )
    user = cli_user(opts["as_user"])
    window = window_named(opts.get("window"))
    refuse_if_in_maintenance(platform)
    plan = maintenance_services.evacuation_plan(user=user, platform=platform)
    if not opts["json"]:
        print_plan(out, plan, verdicts=opts["verdicts"])
    if not opts["yes"]:
        out.write("")
        out.write("Nothing changed. To start the maintenance with this plan:")
        out.write("  " + confirm_command(platform, opts, user=user.get_username()))
        return
    maintenance = maintenance_services.maintenance_start(
        user=user,
        platform=platform,
        window=window,
        move_back=opts["move_back"],
        reason=opts["reason"],
        plan=plan,
    )
    if opts["json"]:
        print_json(out, _detail(maintenance))
        return
    out.write("")
    out.write(started_line(maintenance, plan))


def confirm_command(platform: Platform, opts: dict[str, Any], *, user: str) -> str:
    """The ``persona maintenance start`` line that confirms, with the options given."""
    words = [*COMMAND, "start", platform.name]
    if opts.get("window"):
        words += ["--window", opts["window"]]
    if opts.get("move_back"):
        words.append("--move-back")
    if opts.get("reason"):
        words += ["--reason", opts["reason"]]
    words += ["--yes", "--as", user]
    return shlex.join(words)


def _detail(maintenance: HostMaintenance) -> dict:
    fresh = maintenance_selectors.maintenance_list().get(pk=maintenance.pk)
    return maintenance_serializers.MaintenanceDetailSerializer(fresh).data


# --------------------------------------------------------------------------- text


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


def print_plan(out: Output, plan: dict[str, Any], *, verdicts: bool = False) -> None:
    """An evacuation plan: each VM's target and path and why, the VMs that cannot move
    and why, the unmanaged VMs left alone, and the other platforms' usage after. With
    ``verdicts``, every other platform's verdict for every VM."""
    moves = plan.get("moves") or []
    unmovable = plan.get("unmovable") or []
    unmanaged = plan.get("unmanaged") or []
    total = len(moves) + len(unmovable)
    source = plan.get("platform") or plan.get("source")
    out.write(
        f"Evacuation plan for {source} "
        f"(made {utc(plan.get('made_at'))}; at most {plan.get('parallel')} moves at a time "
        "per platform)"
    )
    if total == 0:
        out.write("No managed VM to move: the platform is in maintenance as soon as it starts.")
    elif not unmovable:
        out.write(f"All {total} managed VM{'s' if total != 1 else ''} can move.")
    else:
        out.write(
            f"{len(unmovable)} of {total} managed VM{'s' if total != 1 else ''} cannot move "
            f"now and would stay on {source} (in a window, they are tried again each time it "
            "opens)."
        )
    if moves:
        out.write("moves (largest first):")
        table(
            out,
            ("VM", "TO", "PATH", "WHY"),
            [(m["vm"], m["target"], m["path"] or "-", m.get("path_reason") or "-") for m in moves],
            indent="  ",
        )
        if verdicts:
            for move in moves:
                _verdicts(out, move)
    if unmovable:
        out.write("cannot move:")
        for placement in unmovable:
            out.write(f"  {placement['vm']}: {placement.get('reason') or 'no reason given'}")
            if verdicts:
                _verdicts(out, placement)
    out.write(
        "left alone (not managed by VM Persona): " + (", ".join(unmanaged) if unmanaged else "none")
    )
    before, after = plan.get("hosts_before") or {}, plan.get("hosts_after") or {}
    if after:
        out.write("other platforms, committed before -> after:")
        rows = []
        for host in sorted(after):
            b, a = before.get(host) or {}, after.get(host) or {}
            rows.append(
                (
                    host,
                    *(
                        f"{_percent(b.get(k))} -> {_percent(a.get(k))}"
                        for k in ("vcpus", "memory", "storage")
                    ),
                )
            )
        table(out, ("PLATFORM", "VCPUS", "MEMORY", "STORAGE"), rows, indent="  ")


def _verdicts(out: Output, placement: dict[str, Any]) -> None:
    out.write(f"  {placement['vm']}, each platform:")
    for v in placement.get("verdicts") or []:
        out.write(f"    {v['host']}: {verdict_text(v)}")


def started_line(maintenance: HostMaintenance, plan: dict[str, Any]) -> str:
    platform = maintenance.platform.name
    if maintenance.state == "in_maintenance":
        return f"{platform} is in maintenance: it had no managed VM to move."
    when = f"inside window '{maintenance.window.name}'" if maintenance.window else "from now on"
    count = len(maintenance.vms or {})
    stuck = len(plan.get("unmovable") or [])
    stuck_text = f" ({stuck} cannot move now)" if stuck else ""
    back = "; they come back when it ends" if maintenance.move_back else ""
    return (
        f"{platform} is entering maintenance: no new VM is placed there; its {count} managed "
        f"VM{'s' if count != 1 else ''}{stuck_text} move {when}, a few at a time{back}. "
        f"Follow it: {shlex.join([*COMMAND, 'show', platform])}"
    )


def print_ended(out: Output, maintenance: HostMaintenance) -> None:
    platform = maintenance.platform.name
    by = maintenance.ended_by.get_username() if maintenance.ended_by else "the system"
    out.write(f"{platform} is back in service (maintenance ended by {by}).")
    vms = maintenance.vms or {}
    back = sorted((n, i) for n, i in vms.items() if i.get("back_job"))
    not_back = sorted((n, i) for n, i in vms.items() if i.get("back"))
    left = sorted(n for n, i in vms.items() if i.get("status") == "left")
    if back:
        jobs = ", ".join(f"{n} (job {i['back_job']})" for n, i in back)
        out.write(f"moving back: {jobs}")
    for name, info in not_back:
        out.write(f"not moved back: {name}: {info['back']}")
    if left:
        out.write(f"never moved away, still on {platform}: {', '.join(left)}")


def show(out: Output, platform: Platform, *, as_json: bool = False) -> None:
    current = maintenance_selectors.maintenance_of(platform)
    if current is not None:
        current = maintenance_selectors.maintenance_list().get(pk=current.pk)
    if as_json:
        print_json(
            out, maintenance_serializers.CurrentMaintenanceSerializer({"maintenance": current}).data
        )
        return
    if current is None:
        last = maintenance_selectors.maintenance_list(platform=platform).first()
        after = f"; its last maintenance ended {utc(last.ended_at)}" if last else ""
        out.write(f"{platform.name} is in service (not in maintenance){after}.")
        return
    print_maintenance(out, current)


STATUS_ORDER = ("failed", "unmovable", "moving", "waiting", "moved", "left", "gone")


def progress_line(vms: dict[str, dict[str, Any]]) -> str:
    """``3 VMs: 1 moved, 1 moving, 1 failed``; ``no managed VM``."""
    if not vms:
        return "no managed VM"
    counts: dict[str, int] = {}
    for info in vms.values():
        counts[info.get("status", "")] = counts.get(info.get("status", ""), 0) + 1
    parts = [f"{counts.pop('moved', 0)} moved"]
    parts += [f"{counts[s]} {s}" for s in STATUS_ORDER if counts.get(s)]
    parts += [f"{n} {s}" for s, n in sorted(counts.items()) if s not in STATUS_ORDER]
    return f"{len(vms)} VM{'s' if len(vms) != 1 else ''}: " + ", ".join(parts)


def print_maintenance(out: Output, maintenance: HostMaintenance) -> None:
    """A maintenance: its state, window, who asked and why, and each VM's progress
    (what needs attention first)."""
    requested = maintenance.requested_by.get_username() if maintenance.requested_by else "-"
    window = maintenance.window
    lines = [
        ("platform", maintenance.platform.name),
        ("state", maintenance.get_state_display().lower()),
        (
            "window",
            f"{window.name}: {summary_line(window)}"
            if window
            else "none: the VMs move at once (outside blackouts)",
        ),
        ("started", f"{utc(maintenance.started_at)} by {requested}"),
        ("reason", maintenance.reason or "-"),
        ("move back", "yes, when it ends" if maintenance.move_back else "no"),
        ("evacuated", utc(maintenance.evacuated_at)),
    ]
    if maintenance.ended_at:
        by = maintenance.ended_by.get_username() if maintenance.ended_by else "the system"
        lines.append(("ended", f"{utc(maintenance.ended_at)} by {by}"))
    vms = maintenance.vms or {}
    lines.append(("progress", progress_line(vms)))
    for label, value in lines:
        out.write(f"{label + ':':<11}{value}")
    order = {s: i for i, s in enumerate(STATUS_ORDER)}
    rows = sorted(vms.items(), key=lambda kv: (order.get(kv[1].get("status"), 99), kv[0]))
    if rows:
        out.write("vms:")
        table(
            out,
            ("VM", "STATUS", "TO", "PATH", "JOB", "WHY"),
            [
                (
                    name,
                    info.get("status", ""),
                    info.get("target") or "-",
                    info.get("path") or "-",
                    str(info["job"]) if info.get("job") else "-",
                    info.get("reason") or "-",
                )
                for name, info in rows
            ],
            indent="  ",
        )
    unmanaged = (maintenance.plan or {}).get("unmanaged") or []
    if unmanaged:
        out.write(f"left alone (not managed by VM Persona): {', '.join(unmanaged)}")
    if maintenance.summary:
        out.write("summary:")
        for line in maintenance.summary.splitlines():
            out.write(f"  {line}")


def print_maintenances(out: Output, rows: Sequence[HostMaintenance]) -> None:
    if not rows:
        out.write("no maintenances")
        return
    listed = []
    for m in rows:
        vms = m.vms or {}
        moved = sum(1 for i in vms.values() if i.get("status") == "moved")
        listed.append(
            (
                str(m.pk),
                m.platform.name,
                m.state,
                m.window.name if m.window else "(at once)",
                utc(m.started_at),
                m.requested_by.get_username() if m.requested_by else "-",
                utc(m.ended_at),
                f"{moved}/{len(vms)} moved",
            )
        )
    table(
        out,
        ("ID", "PLATFORM", "STATE", "WINDOW", "STARTED", "BY", "ENDED", "VMS"),
        listed,
    )
