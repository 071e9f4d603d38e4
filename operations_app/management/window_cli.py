"""The maintenance window subcommands of ``manage.py persona``::

    persona window add NAME --tz ZONE --start 2026-12-12T02:00 --duration 3h
                       [--kind maintenance|blackout] [--rrule 'FREQ=MONTHLY;BYDAY=2SA']
                       [--exdate 2027-01-09 ...] [--cutoff 30] [--platform P ...]
                       [--profile NAME ...] [--flag Production ...] [--label k=v ...]
                       [--description TEXT] [--webhook URL] [--disabled]
                       [--approval [--approval-kind KIND ...]] [--as USER]
    persona window list [--kind KIND]
    persona window show NAME [--count N]
    persona window export [NAME ...] [-o FILE]
    persona window import FILE [--replace] [--as USER]
    persona window delete NAME [--as USER]

Changes go through the windows service, as ``--as USER`` (an operator) or else as the
system; invalid input prints each problem as ``<path>: <message>`` (exit 1), an unknown
window or a refusal exits 3.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import date, time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from operations_app.labels import parse_labels
from operations_app.management.job_cli import Output
from operations_app.models import MaintenanceWindow, WindowKind
from operations_app.presentation.windows import approval_text, next_occurrences, scope_text
from operations_app.selectors import windows as window_selectors
from operations_app.services import windows as window_services
from operations_app.services.windows import KIND_NAMES
from operations_app.windows import describe
from operations_app.windows.text import span
from vmpersona.errors import DomainError, field_error

USAGE = (
    "persona window add NAME --tz ZONE --start YYYY-MM-DDTHH:MM --duration 3h [...] | "
    "persona window list | persona window show NAME | persona window export [NAME ...] "
    "[-o FILE] | persona window import FILE [--replace] | persona window delete NAME"
)
_DURATION = re.compile(
    r"(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*(?:m|min)?)?", re.IGNORECASE
)


def add_parser(sub, as_option: Callable[[Any], None]) -> None:
    """``persona window ...``; ``as_option`` adds the command's ``--as USER``."""
    win = sub.add_parser(
        "window",
        help="maintenance windows: when work may start, and blackouts",
        description="Maintenance and blackout windows (docs/windows.md).",
    )
    actions = win.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser(
        "add",
        help="create a window",
        description="Create a window. The start is local time in --tz; each occurrence "
        "lasts --duration (elapsed time). Without --rrule it opens once.",
    )
    add.add_argument("name", help="lowercase letters, digits and dashes")
    add.add_argument("--kind", choices=WindowKind.values, default=WindowKind.MAINTENANCE)
    add.add_argument(
        "--tz", required=True, dest="timezone", metavar="ZONE", help="IANA zone, e.g. Europe/Berlin"
    )
    add.add_argument(
        "--start", required=True, metavar="DATE[THH:MM]", help="the first start, local time"
    )
    add.add_argument(
        "--duration", required=True, metavar="DURATION", help="e.g. 3h, 90m, 1h30m, 2d, or minutes"
    )
    add.add_argument(
        "--rrule", default="", metavar="RRULE", help="RFC 5545, e.g. 'FREQ=MONTHLY;BYDAY=2SA'"
    )
    add.add_argument(
        "--exdate", action="append", default=[], metavar="DATE", help="a local day to skip"
    )
    add.add_argument(
        "--cutoff", default="0", metavar="MINUTES", help="no new work in the last N minutes"
    )
    add.add_argument("--platform", action="append", default=[], help="repeat for several")
    add.add_argument(
        "--profile", action="append", default=[], help="VPPD profile; repeat for several"
    )
    add.add_argument(
        "--flag", action="append", default=[], help="execution flag, e.g. Production; repeatable"
    )
    add.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    add.add_argument("--description", default="")
    add.add_argument("--webhook", default="", metavar="URL", help="where reminders are posted")
    add.add_argument("--disabled", action="store_true", help="create it disabled")
    add.add_argument(
        "--approval",
        action="store_true",
        help="scheduled jobs in it start only once an approver other than the requester "
        "approves them",
    )
    add.add_argument(
        "--approval-kind",
        action="append",
        default=[],
        dest="approval_kind",
        metavar="KIND",
        help=f"with --approval: only jobs of this kind ({KIND_NAMES}); repeatable; "
        "default: every kind",
    )
    as_option(add)

    listing = actions.add_parser("list", help="list the windows and when each opens next")
    listing.add_argument("--kind", choices=WindowKind.values)

    show = actions.add_parser("show", help="a window's settings and next occurrences")
    show.add_argument("name")
    show.add_argument(
        "--count", type=int, default=10, metavar="N", help="occurrences to show (default 10)"
    )

    export = actions.add_parser("export", help="write windows as an iCalendar (.ics) file")
    export.add_argument("names", nargs="*", metavar="NAME", help="default: every window")
    export.add_argument("-o", "--output", metavar="FILE", help="default: standard output")

    imp = actions.add_parser("import", help="create windows from an .ics file (all or nothing)")
    imp.add_argument("file", metavar="FILE", help="the .ics file ('-' for standard input)")
    imp.add_argument(
        "--replace", action="store_true", help="update the windows it names that exist already"
    )
    as_option(imp)

    delete = actions.add_parser("delete", help="delete a window (its history stays)")
    delete.add_argument("name")
    as_option(delete)


# --------------------------------------------------------------------------- parsing


def parse_duration(text: str) -> int:
    """``3h`` -> 180, ``1h30m`` -> 90, ``90m`` or ``90`` -> 90, ``2d`` -> 2880; an
    ``H:MM`` too. A problem at ``duration``."""
    text = (text or "").strip()
    clock = re.fullmatch(r"(\d+):([0-5]\d)", text)
    if clock:
        return int(clock.group(1)) * 60 + int(clock.group(2))
    match = _DURATION.fullmatch(text)
    if not text or match is None or not any(match.groupdict().values()):
        raise field_error("duration", f"'{text}' is not a duration such as 3h, 90m or 1h30m")
    days, hours, minutes = (int(match.group(k) or 0) for k in "dhm")
    return days * 1440 + hours * 60 + minutes


def parse_start(text: str) -> tuple[date, time]:
    """``2026-12-12T02:00`` (or with a space, or a date alone for midnight), local."""
    text = (text or "").strip()
    day, _, clock = text.replace(" ", "T", 1).partition("T")
    try:
        return date.fromisoformat(day), time.fromisoformat(clock) if clock else time(0, 0)
    except ValueError:
        raise field_error(
            "start", f"'{text}' is not a local date and time such as 2026-12-12T02:00"
        ) from None


def _minutes(text: str, path: str) -> int:
    if not str(text).strip().isdigit():
        raise field_error(path, f"'{text}' is not a whole number of minutes")
    return int(text)


def window_data(opts: dict[str, Any]) -> dict[str, Any]:
    """``persona window add``'s options as the service's ``data``; every problem of the
    options at once."""
    problems: list[ValidationError] = []
    values: dict[str, Any] = {}
    for key, parse in (
        ("start", lambda: parse_start(opts["start"])),
        ("duration_minutes", lambda: parse_duration(opts["duration"])),
        ("cutoff_minutes", lambda: _minutes(opts["cutoff"], "cutoff")),
    ):
        try:
            values[key] = parse()
        except ValidationError as exc:
            problems.append(exc)
    labels, label_errors = parse_labels(opts["label"], path="label")
    problems += [field_error(e.path, e.message) for e in label_errors]
    if opts.get("approval_kind") and not opts.get("approval"):
        problems.append(
            field_error(
                "approval_kind",
                "give --approval too: --approval-kind says which jobs the approval is about",
            )
        )
    if problems:
        raise ValidationError(problems)
    start_date, start_time = values.pop("start")
    return {
        "name": opts["name"],
        "kind": opts["kind"],
        "timezone": opts["timezone"],
        "start_date": start_date,
        "start_time": start_time,
        "rrule": opts["rrule"],
        "exdates": list(opts["exdate"]),
        "platforms": list(opts["platform"]),
        "profiles": list(opts["profile"]),
        "execution_flags": list(opts["flag"]),
        "labels": labels,
        "description": opts["description"],
        "webhook_url": opts["webhook"],
        "enabled": not opts["disabled"],
        "approval_required": bool(opts.get("approval")),
        "approval_kinds": list(opts.get("approval_kind") or ()),
        **values,
    }


def window_named(name: str) -> MaintenanceWindow:
    window = window_selectors.window_get(name)
    if window is None:
        raise DomainError(f"No maintenance window named '{name}'.")
    return window


# --------------------------------------------------------------------------- the actions


def run(opts: dict[str, Any], out: Output, *, user) -> None:
    """``persona window ACTION``, made as ``user`` (None: the system)."""
    action = opts["action"]
    if action == "add":
        window = window_services.window_create(user=user, data=window_data(opts))
        out.write(f"window {window.name} created: {summary_line(window)}")
    elif action == "list":
        print_windows(out, kind=opts.get("kind") or "")
    elif action == "show":
        print_window(out, window_named(opts["name"]), count=max(0, opts["count"]))
    elif action == "export":
        export(out, names=opts["names"], output=opts.get("output"))
    elif action == "import":
        content = _read(opts["file"])
        imported = window_services.windows_import_ics(
            user=user, data=content, replace=opts["replace"]
        )
        names = ", ".join(w.name for w in imported)
        out.write(f"imported {len(imported)} window{'s' if len(imported) != 1 else ''}: {names}")
    elif action == "delete":
        window = window_named(opts["name"])
        window_services.window_delete(user=user, window=window)
        out.write(f"window {window.name} deleted")


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DomainError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def summary_line(window: MaintenanceWindow) -> str:
    """The rule in words and the next occurrence."""
    upcoming = next_occurrences(window.rule(), timezone.now(), count=1)
    after = f"next {upcoming[0].text}" if upcoming else "no occurrence ahead"
    if upcoming and upcoming[0].is_open:
        after = f"open now ({upcoming[0].text})"
    return f"{describe(window.rule())}; {after}"


def print_windows(out: Output, *, kind: str = "") -> None:
    now = timezone.now()
    out.write(f"{'NAME':<24} {'KIND':<12} {'ENABLED':<8} {'TIME ZONE':<20} NEXT")
    for window in window_selectors.window_list(kind=kind):
        upcoming = next_occurrences(window.rule(), now, count=1)
        nxt = upcoming[0].text if upcoming else "-"
        if upcoming and upcoming[0].is_open:
            nxt = f"open now: {nxt}"
        enabled = "yes" if window.enabled else "no"
        out.write(f"{window.name:<24} {window.kind:<12} {enabled:<8} {window.timezone:<20} {nxt}")


def print_window(out: Output, window: MaintenanceWindow, *, count: int = 10) -> None:
    rule = window.rule()
    lines = [
        ("name", window.name),
        ("kind", window.kind + ("" if window.enabled else " (disabled)")),
        ("when", describe(rule)),
        ("time zone", window.timezone),
        ("start", f"{window.start_date.isoformat()} {window.start_time:%H:%M} (local)"),
        ("duration", span(window.duration_minutes)),
        ("rrule", window.rrule or "(once)"),
        ("exdates", ", ".join(window.exdates or ()) or "-"),
        ("cutoff", span(window.cutoff_minutes) if window.cutoff_minutes else "-"),
        ("applies to", scope_text(window.scope())),
        ("approval", approval_text(window.approval_required, window.approval_kinds or ())),
        ("description", window.description or "-"),
        ("webhook", window.webhook_url or "-"),
    ]
    for label, value in lines:
        out.write(f"{label + ':':<13}{value}")
    upcoming = next_occurrences(rule, timezone.now(), count=count) if count else []
    out.write("next occurrences:" if upcoming else "next occurrences: none ahead")
    for o in upcoming:
        extra = f"  [{o.cutoff_text}]" if o.cutoff_text else ""
        state = "  (open now)" if o.is_open else ""
        out.write(f"  {o.text}  =  {o.utc_text}{extra}{state}")


def export(out: Output, *, names: list[str], output: str | None) -> None:
    windows = [window_named(n) for n in names] if names else window_selectors.window_list()
    content = window_services.windows_export_ics(windows)
    if output and output != "-":
        try:
            Path(output).write_bytes(content)
        except OSError as exc:
            raise DomainError(f"Cannot write {output}: {exc.strerror or exc}.") from exc
        count = len(windows) if isinstance(windows, list) else windows.count()
        out.write(f"{count} window{'s' if count != 1 else ''} written to {output}")
    else:
        out.write(content.decode())
