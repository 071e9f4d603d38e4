"""Reading host maintenance: whether a platform takes new VMs, and the records."""

from __future__ import annotations

from django.db.models import QuerySet

from operations_app.models import ACTIVE_MAINTENANCE, HostMaintenance, MaintenanceState, Platform


def maintenance_of(platform: Platform) -> HostMaintenance | None:
    """The platform's current maintenance (entering or in), or None."""
    return (
        HostMaintenance.objects.filter(platform=platform, state__in=ACTIVE_MAINTENANCE)
        .select_related("window", "requested_by")
        .first()
    )


def maintenance_active_by_platform() -> dict[int, HostMaintenance]:
    """Platform id -> its current maintenance, for lists."""
    rows = HostMaintenance.objects.filter(state__in=ACTIVE_MAINTENANCE).select_related(
        "window", "platform"
    )
    return {m.platform_id: m for m in rows}


def maintenance_refusal(platform: Platform) -> str:
    """Why no new VM may be placed on ``platform`` because of its maintenance, or ""."""
    maintenance = maintenance_of(platform)
    if maintenance is None:
        return ""
    since = maintenance.started_at.strftime("%Y-%m-%d %H:%M UTC")
    window = f" for window '{maintenance.window.name}'" if maintenance.window else ""
    return (
        f"Platform {platform.name} is {maintenance.get_state_display().lower()}{window} "
        f"(since {since}); no new VMs are placed there until its maintenance ends."
    )


def maintenance_list(
    *, platform: Platform | None = None, active: bool | None = None
) -> QuerySet[HostMaintenance]:
    rows = HostMaintenance.objects.select_related("platform", "window", "requested_by", "ended_by")
    if platform is not None:
        rows = rows.filter(platform=platform)
    if active is True:
        rows = rows.filter(state__in=ACTIVE_MAINTENANCE)
    elif active is False:
        rows = rows.filter(state=MaintenanceState.ENDED)
    return rows


def maintenance_history(maintenance: HostMaintenance) -> list[dict]:
    """Who did what to it, oldest first."""
    out = []
    previous = None
    for row in maintenance.history.order_by("history_date", "history_id"):
        if previous is None or row.state != previous.state:
            out.append(
                {
                    "at": row.history_date,
                    "by": row.history_user.username if row.history_user else "the system",
                    "state": MaintenanceState(row.state).label,
                    "reason": row.history_change_reason or "",
                }
            )
        previous = row
    return out
