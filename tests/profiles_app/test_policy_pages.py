"""The scheduling policy pages under /policies/ as a user sees them: the same editor,
review and history as the profile pages, worded for policies, with the kinds kept apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from profiles_app.kinds import get_kind
from profiles_app.models import Policy, PolicyKind, PolicyVersion, VersionStatus
from profiles_app.services import versions as svc

pytestmark = pytest.mark.django_db

SCHEDULING = PolicyKind.SCHEDULING
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scheduling"


def url(name: str, *args, **query) -> str:
    path = reverse(f"policies:{name}", args=args)
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return path


def policy_document(name: str = "balance-cpu", **overrides) -> dict:
    document = get_kind(SCHEDULING).starter()
    document["name"] = name
    document.update(overrides)
    return document


def make_policy(users, name: str = "balance-cpu", author: str = "author") -> PolicyVersion:
    return svc.policy_create(user=users[author], document=policy_document(name), kind=SCHEDULING)


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def post_document(client, path: str, document, **fields):
    body = document if isinstance(document, str) else json.dumps(document, indent=2)
    return client.post(path, {"document": body, **fields})


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_each_example_is_a_valid_scheduling_policy(path):
    document = json.loads(path.read_text())
    assert get_kind(SCHEDULING).errors(document) == []
    assert document["name"] == path.stem


def test_the_examples_cover_every_trigger():
    triggers = {json.loads(p.read_text())["trigger"] for p in EXAMPLES.glob("*.json")}
    assert triggers == {"utilisation", "cost", "evacuation", "vulnerability"}


# --------------------------------------------------------------------------- list


def test_the_list_shows_policies_only_and_filters_them(client, users, make_document):
    make_policy(users, "balance-cpu")
    pending = make_policy(users, "cheaper-platforms")
    svc.version_submit(user=users["author"], version=pending)
    svc.policy_create(user=users["author"], document=make_document("web"))  # a VPPD
    client.force_login(users["viewer"])

    response = client.get(url("list"))
    assert response.status_code == 200
    html = text(response)
    assert "<h1>Scheduling policies</h1>" in html
    assert [p.name for p in response.context["profiles"]] == ["balance-cpu", "cheaper-platforms"]
    assert "web" not in [p.name for p in response.context["profiles"]]
    assert "2 policies" in html
    assert 'id="flag"' not in html  # no execution flag filter for policies
    assert "+ New policy" not in html  # a viewer creates nothing

    names = lambda **q: [p.name for p in client.get(url("list", **q)).context["profiles"]]  # noqa: E731
    assert names(q="cheaper") == ["cheaper-platforms"]
    assert names(status="pending") == ["cheaper-platforms"]
    assert names(status="draft") == ["balance-cpu"]


def test_the_approvers_queue_on_each_list_holds_its_own_kind(client, users, make_document):
    policy = make_policy(users, "balance-cpu")
    svc.version_submit(user=users["author"], version=policy)
    profile = svc.policy_create(user=users["author"], document=make_document("web"))
    svc.version_submit(user=users["author"], version=profile)
    client.force_login(users["approver"])

    policies = client.get(url("list"))
    assert [v.label for v in policies.context["pending"]] == ["balance-cpu@1"]
    assert 'href="/policies/balance-cpu/v/1/#review"' in text(policies)
    profiles = client.get(reverse("profiles:list"))
    assert [v.label for v in profiles.context["pending"]] == ["web@1"]


def test_the_navigation_and_the_plans_page_lead_to_the_policies(client, users):
    client.force_login(users["viewer"])
    html = text(client.get(url("list")))
    assert '<a href="/policies/" class="active" aria-current="page">Policies</a>' in html
    assert '<a href="/profiles/">Profiles</a>' in html  # not the current page here
    plans = text(client.get(reverse("operations:plans")))
    assert 'href="/policies/"' in plans


# --------------------------------------------------------------------------- create


def test_create_offers_the_starter_and_each_example(client, users):
    client.force_login(users["author"])
    response = client.get(url("create"))
    assert response.status_code == 200
    html = text(response)
    assert "<h1>New policy</h1>" in html
    assert "Scheduling policy, schema version 1.0" in html
    assert json.loads(response.context["form"].safe_text) == get_kind(SCHEDULING).starter()
    for example in ("relieve-hot-hosts", "cheaper-platforms", "hardware-refresh", "patch-exposure"):
        assert f'href="/policies/new/?example={example}"' in html
    # The section help is the scheduling policy's, not the VPPD's.
    assert "<code>trigger</code>" in html and "<code>base_image_id</code>" not in html

    response = client.get(url("create", example="cheaper-platforms"))
    document = json.loads(response.context["form"].safe_text)
    assert document["trigger"] == "cost"
    assert document == json.loads((EXAMPLES / "cheaper-platforms.json").read_text())

    # An unknown example is the starter.
    response = client.get(url("create", example="../../etc/passwd"))
    assert json.loads(response.context["form"].safe_text) == get_kind(SCHEDULING).starter()


def test_an_example_names_a_window_and_platform_that_exist_here(client, users):
    from operations_app.models import MaintenanceWindow
    from tests.operations_app.job_support import make_platform

    make_platform("rack-7")
    MaintenanceWindow.objects.create(
        name="sunday-early",
        timezone="UTC",
        start_date="2031-01-05",
        start_time="02:00",
        duration_minutes=120,
        rrule="FREQ=WEEKLY",
    )
    client.force_login(users["author"])
    response = client.get(url("create", example="hardware-refresh"))
    document = json.loads(response.context["form"].safe_text)
    assert document["window"] == "sunday-early"
    assert document["evacuation"]["platforms"]["platforms"] == ["rack-7"]
    assert get_kind(SCHEDULING).errors(document) == []
    notes = text(response)
    assert "window &#x27;patch-night&#x27; does not exist here: &#x27;sunday-early&#x27;" in notes
    assert "platform old-host-1 to evacuate does not exist here: rack-7 instead" in notes


def test_creating_a_valid_policy_makes_a_draft_on_the_policy_pages(client, users):
    client.force_login(users["author"])
    document = json.loads((EXAMPLES / "relieve-hot-hosts.json").read_text())
    response = post_document(client, url("create"), document, change_note="first")
    assert response.status_code == 302
    assert response["Location"] == "/policies/relieve-hot-hosts/v/1/"
    version = PolicyVersion.objects.get(policy__name="relieve-hot-hosts")
    assert version.policy.kind == SCHEDULING
    assert version.status == VersionStatus.DRAFT and version.change_note == "first"

    page = client.get(response["Location"])
    html = text(page)
    assert "Policy relieve-hot-hosts created as draft relieve-hot-hosts@1." in messages_of(page)
    assert 'id="doc-trigger">utilisation<' in html
    assert "db-replicas-apart" in html and "eu-stays-in-eu" in html
    assert 'href="/policies/relieve-hot-hosts/v/1/edit/"' in html
    assert 'action="/policies/relieve-hot-hosts/v/1/submit/"' in html
    assert 'id="clone-button"' not in html  # a policy is never cloned
    assert '<a href="/policies/">Policies</a>' in html  # the breadcrumbs


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            {"utilisation": {"trigger_percent": 60, "target_percent": 70}},
            "/utilisation/target_percent",
        ),
        ({"aggressiveness": 9}, "/aggressiveness"),
        ({"automation": "automatic"}, "/window"),
        ({"trigger": "sometimes"}, "/trigger"),
        ({"caps": {"moves_per_run": 0}}, "/caps/moves_per_run"),
    ],
)
def test_an_invalid_policy_is_shown_again_with_each_error_at_its_path(client, users, change, path):
    client.force_login(users["author"])
    document = {**policy_document(), **change}
    response = post_document(client, url("create"), document)
    assert response.status_code == 200
    paths = [e["path"] for e in response.context["form"].document_errors]
    assert path in paths
    assert f'<span class="path">{path}</span>' in text(response)
    assert json.loads(response.context["form"].safe_text) == document  # the text is kept
    assert not Policy.objects.filter(kind=SCHEDULING).exists()


@pytest.mark.parametrize(
    "body",
    ["", "{", "[1, 2]", "null", '{"name": "x"}', '"just a string"', "{" * 5000, "\x00"],
    ids=["empty", "unclosed", "array", "null", "partial", "string", "deep", "nul"],
)
def test_bad_input_is_never_a_server_error(client, users, body):
    client.force_login(users["author"])
    response = client.post(url("create"), {"document": body, "name": "Not A Slug!"})
    assert response.status_code in (200, 400)
    assert not Policy.objects.filter(kind=SCHEDULING).exists()


def test_a_policy_may_not_take_an_existing_policy_name_but_may_share_a_profile_name(
    client, users, make_document
):
    svc.policy_create(user=users["author"], document=make_document("shared-name"))
    make_policy(users, "balance-cpu")
    client.force_login(users["author"])
    response = post_document(client, url("create"), policy_document("balance-cpu"))
    assert response.status_code == 200
    assert "/name" in [e["path"] for e in response.context["form"].document_errors]
    response = post_document(client, url("create"), policy_document("shared-name"))
    assert response["Location"] == "/policies/shared-name/v/1/"
    assert Policy.objects.filter(name="shared-name").count() == 2


def test_viewers_and_approvers_are_not_offered_the_editor(client, users):
    version = make_policy(users)
    for who in ("viewer", "approver"):
        client.force_login(users[who])
        response = client.get(url("create"))
        assert response.status_code == 302 and response["Location"] == "/policies/"
        html = text(client.get(url("version", "balance-cpu", 1)))
        assert "Edit draft" not in html and "Submit for approval" not in html
        assert "New draft from" not in html
        response = post_document(client, url("create"), policy_document("sneaky"))
        assert response.status_code == 403
    assert not Policy.objects.filter(name="sneaky").exists()
    assert version.status == VersionStatus.DRAFT


# --------------------------------------------------------------------------- edit and review


def test_the_author_edits_the_draft_with_errors_shown_then_saved(client, users):
    make_policy(users)
    client.force_login(users["author"])
    response = client.get(url("edit", "balance-cpu", 1))
    assert response.status_code == 200
    assert "<h1>Edit draft balance-cpu@1</h1>" in text(response)

    bad = policy_document(cooldown={"minutes": 600, "max_minutes": 60})
    response = post_document(client, url("edit", "balance-cpu", 1), bad)
    assert response.status_code == 200
    assert [e["path"] for e in response.context["form"].document_errors] == [
        "/cooldown/max_minutes"
    ]

    good = policy_document(aggressiveness=4)
    response = post_document(client, url("edit", "balance-cpu", 1), good, change_note="eager")
    assert response["Location"] == "/policies/balance-cpu/v/1/"
    version = PolicyVersion.objects.get(policy__name="balance-cpu")
    assert version.document["aggressiveness"] == 4 and version.change_note == "eager"

    # Another author may not edit it.
    client.force_login(users["author2"])
    response = client.get(url("edit", "balance-cpu", 1))
    assert response["Location"] == "/policies/balance-cpu/v/1/"


def test_submit_then_another_user_approves_and_the_author_cannot(client, users):
    make_policy(users)
    client.force_login(users["author"])
    response = client.post(url("submit", "balance-cpu", 1))
    assert response["Location"] == "/policies/balance-cpu/v/1/"
    version = PolicyVersion.objects.get(policy__name="balance-cpu")
    assert version.status == VersionStatus.PENDING

    # The author holds both roles but reviews nobody's work of their own.
    svc.policy_create(
        user=users["author_approver"], document=policy_document("own-work"), kind=SCHEDULING
    )
    own = PolicyVersion.objects.get(policy__name="own-work")
    svc.version_submit(user=users["author_approver"], version=own)
    client.force_login(users["author_approver"])
    html = text(client.get(url("version", "own-work", 1)))
    assert 'id="review"' not in html
    assert "nobody reviews their own version" in html
    response = client.post(url("approve", "own-work", 1), {"comment": "mine"}, follow=True)
    assert any("Could not approve own-work@1" in m for m in messages_of(response))
    own.refresh_from_db()
    assert own.status == VersionStatus.PENDING

    client.force_login(users["approver"])
    html = text(client.get(url("version", "balance-cpu", 1)))
    assert 'id="review"' in html
    assert 'action="/policies/balance-cpu/v/1/approve/"' in html
    response = client.post(url("approve", "balance-cpu", 1), {"comment": "good"}, follow=True)
    assert response.redirect_chain[-1][0] == "/policies/balance-cpu/v/1/"
    assert "balance-cpu@1 approved." in messages_of(response)
    version.refresh_from_db()
    assert version.status == VersionStatus.APPROVED and version.reviewer == users["approver"]

    detail = text(client.get(url("detail", "balance-cpu")))
    assert "v1 approved" in detail
    assert "<dt>Trigger</dt><dd>utilisation</dd>" in detail
    assert "approved: good" in detail  # the history


def test_reject_retire_and_discard(client, users):
    v1 = make_policy(users)
    svc.version_submit(user=users["author"], version=v1)
    client.force_login(users["approver"])
    response = client.post(url("reject", "balance-cpu", 1), {"comment": "too eager"})
    assert response["Location"] == "/policies/balance-cpu/v/1/"
    v1.refresh_from_db()
    assert v1.status == VersionStatus.REJECTED

    v2 = svc.version_create_draft(
        user=users["author"], policy=v1.policy, document=policy_document(), parent=v1
    )
    svc.version_submit(user=users["author"], version=v2)
    svc.version_approve(user=users["approver"], version=v2)
    response = client.post(url("retire", "balance-cpu", 2), {"comment": "replaced"})
    v2.refresh_from_db()
    assert v2.status == VersionStatus.RETIRED

    v3 = svc.version_create_draft(
        user=users["author"], policy=v1.policy, document=policy_document(), parent=v2
    )
    client.force_login(users["author"])
    response = client.post(url("discard", "balance-cpu", v3.number))
    assert response["Location"] == "/policies/balance-cpu/"
    assert not PolicyVersion.objects.filter(pk=v3.pk).exists()


def test_a_new_draft_from_any_version(client, users):
    v1 = make_policy(users)
    svc.version_submit(user=users["author"], version=v1)
    svc.version_approve(user=users["approver"], version=v1)
    client.force_login(users["author2"])
    response = client.get(url("new_draft", "balance-cpu", 1))
    assert response.status_code == 200
    assert json.loads(response.context["form"].safe_text) == v1.document
    changed = policy_document(aggressiveness=5)
    response = post_document(client, url("new_draft", "balance-cpu", 1), changed)
    assert response["Location"] == "/policies/balance-cpu/v/2/"
    v2 = PolicyVersion.objects.get(policy__name="balance-cpu", number=2)
    assert v2.parent == v1 and v2.author == users["author2"]


def test_the_diff_between_two_versions(client, users):
    v1 = make_policy(users)
    svc.version_create_draft(
        user=users["author"],
        policy=v1.policy,
        document=policy_document(aggressiveness=4),
        parent=v1,
    )
    client.force_login(users["viewer"])
    response = client.get(url("diff", "balance-cpu", a=1, b=2))
    assert response.status_code == 200
    changes = response.context["changes"]
    assert [(c["pointer"], c["old"], c["new"]) for c in changes] == [("/aggressiveness", "2", "4")]
    html = text(response)
    assert 'action="/policies/balance-cpu/diff/"' in html
    assert 'href="/policies/balance-cpu/v/1/"' in html
    assert client.get(url("diff", "balance-cpu", a=1, b=9)).status_code == 404
    assert client.get(url("diff", "balance-cpu", a="x", b=1)).status_code == 404


# --------------------------------------------------------------------------- 404 and kinds


def test_unknown_names_and_versions_are_404(client, users):
    make_policy(users)
    client.force_login(users["viewer"])
    for path in (
        url("detail", "nope"),
        url("version", "nope", 1),
        url("version", "balance-cpu", 9),
        url("edit", "balance-cpu", 9),
        url("new_draft", "nope", 1),
        url("diff", "nope"),
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(url("approve", "balance-cpu", 9)).status_code == 404


def test_the_kinds_do_not_leak_into_each_other(client, users, make_document):
    svc.policy_create(user=users["author"], document=make_document("web"))
    make_policy(users, "balance-cpu")
    client.force_login(users["approver"])
    # A VPPD is not found under /policies/ ...
    for page, args in [("detail", ["web"]), ("version", ["web", 1]), ("diff", ["web"])]:
        assert client.get(url(page, *args)).status_code == 404
    assert client.post(url("submit", "web", 1)).status_code == 404
    # ... nor a scheduling policy under /profiles/.
    for page, args in [("detail", ["balance-cpu"]), ("version", ["balance-cpu", 1])]:
        assert client.get(reverse(f"profiles:{page}", args=args)).status_code == 404
    assert client.post(reverse("profiles:submit", args=["balance-cpu", 1])).status_code == 404
    # And the profile pages still link to profile pages.
    html = text(client.get(reverse("profiles:detail", args=["web"])))
    assert 'href="/profiles/web/v/1/"' in html and "/policies/web" not in html


def test_each_editor_offers_the_examples_of_its_own_kind(client, users):
    client.force_login(users["author"])
    profiles = client.get(reverse("profiles:create"))
    html = text(profiles)
    assert 'href="/profiles/new/?example=web-server"' in html
    assert "relieve-hot-hosts" not in html and "/policies/" in html  # only the nav link
    assert "Create profile" in html and "VPPD, schema version 1.0" in html
    response = client.get(reverse("profiles:create") + "?example=database")
    assert json.loads(response.context["form"].safe_text)["name"] == "database"
    policies = text(client.get(url("create")))
    assert "example=web-server" not in policies


def test_a_scheduling_policy_links_to_its_own_pages(users):
    doc = json.loads((EXAMPLES / "relieve-hot-hosts.json").read_text())
    version = svc.policy_create(user=users["author"], document=doc, kind=PolicyKind.SCHEDULING)
    assert version.policy.get_absolute_url() == f"/policies/{version.policy.name}/"
    assert version.get_absolute_url() == f"/policies/{version.policy.name}/v/1/"
