from django.urls import path

from profiles_app import views

app_name = "profiles"

VERSION = "<slug:name>/v/<int:number>/"

urlpatterns = [
    path("", views.profile_list, name="list"),
    path("new/", views.profile_create, name="create"),
    path("<slug:name>/", views.profile_detail, name="detail"),
    path("<slug:name>/diff/", views.profile_diff, name="diff"),
    path(VERSION, views.version_detail, name="version"),
    path(VERSION + "edit/", views.draft_edit, name="edit"),
    path(VERSION + "new-draft/", views.draft_new_from, name="new_draft"),
    # State changes (POST only); each calls the service of the same name.
    path(VERSION + "submit/", views.version_action, {"action": "submit"}, name="submit"),
    path(VERSION + "approve/", views.version_action, {"action": "approve"}, name="approve"),
    path(VERSION + "reject/", views.version_action, {"action": "reject"}, name="reject"),
    path(VERSION + "retire/", views.version_action, {"action": "retire"}, name="retire"),
    path(VERSION + "discard/", views.version_action, {"action": "discard"}, name="discard"),
]
