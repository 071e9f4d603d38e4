from django.urls import path

from operations_app.api import (
    advisories,
    cost,
    images,
    jobs,
    labels,
    maintenance,
    migrations,
    notifications,
    plans,
    platforms,
    power,
    snapshots,
    vms,
    windows,
)

app_name = "operations-api"

urlpatterns = [
    path("platforms/", platforms.PlatformListView.as_view(), name="platform-list"),
    path("platforms/<slug:name>/", platforms.PlatformDetailView.as_view(), name="platform-detail"),
    path(
        "platforms/<slug:name>/refresh/",
        platforms.PlatformRefreshView.as_view(),
        name="platform-refresh",
    ),
    path("platforms/<slug:name>/sync/", platforms.PlatformSyncView.as_view(), name="platform-sync"),
    path(
        "platforms/<slug:name>/labels/",
        labels.PlatformLabelsView.as_view(),
        name="platform-labels",
    ),
    # Host maintenance of a platform, and the record of every maintenance.
    path(
        "platforms/<slug:name>/maintenance/",
        maintenance.PlatformMaintenanceView.as_view(),
        name="platform-maintenance",
    ),
    path(
        "platforms/<slug:name>/maintenance/plan/",
        maintenance.PlatformMaintenancePlanView.as_view(),
        name="platform-maintenance-plan",
    ),
    path(
        "platforms/<slug:name>/maintenance/end/",
        maintenance.PlatformMaintenanceEndView.as_view(),
        name="platform-maintenance-end",
    ),
    path(
        "platforms/<slug:name>/maintenance/retry/",
        maintenance.PlatformMaintenanceRetryView.as_view(),
        name="platform-maintenance-retry",
    ),
    path(
        "platforms/<slug:name>/facts/",
        advisories.PlatformFactsView.as_view(),
        name="platform-facts",
    ),
    # Security advisories, and the import of OSV and Debian security tracker feeds.
    path("advisories/", advisories.AdvisoryListView.as_view(), name="advisory-list"),
    path(
        "advisories/<str:advisory_id>/",
        advisories.AdvisoryDetailView.as_view(),
        name="advisory-detail",
    ),
    path("maintenances/", maintenance.MaintenanceListView.as_view(), name="maintenance-list"),
    path(
        "maintenances/<int:pk>/",
        maintenance.MaintenanceDetailView.as_view(),
        name="maintenance-detail",
    ),
    # Scheduling policies: evaluating one now, the plans they propose, deciding on one.
    path(
        "policies/<slug:name>/evaluate/",
        plans.PolicyEvaluateView.as_view(),
        name="policy-evaluate",
    ),
    path("plans/", plans.PlanListView.as_view(), name="plan-list"),
    path("cost/", cost.CostView.as_view(), name="cost"),
    path("plans/<int:pk>/", plans.PlanDetailView.as_view(), name="plan-detail"),
    path("plans/<int:pk>/approve/", plans.PlanApproveView.as_view(), name="plan-approve"),
    path("plans/<int:pk>/reject/", plans.PlanRejectView.as_view(), name="plan-reject"),
    path("vms/", vms.VMListView.as_view(), name="vm-list"),
    path("vms/<int:pk>/", vms.VMDetailView.as_view(), name="vm-detail"),
    path("vms/<int:pk>/metrics/", vms.VMMetricsView.as_view(), name="vm-metrics"),
    path("vms/<int:pk>/labels/", labels.VMLabelsView.as_view(), name="vm-labels"),
    path("vms/<int:pk>/snapshots/", snapshots.VMSnapshotsView.as_view(), name="vm-snapshots"),
    path("vms/<int:pk>/power/", power.VMPowerView.as_view(), name="vm-power"),
    path("images/", images.ImageListView.as_view(), name="image-list"),
    path("images/<slug:image_id>/", images.ImageDetailView.as_view(), name="image-detail"),
    path("jobs/", jobs.JobListView.as_view(), name="job-list"),
    path(
        "jobs/migration-plan/",
        migrations.MigrationPlanView.as_view(),
        name="job-migration-plan",
    ),
    path("jobs/<int:pk>/", jobs.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel/", jobs.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<int:pk>/schedule/", jobs.JobScheduleView.as_view(), name="job-schedule"),
    path("jobs/<int:pk>/approve/", jobs.JobApproveView.as_view(), name="job-approve"),
    path("jobs/<int:pk>/reject/", jobs.JobRejectView.as_view(), name="job-reject"),
    path(
        "jobs/<int:pk>/watch/confirm/",
        jobs.JobWatchConfirmView.as_view(),
        name="job-watch-confirm",
    ),
    path(
        "jobs/<int:pk>/watch/extend/",
        jobs.JobWatchExtendView.as_view(),
        name="job-watch-extend",
    ),
    path("jobs/<int:pk>/events/", jobs.JobEventsView.as_view(), name="job-events"),
    path("jobs/<int:pk>/steps/", jobs.JobStepsView.as_view(), name="job-steps"),
    path("jobs/<int:pk>/checks/", jobs.JobChecksView.as_view(), name="job-checks"),
    path(
        "notifications/",
        notifications.NotificationListView.as_view(),
        name="notification-list",
    ),
    path(
        "notifications/read/",
        notifications.NotificationReadView.as_view(),
        name="notification-read",
    ),
    # Maintenance windows (the fixed paths before a window's name).
    path("windows/", windows.WindowListView.as_view(), name="window-list"),
    path("windows/calendar/", windows.WindowCalendarView.as_view(), name="window-calendar"),
    path("windows/export.ics", windows.WindowExportView.as_view(), name="window-export"),
    path("windows/import/", windows.WindowImportView.as_view(), name="window-import"),
    path("windows/<slug:name>/", windows.WindowDetailView.as_view(), name="window-detail"),
    path(
        "windows/<slug:name>/occurrences/",
        windows.WindowOccurrencesView.as_view(),
        name="window-occurrences",
    ),
]
