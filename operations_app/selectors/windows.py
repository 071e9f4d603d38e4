"""Reads of maintenance windows: lists, occurrences, which windows cover a platform or
a VM, whether work may start now, the calendar and conflicts.

The decisions are pure (``operations_app.windows``); these give them the rows. Each
read is a constant number of queries (the windows, their platforms, their profiles).
Datetimes in and out are aware (any zone in; UTC out).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from operations_app.models import (
    MaintenanceWindow,
    ManagedVM,
    Platform,
    WindowOccurrenceRecord,
)
from operations_app.windows import (
    CalendarRow,
    Conflict,
    Occurrence,
    ScopeTarget,
    calendar_rows,
    conflicts,
    covers,
    decide,
    occurrence_at,
    occurrences,
)
from profiles_app.models import Policy


def window_list(*, enabled: bool | None = None, kind: str = "") -> QuerySet[MaintenanceWindow]:
    """Windows by name, their platforms and profiles prefetched."""
    qs = MaintenanceWindow.objects.prefetch_related("platforms", "profiles").order_by("name")
    if enabled is not None:
        qs = qs.filter(enabled=enabled)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def window_get(name: str) -> MaintenanceWindow | None:
    """The window named ``name`` (platforms and profiles prefetched), or None."""
    return window_list().filter(name=name).first()


def window_occurrences(
    window: MaintenanceWindow, start: datetime, end: datetime, *, limit: int | None = None
) -> list[Occurrence]:
    """The window's occurrences overlapping ``[start, end)`` (UTC), in order."""
    return occurrences(window.rule(), start, end, limit=limit)


# --------------------------------------------------------------------------- coverage


def scope_target(*, platform: Platform | None = None, vm: ManagedVM | None = None) -> ScopeTarget:
    """What a window's scope is matched against: a VM (its platform, profile, execution
    flags and labels) or a platform (its name and labels). Exactly one of the two."""
    if (platform is None) == (vm is None):
        raise TypeError("give a platform or a VM")
    if vm is not None:
        version = vm.profile_version
        return ScopeTarget.for_vm(
            platform=vm.platform.name,
            profile=version.policy.name if version is not None else None,
            flags=[f for f in vm.execution_flags or () if isinstance(f, str)],
            labels=getattr(vm, "labels", None) or {},
        )
    assert platform is not None
    return ScopeTarget.for_platform(platform.name, getattr(platform, "labels", None) or {})


def _covering(
    target: ScopeTarget, windows: Iterable[MaintenanceWindow] | None = None
) -> list[MaintenanceWindow]:
    rows = window_list(enabled=True) if windows is None else windows
    return [w for w in rows if w.enabled and covers(w.scope(), target)]


def windows_for(
    *,
    platform: Platform | None = None,
    vm: ManagedVM | None = None,
    at: datetime | None = None,
) -> list[MaintenanceWindow]:
    """The enabled windows whose scope covers the platform or the VM, by name; with
    ``at``, only those open at that instant."""
    found = _covering(scope_target(platform=platform, vm=vm))
    if at is not None:
        found = [w for w in found if occurrence_at(w.rule(), at) is not None]
    return found


def window_state(
    *, platform: Platform | None = None, vm: ManagedVM | None = None, at: datetime
) -> dict[str, Any]:
    """Whether new work on the platform or the VM may start at ``at``::

        {"may_start": bool, "window": name | None, "kind": "maintenance" | "blackout" | None,
         "occurrence": Occurrence | None, "reason": str, "next_start": datetime | None,
         "until": datetime | None}

    A covering blackout that is open wins; otherwise work may start only inside a
    covering maintenance occurrence before its cutoff (and before the cutoff ahead of a
    blackout). ``next_start`` is the first instant from ``at`` on when it may (``at``
    itself when it may now); ``until`` the last instant it still may, when it may.
    """
    entries = [w.entry() for w in _covering(scope_target(platform=platform, vm=vm))]
    return decide(entries, at).as_dict()


# --------------------------------------------------------------------------- calendar


def _entries(windows: Iterable[MaintenanceWindow] | None) -> list:
    rows = window_list(enabled=True) if windows is None else windows
    return [w.entry() for w in rows]


def calendar(
    start: datetime, end: datetime, *, windows: Iterable[MaintenanceWindow] | None = None
) -> list[CalendarRow]:
    """Every occurrence overlapping ``[start, end)`` of ``windows`` (default: the
    enabled ones), by start: each row has ``name``, ``kind``, ``timezone``,
    ``occurrence`` and ``text`` (its local time in the window's zone)."""
    return calendar_rows(_entries(windows), start, end)


def window_conflicts(
    start: datetime, end: datetime, *, windows: Iterable[MaintenanceWindow] | None = None
) -> list[Conflict]:
    """Maintenance occurrences in ``[start, end)`` that a blackout with an overlapping
    scope cuts into (default: among the enabled windows)."""
    return conflicts(_entries(windows), start, end)


# --------------------------------------------------------------------------- history


def window_occurrence_records(
    window: MaintenanceWindow, *, limit: int = 10
) -> list[WindowOccurrenceRecord]:
    """What was sent about the window's latest occurrences (reminders, summaries,
    webhook deliveries; ``services.window_notices``), newest first. One query."""
    return list(
        WindowOccurrenceRecord.objects.filter(window=window).order_by("-occurrence_start")[:limit]
    )


def window_history(window: MaintenanceWindow) -> list[dict[str, Any]]:
    """The window's recorded changes, oldest first: ``{"when", "user", "type" ("+", "~"
    or "-"), "reason", "values"}``, ``values`` the window's settings after the change
    (``platforms`` and ``profiles`` as names, as its scope was then). Four queries."""

    records = list(
        MaintenanceWindow.history.filter(id=window.pk)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    # simple-history keeps each record's scope in a model of its own per relation.
    scope_rows: dict[str, dict[int, list[int]]] = {"platforms": {}, "profiles": {}}
    for relation, column in (("platforms", "platform_id"), ("profiles", "policy_id")):
        if records:
            through = getattr(records[0], relation).model
            for history_id, pk in through.objects.filter(history__in=records).values_list(
                "history_id", column
            ):
                scope_rows[relation].setdefault(history_id, []).append(pk)
    platform_ids = {pk for pks in scope_rows["platforms"].values() for pk in pks}
    profile_ids = {pk for pks in scope_rows["profiles"].values() for pk in pks}
    platform_names = dict(Platform.objects.filter(pk__in=platform_ids).values_list("pk", "name"))
    profile_names = dict(Policy.objects.filter(pk__in=profile_ids).values_list("pk", "name"))
    fields = [
        f.name
        for f in MaintenanceWindow._meta.concrete_fields
        if f.name not in ("id", "created_by", "created_at", "updated_at")
    ]
    history = []
    for record in records:
        values = {name: getattr(record, name) for name in fields}
        values["platforms"] = sorted(
            platform_names.get(pk, f"#{pk}")
            for pk in scope_rows["platforms"].get(record.history_id, [])
        )
        values["profiles"] = sorted(
            profile_names.get(pk, f"#{pk}")
            for pk in scope_rows["profiles"].get(record.history_id, [])
        )
        history.append(
            {
                "when": record.history_date,
                "user": record.history_user,
                "type": record.history_type,
                "reason": record.history_change_reason or "",
                "values": values,
            }
        )
    return history
