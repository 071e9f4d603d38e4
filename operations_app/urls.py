from django.urls import path

from operations_app import views

app_name = "operations"

urlpatterns = [
    path("platforms/", views.platform_list, name="platforms"),
    path("platforms/new/", views.platform_create, name="platform_create"),
    path("platforms/<slug:name>/", views.platform_detail, name="platform"),
    path("platforms/<slug:name>/edit/", views.platform_edit, name="platform_edit"),
    # State changes (POST only); each calls the service of the same name.
    path("platforms/<slug:name>/refresh/", views.platform_refresh, name="platform_refresh"),
    path("platforms/<slug:name>/sync/", views.platform_sync, name="platform_sync"),
    path("vms/", views.vm_list, name="vms"),
    path("vms/<int:pk>/", views.vm_detail, name="vm"),
    path("images/", views.image_list, name="images"),
]

# Jobs, cloning, decommissioning and notifications.
from operations_app import views_jobs  # noqa: E402

urlpatterns += [
    path("jobs/", views_jobs.job_list, name="jobs"),
    path("jobs/<int:pk>/", views_jobs.job_detail, name="job"),
    path("jobs/<int:pk>/report/", views_jobs.job_report, name="job_report"),
    path("jobs/<int:pk>/cancel/", views_jobs.job_cancel, name="job_cancel"),
    path("clone/", views_jobs.clone_form, name="clone"),
    path("vms/<int:pk>/decommission/", views_jobs.vm_decommission, name="vm_decommission"),
    path("notifications/", views_jobs.notification_list, name="notifications"),
    path("notifications/read/", views_jobs.notifications_mark_read, name="notifications_read"),
]

# Migration: the form with its dry run, and the job page's Migration section.
from operations_app import views_migrate  # noqa: E402

urlpatterns += [
    path("vms/<int:pk>/migrate/", views_migrate.vm_migrate, name="vm_migrate"),
    path("jobs/<int:pk>/migration/", views_migrate.job_migration_section, name="job_migration"),
]

# Snapshots: take one, roll back to one (POST only, from the VM page).
from operations_app import views_snapshots  # noqa: E402

urlpatterns += [
    path("vms/<int:pk>/snapshots/", views_snapshots.vm_snapshot_take, name="vm_snapshot"),
    path(
        "vms/<int:pk>/snapshots/<int:sid>/rollback/",
        views_snapshots.vm_snapshot_rollback,
        name="vm_snapshot_rollback",
    ),
]
