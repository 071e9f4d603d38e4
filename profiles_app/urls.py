from django.urls import path

from profiles_app.views import diff, editing, profiles, review, versions

app_name = "profiles"

VERSION = "<slug:name>/v/<int:number>/"

urlpatterns = [
    path("", profiles.profile_list, name="list"),
    path("new/", editing.profile_create, name="create"),
    path("<slug:name>/", profiles.profile_detail, name="detail"),
    path("<slug:name>/diff/", diff.profile_diff, name="diff"),
    path(VERSION, versions.version_detail, name="version"),
    path(VERSION + "edit/", editing.draft_edit, name="edit"),
    path(VERSION + "new-draft/", editing.draft_new_from, name="new_draft"),
    # State changes (POST only); each calls the service of the same name.
    path(VERSION + "submit/", review.version_action, {"action": "submit"}, name="submit"),
    path(VERSION + "approve/", review.version_action, {"action": "approve"}, name="approve"),
    path(VERSION + "reject/", review.version_action, {"action": "reject"}, name="reject"),
    path(VERSION + "retire/", review.version_action, {"action": "retire"}, name="retire"),
    path(VERSION + "discard/", review.version_action, {"action": "discard"}, name="discard"),
]
