"""The cost subcommand of ``manage.py persona``::

    persona cost [--currency EUR] [--label SELECTOR] [--json]

What the fleet costs a month per currency (by platform and by profile), what the open
cost plans would save and when they pay back, and each platform's utilisation: the
figures of the cost page. ``--json`` prints what ``/api/v1/cost/`` answers. An invalid
label selector prints ``label: <message>`` (exit 1).
"""

from __future__ import annotations

from typing import Any

from operations_app.api.serializers.cost import CostSerializer
from operations_app.management.cli_text import print_json, table, utc
from operations_app.management.job_cli import Output
from operations_app.presentation.cost import CostReport, cost_report, money
from operations_app.selectors import cost as cost_selectors


def add_parser(sub) -> None:
    cost = sub.add_parser(
        "cost",
        help="what the fleet costs a month, what open cost plans would save, utilisation",
        description="Each VM costs its vCPUs and memory at its platform's hourly rates "
        "(730 hours) and its profile's disks at the monthly storage rate. Amounts in "
        "different currencies are never added.",
    )
    cost.add_argument("--currency", default="", metavar="CODE", help="only platforms in CODE")
    cost.add_argument(
        "--label", default="", metavar="SELECTOR", help="only platforms whose labels match"
    )
    cost.add_argument("--json", action="store_true", help="print what the API answers")


def run(opts: dict[str, Any], out: Output) -> None:
    rows = cost_selectors.cost_rows(
        currency=(opts.get("currency") or "").strip().upper(),
        label=(opts.get("label") or "").strip(),
    )
    report = cost_report(rows)
    if opts.get("json"):
        print_json(out, CostSerializer(report.to_dict()).data)
        return
    print_report(out, report)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} %"


def print_report(out: Output, report: CostReport) -> None:
    if report.no_platforms:
        out.write("No platforms yet.")
        return
    if not report.platforms:
        out.write("No platform matches these filters.")
        return
    out.write(
        f"{report.vm_count} VMs ({report.running_count} running) on "
        f"{len(report.platforms)} platforms, {utc(report.taken_at)}"
    )
    if report.no_rates:
        out.write("No rates set on these platforms: there is no cost to show.")
    for group in report.groups:
        out.write("")
        out.write(f"{group.currency}: {group.cost_text} a month, {group.vm_count} VMs")
        table(
            out,
            ["PLATFORM", "VMS", "A MONTH"],
            [[p.name, str(p.vm_count), p.cost_text] for p in group.platforms],
            indent="  ",
        )
        out.write("")
        table(
            out,
            ["PROFILE", "VMS", "A MONTH"],
            [[p.name, str(p.vm_count), p.cost_text] for p in group.profiles],
            indent="  ",
        )
        s = group.savings
        if s.action_count:
            payback = f", paid back in {s.payback_days} days" if s.payback_days is not None else ""
            plans = ", ".join(f"#{p.pk} {p.policy}" for p in s.plans)
            out.write(
                f"  Open cost plans would save {s.saving_text} a month with {s.action_count} "
                f"moves costing {s.move_cost_text}{payback} (plans {plans})."
            )
        else:
            out.write("  No open cost plan proposes a move here.")
    if report.unrated and not report.no_rates:
        names = ", ".join(p.name for p in report.unrated)
        out.write("")
        out.write(f"No rates set on {names}: their VMs are not in the totals.")
    for item in report.not_counted:
        out.write(f"Not counted: plan #{item['plan']} moves {item['vm']}: {item['reason']}.")
    out.write("")
    out.write(f"Utilisation (in use: the last {report.sample_minutes} minutes' samples)")
    table(
        out,
        ["PLATFORM", "VMS", "VCPUS", "MEMORY", "STORAGE", "CPU IN USE", "MEM IN USE", "A MONTH"],
        [
            [
                p.name,
                str(p.vm_count),
                f"{p.vcpus.text} ({_pct(p.vcpus.limit_percent)} of {p.vcpus.limit_text})",
                f"{p.memory.text} ({_pct(p.memory.limit_percent)})",
                f"{p.storage.text} ({_pct(p.storage.limit_percent)})",
                _pct(p.cpu_in_use.percent) if p.sampled_vms else "-",
                _pct(p.memory_in_use.percent) if p.sampled_vms else "-",
                money(p.monthly_cost, p.currency) if p.rates_set else "no rates set",
            ]
            for p in report.platforms
        ],
        indent="  ",
    )
