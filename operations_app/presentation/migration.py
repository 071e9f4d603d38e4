"""How a migration reads on a page: the dry run's plan and a migrate job's summary.

Pure functions from the dicts the services and the runner produce (``migration_preview``
and ``OperationJob.result``) to what the templates show: sizes in IEC units, the XML
diff's lines with their kind, each difference with the fix that resolves it. No queries
and no writes; a key missing from an unfinished result shows as "—" or as still to come.
"""

from __future__ import annotations

from typing import Any

from operations_app.models import ManagedVM, VMState
from operations_app.presentation.formatting import ms_text, size_text

# Keys of a migrate job's result that the Migration section presents, or that are the
# runner's working state (the restore point keeps the whole domain XML): the generic
# result list on the job page leaves them out.
MIGRATION_RESULT_KEYS = frozenset(
    {
        "adaptation",
        "adapted_xml",
        "cut_over",
        "disks",
        "guest_commands_after",
        "guest_commands_before",
        "migration",
        "path",
        "path_reason",
        "requested_mode",
        "restore_point",
        "secrets",
        "source_stopped",
        "xml_diff",
    }
)


def vm_migratable(vm: ManagedVM) -> bool:
    """Whether the VM is one a migration could be asked for: it conforms to a profile
    version and is still on its platform. (The service checks this, and more, again.)"""
    return bool(vm.managed and vm.profile_version_id and vm.state != VMState.GONE)


def diff_lines(lines: Any) -> list[dict[str, str]]:
    """Unified-diff lines with their kind: file, hunk, add, del or ctx."""
    out = []
    for line in lines or []:
        text = str(line)
        if text.startswith(("+++", "---")):
            kind = "file"
        elif text.startswith("@@"):
            kind = "hunk"
        elif text.startswith("+"):
            kind = "add"
        elif text.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        out.append({"kind": kind, "text": text})
    return out


def diff_view(lines: Any) -> dict[str, Any]:
    """The diff's lines and how many were added and removed."""
    rows = diff_lines(lines)
    return {
        "lines": rows,
        "added": sum(1 for r in rows if r["kind"] == "add"),
        "removed": sum(1 for r in rows if r["kind"] == "del"),
    }


def _key(difference: dict) -> tuple[str, str]:
    return (str(difference.get("kind", "")), str(difference.get("subject", "")))


def _identity(difference: dict) -> tuple[str, str, str, str]:
    """What makes two difference entries the same one: kind, subject, source, target."""
    return (*_key(difference), str(difference.get("source", "")), str(difference.get("target", "")))


def difference_rows(
    differences: Any,
    fixes: Any,
    *,
    ok: Any = None,
    problems: Any = None,
    unresolved: Any = None,
) -> list[dict[str, Any]]:
    """Each difference with the fixes that change the definition for it (``fixed_by``)
    and the guest commands that run for it (``commands``).

    ``unresolved`` is the plan's own list of what is left after the fixes (entries shaped
    like the differences, with the ``reason`` no fix resolved them). A blocking
    difference in it (same kind, subject, source and target) is ``unresolved``; each
    row takes its ``reason``. What is in it but not among the differences (it appeared
    after a fix changed the definition, or a fix changed its value) gets a row of its own.

    Results stored before the list was kept have only ``problems``: there, a blocking
    difference is ``unresolved`` when the plan is not ``ok`` and one of its problems is
    about it (a problem is the difference's detail followed by why it stayed unresolved).
    """
    fixed_by: dict[tuple[str, str], list[str]] = {}
    commands: dict[tuple[str, str], list[str]] = {}
    for fix in fixes or []:
        into = fixed_by if fix.get("when") == "definition" else commands
        for difference in fix.get("differences") or []:
            ids = into.setdefault(_key(difference), [])
            if str(fix.get("fix_id", "")) not in ids:
                ids.append(str(fix.get("fix_id", "")))
    exact = isinstance(unresolved, list)
    left: dict[tuple[str, str, str, str], dict] = {}
    for entry in unresolved if exact else []:
        if isinstance(entry, dict):
            left.setdefault(_identity(entry), entry)
    problems = [str(p) for p in problems or []]
    rows = []

    def row(difference: dict, *, is_unresolved: bool, reason: Any) -> dict[str, Any]:
        blocking = bool(difference.get("blocking"))
        return {
            **difference,
            "blocking": blocking,
            "reason": str(reason or ""),
            "fixed_by": [] if is_unresolved else fixed_by.get(_key(difference), []),
            "commands": commands.get(_key(difference), []),
            "unresolved": is_unresolved,
        }

    shown: set[tuple[str, str, str, str]] = set()
    for difference in differences or []:
        blocking = bool(difference.get("blocking"))
        if exact:
            entry = left.get(_identity(difference))
            shown.add(_identity(difference))
            rows.append(
                row(
                    difference,
                    is_unresolved=blocking and entry is not None,
                    reason=(entry or {}).get("reason") or difference.get("reason"),
                )
            )
            continue
        detail = str(difference.get("detail") or "")
        is_unresolved = (
            blocking
            and ok is not True
            and bool(detail)
            and any(p.startswith(detail) for p in problems)
        )
        rows.append(row(difference, is_unresolved=is_unresolved, reason=difference.get("reason")))
    for identity, entry in left.items():
        if identity not in shown:
            rows.append(
                row(entry, is_unresolved=bool(entry.get("blocking")), reason=entry.get("reason"))
            )
    return rows


def fix_rows(fixes: Any) -> list[dict[str, Any]]:
    """The fixes in the order they apply, each with its guest command when it runs one."""
    rows = []
    for fix in fixes or []:
        action = fix.get("action") or {}
        command = action.get("command") if isinstance(action, dict) else None
        if isinstance(command, list):
            command = " ".join(str(part) for part in command)
        rows.append(
            {
                **fix,
                "when_label": str(fix.get("when", "")).replace("_", " "),
                "command": command or "",
                "builtin": str(fix.get("fix_id", "")).startswith("builtin:"),
            }
        )
    return rows


def adaptation_view(adaptation: Any) -> dict[str, Any]:
    """An adaptation summary (``plan_move``'s, as stored on the job or in the preview)."""
    adaptation = adaptation if isinstance(adaptation, dict) else {}
    fixes = adaptation.get("fixes") or []
    before = fix_rows(adaptation.get("guest_commands_before"))
    after = fix_rows(adaptation.get("guest_commands_after"))
    return {
        "known": bool(adaptation),
        "ok": adaptation.get("ok"),
        "problems": list(adaptation.get("problems") or []),
        "notes": list(adaptation.get("notes") or []),
        "hardware_changes": list(adaptation.get("hardware_changes") or []),
        "cpu_compatible": adaptation.get("cpu_compatible"),
        "differences": difference_rows(
            adaptation.get("differences"),
            fixes,
            ok=adaptation.get("ok"),
            problems=adaptation.get("problems"),
            unresolved=adaptation.get("unresolved"),
        ),
        "fixes": fix_rows(fixes),
        "guest_commands_before": before,
        "guest_commands_after": after,
        "guest_command_count": len(before) + len(after),
    }


def disk_rows(disks: Any) -> list[dict[str, Any]]:
    rows = []
    for disk in disks or []:
        rows.append(
            {
                **disk,
                "capacity": size_text(disk.get("capacity_bytes")),
                "allocated": size_text(disk.get("allocation_bytes")),
            }
        )
    return rows


def preview_view(preview: dict[str, Any]) -> dict[str, Any]:
    """``migration_preview``'s dict, ready for the dry-run template."""
    return {
        **preview,
        "plan": adaptation_view(preview),
        "disk_rows": disk_rows(preview.get("disks")),
        "copy_size": size_text(preview.get("copy_bytes")),
        "diff": diff_view(preview.get("xml_diff")),
        "diff_known": bool(preview.get("path")),
    }


def transfer_view(payload: Any) -> dict[str, Any] | None:
    """A ``transfer`` event's payload as the live line shows it; job_live.js formats
    the events that arrive later the same way."""
    if not isinstance(payload, dict):
        return None
    done, total = payload.get("done_bytes"), payload.get("total_bytes")
    what = str(payload.get("what") or "")
    text = f"transferred {size_text(done)}"
    if isinstance(total, int | float) and total:
        text += f" of {size_text(total)}"
    if what:
        text += f" ({what})"
    parts = []
    if payload.get("memory_bytes") is not None:
        parts.append(f"memory {size_text(payload.get('memory_bytes'))}")
    if payload.get("disk_bytes") is not None:
        parts.append(f"disk {size_text(payload.get('disk_bytes'))}")
    percent = None
    if isinstance(done, int | float) and isinstance(total, int | float) and total > 0:
        percent = max(0, min(100, int(100 * done / total)))
    return {
        "step": str(payload.get("step") or ""),
        "text": text,
        "detail": " · ".join(parts),
        "percent": percent,
    }


def job_migration(job, *, transfer: dict | None = None) -> dict[str, Any]:
    """The Migration section of a migrate job's page, from ``job.result``. ``transfer``
    is the newest ``transfer`` event's payload: shown while the job is in that step."""
    if transfer is not None and not (job.is_active and job.current_step == transfer.get("step")):
        transfer = None
    result = job.result if isinstance(job.result, dict) else {}
    figures: dict[str, Any] = result.get("migration") or {}
    if not isinstance(figures, dict):
        figures = {}
    params = job.params if isinstance(job.params, dict) else {}
    return {
        "source": job.source_platform.name if job.source_platform_id else "",
        "target": job.platform.name,
        "requested_mode": result.get("requested_mode") or params.get("mode") or "auto",
        "path": result.get("path") or figures.get("path") or "",
        "path_reason": result.get("path_reason") or figures.get("why") or "",
        "figures": bool(figures),
        "elapsed": ms_text(figures.get("elapsed_ms")),
        "downtime": ms_text(figures.get("downtime_ms")),
        "data": size_text(figures.get("data_processed_bytes")),
        "memory": size_text(figures.get("memory_processed_bytes")),
        "disk": size_text(figures.get("disk_processed_bytes")),
        "plan": adaptation_view(result.get("adaptation")),
        "diff": diff_view(result.get("xml_diff")),
        "diff_known": bool(result.get("path")),
        "transfer": transfer_view(transfer) if transfer is not None else None,
    }
