from django.urls import include, path

from vmpersona.api_root import ApiRootView

urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("", include("profiles_app.api.urls")),
    path("", include("operations_app.api.urls")),
]
