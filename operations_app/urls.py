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
