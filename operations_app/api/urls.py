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
    path("images/", views.ImageListView.as_view(), name="image-list"),
    path("images/<slug:image_id>/", views.ImageDetailView.as_view(), name="image-detail"),
]
