from django.urls import path

from operations_app.views import (
    advisories,
    clone,
    cost,
    images,
    jobs,
    labels,
    maintenance,
    migrate,
    notifications,
    plans,
    platforms,
    snapshots,
    vms,
    windows,
)

app_name = "operations"

urlpatterns = [
    path("cost/", cost.fleet_cost, name="cost"),
    path("advisories/", advisories.advisory_list, name="advisories"),
    path("plans/", plans.plan_list, name="plans"),
    path("plans/<int:pk>/", plans.plan_detail, name="plan"),
    path("plans/<int:pk>/decide/", plans.plan_decide, name="plan_decide"),
    path("policies/<slug:name>/evaluate/", plans.policy_evaluate, name="policy_evaluate"),
    path("platforms/", platforms.platform_list, name="platforms"),
    path("platforms/new/", platforms.platform_create, name="platform_create"),
    path("platforms/<slug:name>/", platforms.platform_detail, name="platform"),
    path("platforms/<slug:name>/edit/", platforms.platform_edit, name="platform_edit"),
    # State changes (POST only); each calls the service of the same name.
    path("platforms/<slug:name>/refresh/", platforms.platform_refresh, name="platform_refresh"),
    path("platforms/<slug:name>/sync/", platforms.platform_sync, name="platform_sync"),
    path("platforms/<slug:name>/labels/", labels.platform_labels, name="platform_labels"),
    # Host maintenance: the form with its evacuation plan preview, ending it (POST
    # only), and the record of one maintenance.
    path(
        "platforms/<slug:name>/maintenance/",
        maintenance.platform_maintenance,
        name="platform_maintenance",
    ),
    path(
        "platforms/<slug:name>/maintenance/end/",
        maintenance.platform_maintenance_end,
        name="platform_maintenance_end",
    ),
    path(
        "platforms/<slug:name>/maintenance/<int:pk>/",
        maintenance.maintenance_detail,
        name="maintenance",
    ),
    path("vms/", vms.vm_list, name="vms"),
    path("vms/<int:pk>/", vms.vm_detail, name="vm"),
    path("vms/<int:pk>/decommission/", vms.vm_decommission, name="vm_decommission"),
    # Power: start, shut down, reboot or force off (POST only, from the VM page).
    path("vms/<int:pk>/power/", vms.vm_power, name="vm_power"),
    path("vms/<int:pk>/labels/", labels.vm_labels, name="vm_labels"),
    path("images/", images.image_list, name="images"),
    # Jobs: the list, a job's page and report, cancelling one, and its health watch.
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job"),
    path("jobs/<int:pk>/report/", jobs.job_report, name="job_report"),
    path("jobs/<int:pk>/cancel/", jobs.job_cancel, name="job_cancel"),
    # A scheduled job: move it, approve or reject it (POST only).
    path("jobs/<int:pk>/schedule/", jobs.job_schedule, name="job_schedule"),
    path("jobs/<int:pk>/approve/", jobs.job_approve, name="job_approve"),
    path("jobs/<int:pk>/reject/", jobs.job_reject, name="job_reject"),
    path("jobs/<int:pk>/watch/confirm/", jobs.job_watch_confirm, name="job_watch_confirm"),
    path("jobs/<int:pk>/watch/extend/", jobs.job_watch_extend, name="job_watch_extend"),
    path("clone/", clone.clone_form, name="clone"),
    # Migration: the form with its dry run, and the job page's Migration section.
    path("vms/<int:pk>/migrate/", migrate.vm_migrate, name="vm_migrate"),
    path("jobs/<int:pk>/migration/", migrate.job_migration_section, name="job_migration"),
    # Snapshots: take one, roll back to one (POST only, from the VM page).
    path("vms/<int:pk>/snapshots/", snapshots.vm_snapshot_take, name="vm_snapshot"),
    path(
        "vms/<int:pk>/snapshots/<int:sid>/rollback/",
        snapshots.vm_snapshot_rollback,
        name="vm_snapshot_rollback",
    ),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/read/", notifications.notifications_mark_read, name="notifications_read"),
    # Maintenance windows: the list, the calendar, iCalendar import and export, a
    # window's page, its form (with a preview) and delete (POST only).
    path("windows/", windows.window_list, name="windows"),
    path("windows/new/", windows.window_create, name="window_create"),
    path("windows/calendar/", windows.window_calendar, name="window_calendar"),
    path("windows/import/", windows.window_import, name="window_import"),
    path("windows/export.ics", windows.windows_export, name="windows_export"),
    path("windows/<slug:name>/", windows.window_detail, name="window"),
    path("windows/<slug:name>/edit/", windows.window_edit, name="window_edit"),
    path("windows/<slug:name>/delete/", windows.window_delete, name="window_delete"),
    path("windows/<slug:name>/export.ics", windows.window_export, name="window_export"),
]
