from django.urls import path

from operations_app.api import views

app_name = "operations-api"

urlpatterns = [
    path("platforms/", views.PlatformListView.as_view(), name="platform-list"),
    path("platforms/<slug:name>/", views.PlatformDetailView.as_view(), name="platform-detail"),
    path(
        "platforms/<slug:name>/refresh/",
        views.PlatformRefreshView.as_view(),
        name="platform-refresh",
    ),
    path("platforms/<slug:name>/sync/", views.PlatformSyncView.as_view(), name="platform-sync"),
    path("vms/", views.VMListView.as_view(), name="vm-list"),
    path("vms/<int:pk>/", views.VMDetailView.as_view(), name="vm-detail"),
    path("vms/<int:pk>/metrics/", views.VMMetricsView.as_view(), name="vm-metrics"),
    path("vms/<int:pk>/snapshots/", views.VMSnapshotsView.as_view(), name="vm-snapshots"),
    path("images/", views.ImageListView.as_view(), name="image-list"),
    path("images/<slug:image_id>/", views.ImageDetailView.as_view(), name="image-detail"),
]

# Jobs and notifications.
from operations_app.api import jobs  # noqa: E402

urlpatterns += [
    path("jobs/", jobs.JobListView.as_view(), name="job-list"),
    path("jobs/migration-plan/", jobs.MigrationPlanView.as_view(), name="job-migration-plan"),
    path("jobs/<int:pk>/", jobs.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel/", jobs.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<int:pk>/events/", jobs.JobEventsView.as_view(), name="job-events"),
    path("jobs/<int:pk>/steps/", jobs.JobStepsView.as_view(), name="job-steps"),
    path("jobs/<int:pk>/checks/", jobs.JobChecksView.as_view(), name="job-checks"),
    path("notifications/", jobs.NotificationListView.as_view(), name="notification-list"),
    path("notifications/read/", jobs.NotificationReadView.as_view(), name="notification-read"),
]
