"""Reads for pages, API, websockets and the CLI, one module per topic.

Each selector owns a non-trivial read and costs a constant number of queries. Callers
import the topic they need (``from operations_app.selectors import jobs as
job_selectors``). The names below are also reachable as ``selectors.<name>`` for the
API modules, which read across topics through one name.
"""

from operations_app.selectors.clone import approved_versions, clone_source, profile_version
from operations_app.selectors.images import base_image_list
from operations_app.selectors.jobs import (
    check_summary,
    job_check_counts,
    job_checks,
    job_duration_s,
    job_events,
    job_get,
    job_latest_payload,
    job_list,
    job_list_all,
    job_log_events,
    job_result,
    job_steps,
    job_visible_to,
    jobs_visible_to,
    sees_all_jobs,
)
from operations_app.selectors.notifications import (
    Inbox,
    notification_inbox,
    notification_list,
    notification_unread_count,
)
from operations_app.selectors.platforms import (
    platform_effective_capabilities,
    platform_list,
    platform_migration_targets,
    platform_named,
    platform_names,
    platform_ref,
    platform_utilisation,
    platform_utilisations,
)
from operations_app.selectors.snapshots import snapshot_get, snapshot_ref
from operations_app.selectors.vms import vm_get, vm_list, vm_metrics, vm_named

__all__ = [
    "Inbox",
    "approved_versions",
    "base_image_list",
    "check_summary",
    "clone_source",
    "job_check_counts",
    "job_checks",
    "job_duration_s",
    "job_events",
    "job_get",
    "job_latest_payload",
    "job_list",
    "job_list_all",
    "job_log_events",
    "job_result",
    "job_steps",
    "job_visible_to",
    "jobs_visible_to",
    "notification_inbox",
    "notification_list",
    "notification_unread_count",
    "platform_effective_capabilities",
    "platform_list",
    "platform_migration_targets",
    "platform_named",
    "platform_names",
    "platform_ref",
    "platform_utilisation",
    "platform_utilisations",
    "profile_version",
    "sees_all_jobs",
    "snapshot_get",
    "snapshot_ref",
    "vm_get",
    "vm_list",
    "vm_metrics",
    "vm_named",
]
