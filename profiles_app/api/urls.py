from django.urls import path

from profiles_app.api import views

app_name = "profiles-api"

version = "profiles/<slug:name>/versions/<int:number>/"

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("schemas/vppd/", views.VppdSchemaView.as_view(), name="vppd-schema"),
    path("schemas/scheduling/", views.SchedulingSchemaView.as_view(), name="scheduling-schema"),
    path("validate/", views.ValidateView.as_view(), name="validate"),
    path("profiles/", views.ProfileListView.as_view(), name="profile-list"),
    path("profiles/<slug:name>/", views.ProfileDetailView.as_view(), name="profile-detail"),
    path("profiles/<slug:name>/versions/", views.VersionListView.as_view(), name="version-list"),
    path(version, views.VersionDetailView.as_view(), name="version-detail"),
    path(f"{version}submit/", views.VersionSubmitView.as_view(), name="version-submit"),
    path(f"{version}approve/", views.VersionApproveView.as_view(), name="version-approve"),
    path(f"{version}reject/", views.VersionRejectView.as_view(), name="version-reject"),
    path(f"{version}retire/", views.VersionRetireView.as_view(), name="version-retire"),
    path(f"{version}diff/", views.VersionDiffView.as_view(), name="version-diff"),
    path(f"{version}history/", views.VersionHistoryView.as_view(), name="version-history"),
]
