"""The job subcommands of ``manage.py persona``: request, list, show and follow jobs,
confirm or extend a job's health watch, print a migration's dry run and a VM's snapshots.

Following a job reads its ``JobEvent`` rows after the last sequence number seen, so it
works whichever process or host runs the worker, and misses nothing.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from operations_app.management.schedule_cli import schedule_rows
from operations_app.models import (
    TERMINAL_STATUSES,
    JobEvent,
    JobStatus,
    OperationJob,
)
from operations_app.presentation.formatting import duration_text, size_text
from operations_app.presentation.jobs import health_text, remaining_text, watch_text
from operations_app.selectors import clone as clone_selectors
from operations_app.selectors import jobs as job_selectors
from operations_app.selectors import platforms as platform_selectors
from operations_app.selectors import snapshots as snapshot_selectors
from operations_app.selectors import vms as vm_selectors
from operations_app.services import clones as clone_services
from operations_app.services import decommissions as decommission_services
from operations_app.services import migrations as migration_services
from operations_app.services import power as power_services
from operations_app.services import snapshots as snapshot_services
from operations_app.services import watch as watch_services
from vmpersona.errors import DomainError

CLI_USER_ENV = "VMPERSONA_CLI_USER"
BAR_WIDTH = 30
BATCH = 500

# ``persona power VM ACTION``: the words typed, and the service's action for each.
POWER_ACTIONS = {
    "start": power_services.PowerAction.START,
    "shutdown": power_services.PowerAction.SHUTDOWN,
    "reboot": power_services.PowerAction.REBOOT,
    "force-off": power_services.PowerAction.FORCE_OFF,
}

EXIT_JOB_UNSUCCESSFUL = 4
EXIT_WAIT_TIMEOUT = 5


class Output(Protocol):
    """Where lines go: a command's ``self.stdout`` (which adds the newline) or a test's."""

    def write(self, msg: str) -> object: ...


class JobOutcome(Exception):
    """A followed job did not succeed (or did not end in time); ``code`` is the exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def cli_user(username: str | None):
    """The user a request is made as: ``--as USER``, else ``$VMPERSONA_CLI_USER``."""
    name = (username or os.environ.get(CLI_USER_ENV, "")).strip()
    if not name:
        raise CommandError(f"Say who is asking: --as USER, or set {CLI_USER_ENV}.", returncode=2)
    user = get_user_model().objects.filter(username=name).first()
    if user is None or not user.is_active:
        raise DomainError(f"No active user named '{name}'.")
    return user


def schedule_arguments(opts: dict) -> dict:
    """``--window``, ``--at`` and ``--on-miss`` for a request service (the service parses
    and checks them, naming ``window``, ``at`` or ``on_miss``)."""
    return {
        "window": opts.get("window") or None,
        "at": opts.get("at") or None,
        "on_miss": opts.get("on_miss") or "next",
    }


def request_clone(
    *, user, profile: str, number: int | None, platform: str | None, vm_name: str, **when: Any
):
    """``platform`` None, "" or "auto": placement chooses it."""
    version = clone_selectors.clone_source(profile=profile, number=number)
    target = (
        None
        if (platform or "auto").strip() == "auto"
        else platform_selectors.platform_named(platform or "")
    )
    return clone_services.job_request_clone(
        user=user, version=version, platform=target, vm_name=vm_name, **when
    )


def _migration_objects(*, vm: str, source: str | None, target: str):
    found = vm_selectors.vm_named(vm, platform=source or "")
    return found, platform_selectors.platform_ref(target, path="target")


def request_migrate(*, user, vm: str, source: str | None, target: str, mode: str, **when: Any):
    found, platform = _migration_objects(vm=vm, source=source, target=target)
    return migration_services.job_request_migrate(
        user=user, vm=found, target=platform, mode=mode, **when
    )


def migration_plan(*, user, vm: str, source: str | None, target: str, mode: str) -> dict:
    found, platform = _migration_objects(vm=vm, source=source, target=target)
    return migration_services.migration_preview(user=user, vm=found, target=platform, mode=mode)


def request_snapshot(*, user, vm: str, platform: str | None, description: str, **when: Any):
    found = vm_selectors.vm_named(vm, platform=platform or "")
    return snapshot_services.job_request_snapshot(
        user=user, vm=found, description=description, **when
    )


def request_rollback(*, user, vm: str, platform: str | None, snapshot: str):
    found = vm_selectors.vm_named(vm, platform=platform or "")
    chosen = snapshot_selectors.snapshot_ref(found, snapshot)
    job = snapshot_services.job_request_rollback(user=user, vm=found, snapshot=chosen)
    return job, chosen


def vm_snapshot_list(*, vm: str, platform: str | None, include_removed: bool):
    found = vm_selectors.vm_named(vm, platform=platform or "")
    return found, list(snapshot_services.vm_snapshots(vm=found, include_removed=include_removed))


def request_destroy(*, user, vm: str, platform: str | None, **when: Any):
    target = vm_selectors.vm_named(vm, platform=platform or "")
    return decommission_services.job_request_decommission(user=user, vm=target, **when)


def request_power(*, user, vm: str, platform: str | None, action: str):
    """``action`` as typed (``force-off``) or as the service names it (``force_off``)."""
    target = vm_selectors.vm_named(vm, platform=platform or "")
    return power_services.job_request_power(
        user=user, vm=target, action=POWER_ACTIONS.get(action, action)
    )


def watch_extend(*, user, job: OperationJob, minutes: str | int) -> OperationJob:
    """``minutes`` as typed: a whole number, or the service refuses it (``minutes: ...``)."""
    value: Any = minutes
    try:
        value = int(minutes)
    except ValueError:
        pass
    return watch_services.job_watch_extend(user=user, job=job, minutes=value)


def job_or_error(pk: int) -> OperationJob:
    job = (
        OperationJob.objects.select_related(
            "platform",
            "profile_version__policy",
            "requested_by",
            "source_platform",
            "window",
            "approved_by",
        )
        .filter(pk=pk)
        .first()
    )
    if job is None:
        raise DomainError(f"No job #{pk}.")
    return job


# --------------------------------------------------------------------------- output


def progress_bar(percent: int, width: int = BAR_WIDTH) -> str:
    percent = max(0, min(100, int(percent)))
    filled = round(width * percent / 100)
    return f"[{'#' * filled}{'.' * (width - filled)}] {percent:3d}%"


def _duration(seconds: float | None) -> str:
    return duration_text(seconds, unknown="-")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _when_iso(value) -> str:
    """An ISO time from an event's payload, as ``_when`` writes the rows' (UTC) times;
    "-" if unreadable."""
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is not None and timezone.is_aware(parsed):
        parsed = parsed.astimezone(UTC)
    return _when(parsed)


def watch_until_text(job: OperationJob, *, now: datetime | None = None) -> str:
    """``2024-05-01 12:04:05 (in 4 min 5 s)``: when the job's health watch ends."""
    if job.watch_until is None:
        return "-"
    now = now or timezone.now()
    left = remaining_text((job.watch_until - now).total_seconds())
    return f"{_when(job.watch_until)} ({left})"


def print_jobs(
    out: Output, *, status: list[str], kind: str, platform: str, vm_name: str, limit: int
) -> None:
    jobs = job_selectors.job_list_all(kind=kind, status=status, platform=platform, vm_name=vm_name)
    out.write(
        f"{'ID':>5}  {'KIND':<12} {'STATUS':<12} {'PROG':>4}  {'VM':<24} {'PLATFORM':<12} "
        f"{'PROFILE':<22} {'BY':<12} CREATED"
    )
    for job in jobs[: max(1, limit)]:
        profile = job.profile_version.label if job.profile_version else "-"
        by = job.requested_by.username if job.requested_by else "-"
        out.write(
            f"{job.pk:>5}  {job.kind:<12} {job.status:<12} {job.progress:>3}%  {job.vm_name:<24} "
            f"{job.platform.name:<12} {profile:<22} {by:<12} {_when(job.created_at)}"
        )


def print_job(out: Output, job: OperationJob, *, events: bool = False) -> None:
    rows = [
        ("job", f"#{job.pk} {job.get_kind_display().lower()} {job.vm_name}"),
        (
            "status",
            job.status + (" (cancel requested)" if job.cancel_requested and job.is_active else ""),
        ),
        (
            "progress",
            progress_bar(job.progress)
            + (f"  {job.current_step}" if job.current_step and job.is_active else ""),
        ),
        ("profile", job.profile_version.label if job.profile_version else "-"),
        ("content hash", job.content_hash or "-"),
        (
            "platform",
            job.platform.name
            + (f" (from {job.source_platform.name})" if job.source_platform else ""),
        ),
        ("trigger", job.trigger),
        ("requested by", job.requested_by.username if job.requested_by else "-"),
        ("created", _when(job.created_at)),
        ("started", _when(job.started_at)),
        ("finished", _when(job.finished_at)),
        ("duration", _duration(job_selectors.job_duration_s(job))),
    ]
    rows += schedule_rows(job)
    if job.status == JobStatus.WATCHING:
        rows.append(("watch until", watch_until_text(job)))
        health = job_selectors.job_latest_payload(job=job, kind="health", upto=job.event_seq)
        if health is not None:
            rows.append(("last round", health_text(health).removeprefix("health ")))
    if job.error:
        rows.append(("error", job.error))
    if job.failing_check:
        rows.append(("failing check", job.failing_check))
    for key, value in rows:
        out.write(f"{key + ':':<15}{value}")
    steps = job_selectors.job_steps(job=job)
    if steps:
        out.write("steps:")
        for step in steps:
            out.write(
                f"  {step.index + 1:>2}. {step.name:<28} {step.status:<10} {_duration(step.duration_s):>10}"
            )
    checks = job_selectors.job_checks(job=job)
    if checks:
        summary = job_selectors.check_summary(checks)
        out.write(f"checks:        {summary['passed']} passed, {summary['failed']} failed")
        for check in checks:
            if not check.passed:
                out.write("  " + _check_line(check.__dict__))
    if events:
        out.write("events:")
        for event in job_selectors.job_events(job=job, after=0, limit=100_000):
            out.write(
                f"  {event.seq:>5} {_when(event.created_at)} {event.kind:<15} "
                f"{json.dumps(event.payload, default=str, sort_keys=True)}"
            )


def _check_line(check: dict) -> str:
    verdict = "pass" if check.get("passed") else "FAIL"
    where = f" {check['pointer']}" if check.get("pointer") else ""
    return (
        f"check {verdict} [{check.get('section', '')}] {check.get('name', '')}{where}: "
        f"expected {check.get('expected', '')!s}, actual {check.get('actual', '')!s}"
    )


def _bytes(value) -> str:
    return size_text(value, unknown="-")


def _table(out: Output, header: tuple[str, ...], rows: list[tuple], indent: str = "  ") -> None:
    """Columns padded to their widest cell; the last one is not padded."""
    cells = [header, *[tuple("-" if c in ("", None) else str(c) for c in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.write(indent + "  ".join([*padded, row[-1]]).rstrip())


def _command(action: dict) -> str:
    command = action.get("command") or []
    text = shlex.join(command) if isinstance(command, list) else str(command)
    timeout = action.get("timeout")
    expect = action.get("expect_exit_code", 0)
    extra = f"timeout {timeout}s, " if timeout is not None else ""
    return f"{text}  ({extra}expect exit {expect})"


CPU_COMPARED = {True: "compatible", False: "incompatible", None: "not compared"}
DIFFERENCE_HEADER = ("KIND", "SUBJECT", "SOURCE", "TARGET", "BLOCKING", "DETAIL")
DISK_HEADER = ("DEVICE", "VOLUME", "SIZE", "USED", "ENCRYPTED", "POOL")


def _difference_row(d: dict) -> tuple:
    blocking = "yes" if d.get("blocking") else "no"
    detail = " ".join(x for x in (d.get("detail"), d.get("reason")) if x)
    return (d.get("kind"), d.get("subject"), d.get("source"), d.get("target"), blocking, detail)


def _disk_row(d: dict) -> tuple:
    size, used = _bytes(d.get("capacity_bytes")), _bytes(d.get("allocation_bytes"))
    encrypted = "yes" if d.get("encrypted") else "no"
    pools = f"{d.get('from_pool') or '-'} -> {d.get('to_pool') or '-'}"
    return (d.get("target"), d.get("volume"), size, used, encrypted, pools)


def _listing(
    out: Output,
    title: str,
    items: list | None,
    header: tuple[str, ...],
    row: Callable[[dict], tuple],
) -> None:
    """``title:`` over a table of ``items`` (``row(item)`` each), or ``title:`` and
    ``none`` in the column the report's values start in."""
    items = items or []
    out.write(f"{title}:" if items else f"{title}:".ljust(14) + " none")
    if items:
        _table(out, header, [row(item) for item in items])


def _bullets(out: Output, title: str, items: list | None, mark: str = "-") -> None:
    """``title:`` over one ``mark``ed line per item; nothing when there are none."""
    if items:
        out.write(f"{title}:")
        for item in items:
            out.write(f"  {mark} {item}")


def print_plan(out: Output, plan: dict) -> None:
    """A migration dry run (``migration_preview``) as a report: the verdict first, then
    what the job would do, and the definition diff last."""
    path = f"{plan['path']}: {plan['path_reason']}" if plan.get("path") else "-"
    rows = [
        ("migration", f"{plan['vm']}: {plan['source']} -> {plan['target']}"),
        ("profile", plan.get("profile_version") or "-"),
        ("vm state", "running" if plan.get("running") else "not running"),
        ("mode", f"{plan.get('requested_mode', 'auto')} (requested)"),
        ("ready", "yes" if plan.get("ready") else "no"),
        ("verdict", plan.get("verdict", "")),
        ("path", path),
    ]
    if plan.get("refused"):
        rows.append(("refused", plan["refused"]))
    rows.append(("host CPU", CPU_COMPARED.get(plan.get("cpu_compatible"), "not compared")))
    rows.append(("to copy", _bytes(plan.get("copy_bytes"))))
    for key, value in rows:
        out.write(f"{key + ':':<15}{value}")

    _bullets(out, "problems", plan.get("problems"), "!")

    _listing(out, "differences", plan.get("differences"), DIFFERENCE_HEADER, _difference_row)

    fixes = plan.get("fixes") or []
    out.write("fixes:" + ("" if fixes else "         none"))
    for fix in fixes:
        out.write(f"  {fix.get('fix_id')} ({fix.get('when')}): {fix.get('description', '')}")
        for change in fix.get("changes") or []:
            out.write(f"    - {change}")

    for key, title in (
        ("guest_commands_before", "guest commands before the cutover"),
        ("guest_commands_after", "guest commands after the cutover"),
    ):
        commands = plan.get(key) or []
        if commands:
            out.write(f"{title}:")
            for fix in commands:
                out.write(f"  {fix.get('fix_id')}: {_command(fix.get('action') or {})}")

    _bullets(out, "hardware changes", plan.get("hardware_changes"))

    _listing(out, "disks", plan.get("disks"), DISK_HEADER, _disk_row)

    _bullets(out, "notes", plan.get("notes"))

    diff = plan.get("xml_diff") or []
    out.write("definition diff:" + ("" if diff else " none"))
    for line in diff:
        out.write("  " + line)


def print_snapshots(out: Output, vm, snapshots, *, include_removed: bool) -> None:
    """A VM's snapshots as a table, newest first; a snapshot on another platform than
    the VM's is marked, since a rollback needs one on the VM's platform."""
    if not snapshots:
        out.write(f"{vm.name} has no {'' if include_removed else 'present '}snapshots")
        return
    header = ["ID", "NAME", "ORIGIN", "MEMORY", "VM STATE", "PLATFORM", "JOB", "CREATED"]
    if include_removed:
        header.append("REMOVED")
    header.append("DESCRIPTION")
    rows = []
    for snap in snapshots:
        platform = snap.platform.name + ("" if snap.platform_id == vm.platform_id else " (other)")
        row = [
            snap.pk,
            snap.name,
            snap.origin,
            "yes" if snap.with_memory else "no",
            snap.vm_state,
            platform,
            f"#{snap.job_id}" if snap.job_id else "-",
            _when(snap.created_at),
        ]
        if include_removed:
            row.append(
                f"{_when(snap.removed_at)} ({snap.removed_reason})"
                if snap.removed_at and snap.removed_reason
                else _when(snap.removed_at)
            )
        row.append(snap.description)
        rows.append(tuple(row))
    _table(out, tuple(header), rows, indent="")


# --------------------------------------------------------------------------- following


class _Printer:
    def __init__(self, out: Output, verbosity: int) -> None:
        self.out = out
        self.verbosity = verbosity
        self.progress: int | None = None

    def event(self, event: JobEvent) -> None:
        p = event.payload or {}
        kind = event.kind
        if kind == "status":
            status, reason = p.get("status") or "", p.get("reason") or ""
            shown = f" ({reason})" if reason and reason != status else ""
            self.out.write(f"status: {status}{shown}")
        elif kind == "step_started":
            title = f" - {p['title']}" if p.get("title") else ""
            self.out.write(f"step {int(p.get('index', 0)) + 1}: {p.get('step', '')}{title}")
        elif kind == "step_finished":
            status = p.get("status", "")
            mark = "ok" if status == "succeeded" else status.upper()
            self.out.write(f"  {mark} {p.get('step', '')} ({_duration(p.get('duration_s'))})")
            if status == "failed" and p.get("output"):
                for line in str(p["output"]).splitlines()[-10:]:
                    self.out.write(f"    | {line}")
        elif kind == "progress":
            value = int(p.get("progress") or 0)
            if value != self.progress:
                self.progress = value
                step = f"  {p['step']}" if p.get("step") else ""
                self.out.write(progress_bar(value) + step)
        elif kind == "log":
            level = p.get("level") or "info"
            if level in ("warning", "error") or self.verbosity >= 2:
                mark = {"warning": "!", "error": "!!"}.get(level, "-")
                self.out.write(f"  {mark} {p.get('message', '')}")
        elif kind == "check":
            if not p.get("passed") or self.verbosity >= 2:
                self.out.write("  " + _check_line(p))
        elif kind == "cancel_requested":
            self.out.write("cancel requested" + (f" by {p['by']}" if p.get("by") else ""))
        elif kind == "health":
            self.out.write(health_text(p))
        elif kind == "watch":
            until = f", until {_when_iso(p['until'])}" if p.get("until") else ""
            self.out.write(watch_text(p) + until)
        elif kind == "result" and self.verbosity >= 2:
            self.out.write("result: " + json.dumps(p, default=str, sort_keys=True))


def follow(
    job: OperationJob,
    *,
    after: int,
    out: Output,
    verbosity: int = 1,
    interval: float = 1.0,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> OperationJob:
    """Print the job's events as they are recorded until it ends.

    Returns the job if it succeeded; raises ``JobOutcome`` (exit 4) if it ended any other
    way, or (exit 5) if ``timeout`` seconds pass first.
    """
    printer = _Printer(out, verbosity)
    deadline = clock() + timeout if timeout else None
    seq = after
    while True:
        # Status first: the event that made it terminal was committed with it, so the
        # events read next include it.
        status = OperationJob.objects.values_list("status", flat=True).get(pk=job.pk)
        events = list(JobEvent.objects.filter(job_id=job.pk, seq__gt=seq).order_by("seq")[:BATCH])
        for event in events:
            printer.event(event)
            seq = event.seq
        if len(events) == BATCH:
            continue
        if status in TERMINAL_STATUSES:
            break
        if deadline is not None and clock() >= deadline:
            raise JobOutcome(
                f"Job {job.pk} is still {status} after {timeout:g}s; it goes on without us "
                f"(persona job {job.pk} --wait).",
                EXIT_WAIT_TIMEOUT,
            )
        sleep(interval)
    job.refresh_from_db()
    took = _duration(job_selectors.job_duration_s(job))
    if job.status == JobStatus.SUCCEEDED:
        out.write(f"job {job.pk} succeeded in {took}")
        return job
    message = f"Job {job.pk} {job.get_status_display().lower()}"
    if job.error:
        message += f": {job.error}"
    if job.failing_check:
        message += f"\nFailing check: {job.failing_check}"
    raise JobOutcome(message, EXIT_JOB_UNSUCCESSFUL)
