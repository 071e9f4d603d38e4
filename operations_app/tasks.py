"""django-q2 tasks: thin wrappers that hand work to services."""

from __future__ import annotations

import logging

from operations_app.models import Platform
from operations_app.services import inventory as inventory_services
from operations_app.services import platforms as platform_services

logger = logging.getLogger(__name__)


def sync_all_platforms() -> dict:
    """Periodic: refresh capabilities of stale platforms and sync every inventory."""
    results = inventory_services.inventory_sync_all()
    return {
        r.platform: {"reachable": r.reachable, "seen": r.seen, "added": r.added, "gone": r.gone}
        for r in results
    }


def refresh_all_capabilities() -> dict:
    out = {}
    for platform in Platform.objects.filter(enabled=True):
        platform = platform_services.platform_refresh(platform=platform)
        out[platform.name] = platform.status
    return out


def prune_metrics() -> int:
    return inventory_services.metrics_prune()
