"""django-q2 tasks: thin wrappers. Jobs are handed to their runner (``run_job``), the
periodic work (inventory sync, capability refresh, metric pruning, the reaper,
scheduled jobs, window reminders and advisory feeds) to services."""

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
        r.platform: {
            "reachable": r.reachable,
            "seen": r.seen,
            "added": r.added,
            "gone": r.gone,
            "held": r.held,
            "secrets_supplied": r.secrets_supplied,
            "secret_problems": r.secret_problems,
        }
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


def run_job(job_id: int) -> str:
    """The worker entry point: load the job, hand it to its runner."""
    from operations_app.models import OperationJob
    from operations_app.runners import runner_for

    job = OperationJob.objects.select_related(
        "platform", "profile_version__policy", "requested_by"
    ).get(pk=job_id)
    runner_for(job).run()
    job.refresh_from_db()
    return job.status


def deliver_review_webhook(payload: dict) -> str:
    """After a version's review step: POST it to the review webhook."""
    from operations_app.services.review_notices import review_webhook_deliver

    return review_webhook_deliver(payload)


def reap_jobs() -> list[int]:
    """Periodic: end jobs whose worker died and clean what they left."""
    from operations_app.services.reaper import jobs_reap

    return jobs_reap()


def start_scheduled_jobs() -> dict:
    """Periodic (every minute): queue scheduled jobs whose window or time has come,
    move or end those that missed it; start the moves of the platforms entering
    maintenance whose window is open (``services.maintenance``); then remind of the windows about to open, sum up
    those whose work ended, and post to their webhooks (``services.window_notices``;
    its trouble is logged, never allowed to fail the scheduling)."""
    from operations_app.services.maintenance import maintenance_tick
    from operations_app.services.scheduling import scheduled_jobs_tick
    from operations_app.services.window_notices import window_reminders_tick

    done = scheduled_jobs_tick()
    try:
        moving = maintenance_tick()
    except Exception:  # noqa: BLE001 - maintenance trouble must not break the scheduling tick
        logger.exception("host maintenance could not move on")
    else:
        if any(moving.values()):
            logger.info("host maintenance: %s", moving)
    try:
        notices = window_reminders_tick()
    except Exception:  # noqa: BLE001 - reminders must not break the scheduling tick
        logger.exception("window reminders and summaries failed")
    else:
        if any(notices.values()):
            logger.info("window notices: %s", notices)
    return done


def run_policies() -> dict:
    """Periodic (every minute): expire and follow the scheduling policies' plans, then
    evaluate each approved policy whose last evaluation is
    ``VMPERSONA_POLICY_EVALUATION_MINUTES`` old (``services.policies``)."""
    from operations_app.services.policies import plans_tick, policies_tick

    plans = plans_tick()
    evaluated = policies_tick()
    if any(plans.values()) or any(evaluated.values()):
        logger.info("policies: %s %s", plans, evaluated)
    return {**plans, **evaluated}


def import_advisory_feeds() -> dict:
    """Periodic (every 15 minutes): import each feed of ``VMPERSONA_ADVISORY_FEEDS``
    whose last import is ``VMPERSONA_ADVISORY_FEED_HOURS`` old (``services.advisories``)."""
    from operations_app.services.advisories import advisory_feeds_tick

    return advisory_feeds_tick()
