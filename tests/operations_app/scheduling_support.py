"""Helpers for the scheduling tests: windows that open from tomorrow on (the request
services check times against the real clock; the tick is driven with explicit ``now``),
VMs with and without the Production flag, and the tasks handed to the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from operations_app.services import windows as window_services
from tests.operations_app.job_support import approved_version, make_platform, managed_vm

# Every window below opens daily at 01:00 UTC for 4 hours, no new work in the last 30
# minutes: an occurrence may take work from 01:00 until 04:30.
OPENS = timedelta(hours=1)
LAST_START = timedelta(hours=4, minutes=30)


def tomorrow() -> datetime:
    """Midnight UTC tomorrow."""
    today = timezone.now().astimezone(UTC).date()
    return datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def window(users, name: str, **data):
    """A maintenance window opening daily from tomorrow, 01:00–05:00 UTC, cutoff 30 min."""
    fields = {
        "name": name,
        "timezone": "UTC",
        "start_date": tomorrow().date().isoformat(),
        "start_time": "01:00",
        "duration_minutes": 240,
        "cutoff_minutes": 30,
        "rrule": "FREQ=DAILY",
        **data,
    }
    return window_services.window_create(user=users["operator"], data=fields)


def blackout(users, name: str, *, start: datetime, minutes: int, **data):
    """A one-off blackout from ``start`` (UTC) for ``minutes``."""
    fields = {
        "name": name,
        "kind": "blackout",
        "timezone": "UTC",
        "start_date": start.date().isoformat(),
        "start_time": start.strftime("%H:%M"),
        "duration_minutes": minutes,
        **data,
    }
    return window_services.window_create(user=users["operator"], data=fields)


def fleet(users) -> dict:
    """lab-a and lab-b, web-1 (Testing) and prod-1 (Production) on lab-a."""
    lab_a, lab_b = make_platform("lab-a"), make_platform("lab-b")
    web = approved_version(users, "web", flags=("Testing",))
    prod = approved_version(users, "shop", flags=("Production",))
    return {
        "lab-a": lab_a,
        "lab-b": lab_b,
        "web": web,
        "shop": prod,
        "web-1": managed_vm(web, lab_a, "web-1", execution_flags=["Testing"]),
        "prod-1": managed_vm(prod, lab_a, "prod-1", execution_flags=["Production"]),
    }


def queued_tasks() -> list:
    from django_q.models import OrmQ

    return [task.task["args"] for task in OrmQ.objects.all()]


def ready_plan(**extra) -> dict:
    """A migration dry run that would go ahead."""
    return {"ready": True, "verdict": "Would move it live.", **extra}
