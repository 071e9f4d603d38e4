"""The pages of the policy store, once per kind.

The same views serve every kind; each kind's URLs are an instance of the application
namespace ``documents`` named after its prefix: ``profiles`` (/profiles/, VPPDs) and
``policies`` (/policies/, scheduling policies). ``profiles:detail`` always names a
profile's page; a template reversing ``documents:detail`` gets the page of the kind it
is rendered for, as Django picks the instance the request was resolved in.
"""

from django.urls import URLPattern, URLResolver, include, path

from profiles_app.views import diff, editing, profiles, review, versions
from profiles_app.views.common import kind_pages

APP = "documents"

VERSION = "<slug:name>/v/<int:number>/"
ACTIONS = ("submit", "approve", "reject", "retire", "discard")


def kind_urlpatterns(kind: str) -> list[URLPattern]:
    on = {"kind": kind}
    return [
        path("", profiles.policy_list, on, name="list"),
        path("new/", editing.policy_create, on, name="create"),
        path("<slug:name>/", profiles.policy_detail, on, name="detail"),
        path("<slug:name>/diff/", diff.policy_diff, on, name="diff"),
        path(VERSION, versions.version_detail, on, name="version"),
        path(VERSION + "edit/", editing.draft_edit, on, name="edit"),
        path(VERSION + "new-draft/", editing.draft_new_from, on, name="new_draft"),
        # State changes (POST only); each calls the service of the same name.
        *(
            path(
                f"{VERSION}{action}/", review.version_action, {**on, "action": action}, name=action
            )
            for action in ACTIONS
        ),
    ]


def kind_urls(kind: str) -> URLResolver:
    """The pages of ``kind`` under their prefix, for the project's URLconf."""
    namespace = kind_pages(kind).namespace
    return path(f"{namespace}/", include((kind_urlpatterns(kind), APP), namespace=namespace))
