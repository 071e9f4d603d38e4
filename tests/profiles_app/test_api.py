"""The REST API as a client sees it: status codes, bodies and the rows left behind."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from profiles_app.models import Policy, PolicyVersion, VersionStatus, VolumeKey
from profiles_app.services import versions as svc
from profiles_app.vppd.validation import load_vppd_schema

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


API = "/api/v1"
SECRET = "Plain-Volume-Key-0123456789-xyz"


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def encrypted(make_document, name="vault", key=SECRET):
    return make_document(
        name,
        data_volume_definitions=[
            {
                "name": "data",
                "size_gib": 1,
                "mount_point": "/srv/data",
                "encryption": {"enabled": True, "key": key},
            }
        ],
    )


def draft(users, make_document, name="web", who="author", **overrides):
    return svc.policy_create(user=users[who], document=make_document(name, **overrides))


def pending(users, make_document, name="web"):
    return svc.version_submit(user=users["author"], version=draft(users, make_document, name))


def approved(users, make_document, name="web"):
    return svc.version_approve(
        user=users["approver"], version=pending(users, make_document, name), comment="ok"
    )


def snapshot(version: PolicyVersion) -> tuple:
    version = PolicyVersion.objects.get(pk=version.pk)
    return (
        version.status,
        version.content_hash,
        version.document,
        version.reviewer_id,
        version.review_comment,
        version.updated_at,
        PolicyVersion.history.filter(id=version.pk).count(),
    )


def paths(response) -> list[str]:
    return [e["path"] for e in response.json()["errors"]]


# --- Authentication -------------------------------------------------------------------


def test_anonymous_is_refused(users):
    # Session authentication comes first, so DRF answers 403 rather than 401.
    response = client_for().get(f"{API}/profiles/")
    assert response.status_code in (401, 403)
    assert "credentials" in response.json()["detail"]


def test_token_obtained_with_password_authenticates(users, password, make_document):
    anonymous = client_for()
    response = anonymous.post(
        f"{API}/auth/token/", {"username": "author", "password": password("author")}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(f"{API}/profiles/").status_code == 200
    created = client.post(f"{API}/profiles/", {"document": make_document("web")}, format="json")
    assert created.status_code == 201
    assert created.json()["author"] == "author"
    # Tokens are stored hashed (knox), so asking again makes a new token; both work.
    again = anonymous.post(
        f"{API}/auth/token/", {"username": "author", "password": password("author")}, format="json"
    )
    assert again.status_code == 200 and again.json()["token"] != token
    client.credentials(HTTP_AUTHORIZATION=f"Token {again.json()['token']}")
    assert client.get(f"{API}/profiles/").status_code == 200


def test_token_with_wrong_password_is_400_with_errors(users):
    response = client_for().post(
        f"{API}/auth/token/", {"username": "author", "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]
    assert "token" not in response.json()


def test_bad_token_is_refused(users):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = client.get(f"{API}/profiles/")
    assert response.status_code in (401, 403)
    assert "token" in response.json()["detail"].lower()


# --- Profiles -------------------------------------------------------------------------


def test_author_creates_profile_and_gets_the_draft(users, make_document):
    response = client_for(users["author"]).post(
        f"{API}/profiles/",
        {"document": make_document("web"), "change_note": "first cut"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["profile"] == "web"
    assert body["number"] == 1
    assert body["status"] == "draft"
    assert body["author"] == "author"
    assert body["parent"] is None
    assert body["change_note"] == "first cut"
    assert body["document"]["name"] == "web"
    assert len(body["content_hash"]) == 64
    assert response["Location"].endswith("/api/v1/profiles/web/versions/1/")
    assert body["links"]["self"] == response["Location"]
    assert PolicyVersion.objects.get(policy__name="web", number=1).author == users["author"]


@pytest.mark.parametrize("who", ["viewer", "approver", "operator"])
def test_non_authors_cannot_create_profiles(users, make_document, who):
    response = client_for(users[who]).post(
        f"{API}/profiles/", {"document": make_document("web")}, format="json"
    )
    assert response.status_code == 403
    assert "authors" in response.json()["detail"]
    assert not Policy.objects.exists()


def test_invalid_document_is_400_with_json_pointers(users, make_document):
    document = make_document("web")
    document["resource_allocation"]["vcpus"] = 0
    document["network_configuration"] = {
        "interfaces": [
            {"network": "default", "ipv4": {"address": "10.0.0.5/24", "gateway": "10.9.9.1"}}
        ]
    }
    response = client_for(users["author"]).post(
        f"{API}/profiles/", {"document": document}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(paths(response)) >= {"/resource_allocation/vcpus"}
    gateway = "/network_configuration/interfaces/0/ipv4/gateway"
    # Semantic checks run on sections that pass the schema.
    if gateway not in paths(response):
        document["resource_allocation"]["vcpus"] = 1
        again = client_for(users["author"]).post(
            f"{API}/profiles/", {"document": document}, format="json"
        )
        assert paths(again) == [gateway]
    for error in errors:
        assert error["message"] and not error["message"].startswith(error["path"] + ":")
    assert not Policy.objects.exists()


def test_document_given_as_a_string_is_400(users):
    response = client_for(users["author"]).post(
        f"{API}/profiles/", {"document": '{"name": "web"}'}, format="json"
    )
    assert response.status_code == 400
    assert paths(response) == [""]
    assert "JSON object" in response.json()["errors"][0]["message"]


def test_duplicate_profile_name_is_400(users, make_document):
    draft(users, make_document, "web")
    response = client_for(users["author"]).post(
        f"{API}/profiles/", {"document": make_document("web")}, format="json"
    )
    assert response.status_code == 400
    assert paths(response) == ["/name"]


def test_name_must_match_the_document(users, make_document):
    response = client_for(users["author"]).post(
        f"{API}/profiles/", {"document": make_document("web"), "name": "other"}, format="json"
    )
    assert response.status_code == 400
    assert paths(response) == ["/name"]


def test_missing_document_is_a_field_error(users):
    response = client_for(users["author"]).post(
        f"{API}/profiles/", {"change_note": "x"}, format="json"
    )
    assert response.status_code == 400
    assert paths(response) == ["document"]


def test_profile_list_filters_and_paginates(users, make_document):
    approved(users, make_document, "web")
    pending(users, make_document, "db")
    draft(users, make_document, "cache", execution_flags=["Production", "redis"])
    client = client_for(users["viewer"])

    body = client.get(f"{API}/profiles/").json()
    assert body["count"] == 3
    assert [p["name"] for p in body["results"]] == ["cache", "db", "web"]
    web = body["results"][2]
    assert web["approved_version"] == 1 and web["latest_version"] == 1
    assert "document" not in web

    assert [
        p["name"] for p in client.get(f"{API}/profiles/?status=approved").json()["results"]
    ] == ["web"]
    assert [p["name"] for p in client.get(f"{API}/profiles/?status=pending").json()["results"]] == [
        "db"
    ]
    assert [
        p["name"] for p in client.get(f"{API}/profiles/?flag=Production").json()["results"]
    ] == ["cache"]
    assert [p["name"] for p in client.get(f"{API}/profiles/?search=we").json()["results"]] == [
        "web"
    ]

    page1 = client.get(f"{API}/profiles/?page_size=2").json()
    assert page1["count"] == 3 and len(page1["results"]) == 2 and page1["next"]
    page2 = client.get(page1["next"]).json()
    assert [p["name"] for p in page2["results"]] == ["web"] and page2["next"] is None

    bad = client.get(f"{API}/profiles/?status=nonsense")
    assert bad.status_code == 400 and paths(bad) == ["status"]
    assert client.get(f"{API}/profiles/?page=99").status_code == 404


def test_profile_detail_shows_approved_version_and_versions(users, make_document):
    v1 = approved(users, make_document, "web")
    svc.version_create_draft(user=users["author"], policy=v1.policy, change_note="more")
    body = client_for(users["viewer"]).get(f"{API}/profiles/web/").json()
    assert body["name"] == "web"
    assert body["approved_version"] == 1
    assert body["latest_version"] == 2
    assert body["links"]["approved"].endswith("/api/v1/profiles/web/versions/1/")
    assert [(v["number"], v["status"]) for v in body["versions"]] == [(2, "draft"), (1, "approved")]
    assert all("document" not in v for v in body["versions"])


def test_unknown_profile_and_version_are_404(users, make_document):
    draft(users, make_document, "web")
    client = client_for(users["viewer"])
    for url in [
        "/profiles/nope/",
        "/profiles/nope/versions/",
        "/profiles/web/versions/7/",
        "/profiles/web/versions/7/diff/",
        "/profiles/web/versions/7/history/",
        "/profiles/web/versions/99999999999999999999999/",
    ]:
        response = client.get(API + url)
        assert response.status_code == 404, url
        assert response.json()["detail"]
    response = client_for(users["approver"]).post(
        f"{API}/profiles/web/versions/7/approve/", {}, format="json"
    )
    assert response.status_code == 404


# --- Versions -------------------------------------------------------------------------


def test_version_list_omits_documents_and_detail_has_it(users, make_document):
    v1 = approved(users, make_document, "web")
    svc.version_create_draft(user=users["author"], policy=v1.policy)
    client = client_for(users["viewer"])
    listing = client.get(f"{API}/profiles/web/versions/").json()
    assert listing["count"] == 2
    assert [v["number"] for v in listing["results"]] == [2, 1]
    assert all("document" not in v for v in listing["results"])
    assert listing["results"][0]["parent"] == 1

    detail = client.get(f"{API}/profiles/web/versions/1/").json()
    assert detail["document"] == PolicyVersion.objects.get(pk=v1.pk).document
    assert detail["reviewer"] == "approver"
    assert detail["review_comment"] == "ok"
    assert detail["submitted_at"] and detail["reviewed_at"]


def test_author_starts_draft_from_document_or_parent(users, make_document):
    approved(users, make_document, "web")
    client = client_for(users["author2"])
    changed = make_document("web")
    changed["resource_allocation"]["vcpus"] = 2
    response = client.post(
        f"{API}/profiles/web/versions/",
        {"document": changed, "change_note": "2 cpus"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["number"], body["parent"], body["author"]) == (2, 1, "author2")
    assert body["document"]["resource_allocation"]["vcpus"] == 2

    copy = client.post(f"{API}/profiles/web/versions/", {"parent": 2}, format="json")
    assert copy.status_code == 201
    assert copy.json()["parent"] == 2
    assert copy.json()["content_hash"] == body["content_hash"]

    missing = client.post(f"{API}/profiles/web/versions/", {"parent": 9}, format="json")
    assert missing.status_code == 400 and paths(missing) == ["parent"]
    assert PolicyVersion.objects.filter(policy__name="web").count() == 3


@pytest.mark.parametrize("who", ["viewer", "approver"])
def test_non_authors_cannot_start_drafts(users, make_document, who):
    approved(users, make_document, "web")
    response = client_for(users[who]).post(f"{API}/profiles/web/versions/", {}, format="json")
    assert response.status_code == 403
    assert PolicyVersion.objects.count() == 1


def test_author_edits_own_draft(users, make_document):
    v = draft(users, make_document, "web")
    changed = make_document("web", description="edited")
    response = client_for(users["author"]).patch(
        f"{API}/profiles/web/versions/1/",
        {"document": changed, "change_note": "edit"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["document"]["description"] == "edited"
    assert response.json()["change_note"] == "edit"
    assert response.json()["content_hash"] != v.content_hash

    note_only = client_for(users["author"]).patch(
        f"{API}/profiles/web/versions/1/", {"change_note": "just the note"}, format="json"
    )
    assert note_only.status_code == 200
    assert note_only.json()["change_note"] == "just the note"
    assert note_only.json()["document"]["description"] == "edited"

    empty = client_for(users["author"]).patch(f"{API}/profiles/web/versions/1/", {}, format="json")
    assert empty.status_code == 400


def test_only_the_author_edits_a_draft(users, make_document):
    v = draft(users, make_document, "web")
    before = snapshot(v)
    for who, code in [("author2", 403), ("viewer", 403), ("approver", 403)]:
        response = client_for(users[who]).patch(
            f"{API}/profiles/web/versions/1/", {"change_note": "mine now"}, format="json"
        )
        assert response.status_code == code, who
    assert snapshot(v) == before


def test_invalid_edit_is_400_and_changes_nothing(users, make_document):
    v = draft(users, make_document, "web")
    before = snapshot(v)
    bad = make_document("web")
    bad["resource_allocation"]["memory_mib"] = "lots"
    response = client_for(users["author"]).patch(
        f"{API}/profiles/web/versions/1/", {"document": bad}, format="json"
    )
    assert response.status_code == 400
    assert paths(response) == ["/resource_allocation/memory_mib"]
    assert snapshot(v) == before


def test_submitted_versions_cannot_be_edited_or_discarded(users, make_document):
    v = pending(users, make_document, "web")
    before = snapshot(v)
    client = client_for(users["author"])
    edit = client.patch(
        f"{API}/profiles/web/versions/1/",
        {"document": make_document("web", description="sneaky")},
        format="json",
    )
    assert edit.status_code == 409
    assert "only drafts" in edit.json()["detail"]
    assert client.delete(f"{API}/profiles/web/versions/1/").status_code == 409
    assert snapshot(v) == before


def test_author_discards_own_draft(users, make_document):
    v1 = approved(users, make_document, "web")
    v2 = svc.version_create_draft(user=users["author"], policy=v1.policy)
    assert client_for(users["author2"]).delete(f"{API}/profiles/web/versions/2/").status_code == 403
    assert client_for(users["viewer"]).delete(f"{API}/profiles/web/versions/2/").status_code == 403
    assert PolicyVersion.objects.filter(pk=v2.pk).exists()
    response = client_for(users["author"]).delete(f"{API}/profiles/web/versions/2/")
    assert response.status_code == 204
    assert not PolicyVersion.objects.filter(pk=v2.pk).exists()


# --- Review actions -------------------------------------------------------------------


def test_submit_approve_flow(users, make_document):
    draft(users, make_document, "web")
    url = f"{API}/profiles/web/versions/1"
    assert client_for(users["author2"]).post(f"{url}/submit/").status_code == 403
    assert client_for(users["viewer"]).post(f"{url}/submit/").status_code == 403

    submitted = client_for(users["author"]).post(f"{url}/submit/")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "pending"
    assert submitted.json()["submitted_at"]

    approved_ = client_for(users["approver"]).post(
        f"{url}/approve/", {"comment": "lgtm"}, format="json"
    )
    assert approved_.status_code == 200
    assert approved_.json()["status"] == "approved"
    assert approved_.json()["reviewer"] == "approver"
    assert approved_.json()["review_comment"] == "lgtm"
    assert client_for(users["viewer"]).get(f"{API}/profiles/web/").json()["approved_version"] == 1


def test_approving_a_new_version_supersedes_the_old(users, make_document):
    v1 = approved(users, make_document, "web")
    v2 = svc.version_create_draft(
        user=users["author"], policy=v1.policy, document=make_document("web", description="v2")
    )
    svc.version_submit(user=users["author"], version=v2)
    response = client_for(users["approver"]).post(f"{API}/profiles/web/versions/2/approve/")
    assert response.status_code == 200
    statuses = dict(PolicyVersion.objects.values_list("number", "status"))
    assert statuses == {1: VersionStatus.SUPERSEDED, 2: VersionStatus.APPROVED}


def test_author_cannot_approve_own_version(users, make_document):
    v = svc.policy_create(user=users["author_approver"], document=make_document("web"))
    svc.version_submit(user=users["author_approver"], version=v)
    before = snapshot(v)
    client = client_for(users["author_approver"])
    for action in ("approve", "reject"):
        response = client.post(
            f"{API}/profiles/web/versions/1/{action}/", {"comment": "self"}, format="json"
        )
        assert response.status_code == 403, action
        assert "may not" in response.json()["detail"]
    assert snapshot(v) == before


@pytest.mark.parametrize("who", ["author", "viewer", "operator"])
def test_non_approvers_cannot_review(users, make_document, who):
    v = pending(users, make_document, "web")
    before = snapshot(v)
    client = client_for(users[who])
    for action in ("approve", "reject"):
        response = client.post(
            f"{API}/profiles/web/versions/1/{action}/", {"comment": "x"}, format="json"
        )
        assert response.status_code == 403
    assert snapshot(v) == before


def test_reject_needs_a_comment(users, make_document):
    v = pending(users, make_document, "web")
    before = snapshot(v)
    client = client_for(users["approver"])
    missing = client.post(f"{API}/profiles/web/versions/1/reject/", {}, format="json")
    assert missing.status_code == 400 and paths(missing) == ["comment"]
    blank = client.post(f"{API}/profiles/web/versions/1/reject/", {"comment": "  "}, format="json")
    assert blank.status_code == 400 and paths(blank) == ["comment"]
    assert snapshot(v) == before

    response = client.post(
        f"{API}/profiles/web/versions/1/reject/", {"comment": "needs more memory"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["review_comment"] == "needs more memory"


def test_forbidden_transitions_are_409_and_change_nothing(users, make_document):
    d = draft(users, make_document, "draftonly")
    a = approved(users, make_document, "web")
    approver = client_for(users["approver"])
    author = client_for(users["author"])
    cases = [
        (approver, d, "approve", {}),
        (approver, d, "reject", {"comment": "no"}),
        (approver, d, "retire", {}),
        (approver, a, "approve", {}),
        (approver, a, "reject", {"comment": "no"}),
        (author, a, "submit", {}),
    ]
    for client, version, action, body in cases:
        before = snapshot(version)
        url = f"{API}/profiles/{version.policy.name}/versions/{version.number}/{action}/"
        response = client.post(url, body, format="json")
        assert response.status_code == 409, (action, version.label)
        assert response.json()["detail"]
        assert snapshot(version) == before, (action, version.label)


def test_retire_by_approvers_only(users, make_document):
    v = approved(users, make_document, "web")
    before = snapshot(v)
    for who in ("author", "viewer"):
        assert (
            client_for(users[who]).post(f"{API}/profiles/web/versions/1/retire/").status_code == 403
        )
    assert snapshot(v) == before
    response = client_for(users["approver2"]).post(
        f"{API}/profiles/web/versions/1/retire/", {"comment": "end of life"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "retired"
    again = client_for(users["approver2"]).post(f"{API}/profiles/web/versions/1/retire/")
    assert again.status_code == 409


# --- Diff and history -----------------------------------------------------------------


def test_diff_lists_structured_changes_against_parent_or_any_version(users, make_document):
    v1 = approved(users, make_document, "web")
    changed = make_document("web", description="bigger")
    changed["resource_allocation"]["vcpus"] = 2
    changed["execution_flags"] = ["Testing", "web"]
    del changed["resource_allocation"]["storage_gib"]
    changed["resource_allocation"]["storage_gib"] = 1
    changed["base_image_id"] = "debian-12"
    svc.version_create_draft(user=users["author"], policy=v1.policy, document=changed)
    client = client_for(users["viewer"])

    body = client.get(f"{API}/profiles/web/versions/2/diff/").json()
    assert body["profile"] == "web" and body["number"] == 2 and body["against"] == 1
    changes = {c["pointer"]: c for c in body["changes"]}
    assert changes["/resource_allocation/vcpus"] == {
        "pointer": "/resource_allocation/vcpus",
        "kind": "changed",
        "old": 1,
        "new": 2,
    }
    assert changes["/description"]["kind"] == "changed"
    assert changes["/execution_flags/1"] == {
        "pointer": "/execution_flags/1",
        "kind": "added",
        "old": None,
        "new": "web",
    }
    assert changes["/base_image_id"]["old"] == "tiny-linux"
    assert "/resource_allocation/storage_gib" not in changes

    backwards = client.get(f"{API}/profiles/web/versions/1/diff/?against=2").json()
    assert backwards["against"] == 2
    reverse = {c["pointer"]: c for c in backwards["changes"]}
    assert reverse["/resource_allocation/vcpus"]["old"] == 2
    assert reverse["/execution_flags/1"]["kind"] == "removed"

    first = client.get(f"{API}/profiles/web/versions/1/diff/").json()
    assert first["against"] is None
    assert {c["kind"] for c in first["changes"]} == {"added"}

    assert client.get(f"{API}/profiles/web/versions/2/diff/?against=2").json()["changes"] == []
    assert client.get(f"{API}/profiles/web/versions/2/diff/?against=9").status_code == 404
    bad = client.get(f"{API}/profiles/web/versions/2/diff/?against=abc")
    assert bad.status_code == 400 and paths(bad) == ["against"]


def test_history_lists_audit_entries_of_the_version(users, make_document):
    v1 = approved(users, make_document, "web")
    svc.version_create_draft(user=users["author"], policy=v1.policy)
    body = client_for(users["viewer"]).get(f"{API}/profiles/web/versions/1/history/").json()
    entries = body["results"]
    assert body["count"] == len(entries) == 3
    assert [(e["type"], e["status"], e["user"]) for e in entries] == [
        ("changed", "approved", "approver"),
        ("changed", "pending", "author"),
        ("created", "draft", "author"),
    ]
    assert entries[0]["reason"].startswith("approved")
    assert entries[1]["reason"] == "submitted for approval"
    assert all(e["content_hash"] == v1.content_hash for e in entries)


# --- Documents ------------------------------------------------------------------------


def test_vppd_schema_is_public(db):
    response = client_for().get(f"{API}/schemas/vppd/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/schema+json")
    assert json.loads(response.content) == load_vppd_schema()

    plain = client_for().get(f"{API}/schemas/vppd/", HTTP_ACCEPT="application/json")
    assert plain.status_code == 200
    assert plain["Content-Type"].startswith("application/json")


def test_validate_accepts_valid_document_without_saving(users, make_document):
    response = client_for(users["viewer"]).post(
        f"{API}/validate/", {"document": encrypted(make_document)}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"valid": True}
    assert not Policy.objects.exists()
    assert not VolumeKey.objects.exists()


def test_validate_reports_every_problem(users, make_document):
    document = make_document("web")
    document["resource_allocation"]["vcpus"] = 0
    document["execution_flags"] = ["web"]
    document["data_volume_definitions"] = [
        {
            "name": "data",
            "size_gib": 1,
            "mount_point": "/srv",
            "encryption": {"enabled": True, "key_ref": "no-such-key"},
        }
    ]
    response = client_for(users["viewer"]).post(
        f"{API}/validate/", {"document": document}, format="json"
    )
    assert response.status_code == 400
    assert set(paths(response)) == {
        "/resource_allocation/vcpus",
        "/execution_flags",
        "/data_volume_definitions/0/encryption/key_ref",
    }
    anonymous = client_for().post(f"{API}/validate/", {"document": document}, format="json")
    assert anonymous.status_code in (401, 403)


# --- Garbage never breaks the server --------------------------------------------------

# Bodies no endpoint accepts: each answers 400 with readable errors.
NOT_A_REQUEST = [
    b"not json",
    b"[1, 2, 3]",
    b'"a string"',
    b"null",
    b"NaN",
    b'{"a": Infinity}',
    b'{"document": {"resource_allocation": {"vcpus": 1e999}}}',
    b'{"document": {"resource_allocation": {"vcpus": ' + b"9" * 5000 + b"}}}",
    b"[" * 5000 + b"]" * 5000,
    b'{"document": ' + b'{"a": ' * 200 + b"1" + b"}" * 200 + b"}",
    b"\xff\xfe\x00garbage",
]

# Bodies of the right shape with wrong values: client errors (or, where an endpoint
# ignores the field, success), never a server error.
WRONG_VALUES = [
    b"",
    b"{}",
    b'{"document": "{\\"name\\": \\"web\\"}"}',
    b'{"document": [1, 2]}',
    b'{"document": null}',
    b'{"document": 12}',
    b'{"document": {}}',
    b'{"document": {"resource_allocation": {"vcpus": 123456789012345678901234567890}}}',
    b'{"parent": 99999999999999999999999999}',
    b'{"parent": -1, "change_note": 5}',
    b'{"comment": {"nested": true}}',
    b'{"document": {"name": "web"}, "change_note": ["x"]}',
    b'{"username": ["x"], "password": 1}',
]


def _targets(users):
    author = client_for(users["author"])
    approver = client_for(users["approver"])
    return [
        (author, "post", f"{API}/profiles/"),
        (author, "post", f"{API}/profiles/web/versions/"),
        (author, "patch", f"{API}/profiles/web/versions/1/"),
        (approver, "post", f"{API}/profiles/pend/versions/1/approve/"),
        (approver, "post", f"{API}/profiles/pend/versions/1/reject/"),
        (author, "post", f"{API}/validate/"),
        (client_for(), "post", f"{API}/auth/token/"),
    ]


def _assert_errors_body(response, url):
    data = response.json()
    assert data["errors"], url
    assert all(set(e) == {"path", "message"} for e in data["errors"]), url
    assert all(isinstance(e["message"], str) and e["message"] for e in data["errors"]), url


@pytest.mark.parametrize("body", NOT_A_REQUEST, ids=lambda b: repr(b[:30]))
def test_bodies_that_are_not_requests_are_400(users, make_document, body):
    v = draft(users, make_document, "web")
    p = pending(users, make_document, "pend")
    before = [snapshot(v), snapshot(p)]
    for client, method, url in _targets(users):
        response = getattr(client, method)(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.status_code)
        _assert_errors_body(response, url)
    assert [snapshot(v), snapshot(p)] == before
    assert Policy.objects.count() == 2


@pytest.mark.parametrize("body", WRONG_VALUES, ids=lambda b: repr(b[:30]))
def test_wrong_values_never_cause_a_server_error(users, make_document, body):
    v = draft(users, make_document, "web")
    pending(users, make_document, "pend")
    before = snapshot(v)
    for client, method, url in _targets(users):
        response = getattr(client, method)(url, body, content_type="application/json")
        assert response.status_code < 500, (url, response.status_code)
        if response.status_code == 400:
            _assert_errors_body(response, url)
    assert snapshot(v)[1:3] == before[1:3]  # the draft's document is untouched


def test_non_json_content_types_are_415(users):
    response = client_for(users["author"]).post(
        f"{API}/profiles/", "document=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


def test_browsable_api_renders(users, make_document):
    approved(users, make_document, "web")
    client = client_for(users["viewer"])
    for url in [
        "/profiles/",
        "/profiles/web/",
        "/profiles/web/versions/",
        "/profiles/web/versions/1/",
    ]:
        response = client.get(API + url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert b"<html" in response.content


# --- Volume keys never leave --------------------------------------------------------


def test_inline_key_never_appears_in_any_response(users, make_document):
    author = client_for(users["author"])
    created = author.post(
        f"{API}/profiles/", {"document": encrypted(make_document, "vault")}, format="json"
    )
    assert created.status_code == 201
    encryption = created.json()["document"]["data_volume_definitions"][0]["encryption"]
    assert set(encryption) == {"enabled", "key_ref"}
    assert VolumeKey.objects.filter(name=encryption["key_ref"]).exists()

    other_key = "Another-Plain-Key-9876543210-abc"
    edited = author.patch(
        f"{API}/profiles/vault/versions/1/",
        {"document": encrypted(make_document, "vault", key=other_key)},
        format="json",
    )
    second = author.post(
        f"{API}/profiles/vault/versions/",
        {"document": encrypted(make_document, "vault", key=SECRET), "parent": 1},
        format="json",
    )
    author.post(f"{API}/profiles/vault/versions/1/submit/")
    client_for(users["approver"]).post(f"{API}/profiles/vault/versions/1/approve/")
    # Rejected input echoes no key either: an invalid document carrying a key ...
    bad = encrypted(make_document, "vault")
    bad["resource_allocation"]["vcpus"] = 0
    invalid = author.post(f"{API}/profiles/vault/versions/", {"document": bad}, format="json")
    # ... and a key too short to be accepted, which the error is about.
    short_key = "short-Key-42"
    too_short = author.post(
        f"{API}/validate/",
        {"document": encrypted(make_document, "x", key=short_key)},
        format="json",
    )
    assert too_short.status_code == 400
    assert "/data_volume_definitions/0/encryption/key" in paths(too_short)

    viewer = client_for(users["viewer"])
    responses = [created, edited, second, invalid, too_short] + [
        viewer.get(API + url)
        for url in [
            "/profiles/",
            "/profiles/vault/",
            "/profiles/vault/versions/",
            "/profiles/vault/versions/1/",
            "/profiles/vault/versions/2/",
            "/profiles/vault/versions/1/diff/",
            "/profiles/vault/versions/2/diff/",
            "/profiles/vault/versions/2/diff/?against=1",
            "/profiles/vault/versions/1/history/",
            "/profiles/vault/versions/2/history/",
        ]
    ]
    for response in responses:
        assert response.status_code < 500
        text = response.content.decode()
        for plain in (SECRET, other_key, short_key):
            assert plain not in text, response.request["PATH_INFO"]
    assert invalid.status_code == 400
    assert edited.status_code == 200 and second.status_code == 201


def test_superuser_who_rewrote_a_draft_cannot_review_it(users, make_document):
    draft(users, make_document, "web")
    admin = client_for(users["admin"])
    document = make_document("web", description="the superuser's own document")
    response = admin.patch(f"{API}/profiles/web/versions/1/", {"document": document}, format="json")
    assert response.status_code == 200
    assert response.json()["authors"] == ["admin", "author"]
    assert response.json()["author"] == "author"
    assert admin.post(f"{API}/profiles/web/versions/1/submit/").status_code == 200
    v = PolicyVersion.objects.get(policy__name="web", number=1)
    before = snapshot(v)
    for action in ("approve", "reject"):
        response = admin.post(
            f"{API}/profiles/web/versions/1/{action}/", {"comment": "fine"}, format="json"
        )
        assert response.status_code == 403, action
        assert "may not" in response.json()["detail"]
    assert snapshot(v) == before
    listed = client_for(users["viewer"]).get(f"{API}/profiles/web/versions/").json()
    assert listed["results"][0]["authors"] == ["admin", "author"]


# --- Text no database or response can hold; one JSON parser everywhere -----------------


def _raw(client, method, url, body: str):
    return getattr(client, method)(url, body.encode(), content_type="application/json")


def _body(make_document, name="web", **fields) -> str:
    """A request body around a valid document; ``fields`` are raw JSON snippets spliced
    into the document (``description='"\\ud800"'``) or, prefixed ``body_``, the body."""
    document = json.dumps({k: v for k, v in make_document(name).items() if k not in fields})
    doc_extra = "".join(f', "{k}": {v}' for k, v in fields.items() if not k.startswith("body_"))
    body_extra = "".join(f', "{k[5:]}": {v}' for k, v in fields.items() if k.startswith("body_"))
    return '{"document": ' + document[:-1] + doc_extra + "}" + body_extra + "}"


@pytest.mark.parametrize("field", ["description", "base_image_id"])
def test_lone_surrogate_in_a_document_is_400_naming_the_field(users, make_document, field):
    author = client_for(users["author"])
    body = _body(make_document, **{field: '"web \\ud800 tier"'})
    for url in (f"{API}/validate/", f"{API}/profiles/"):
        response = _raw(author, "post", url, body)
        assert response.status_code == 400, url
        errors = response.json()["errors"]
        assert [e["path"] for e in errors] == [f"/{field}"], url
        assert "surrogate" in errors[0]["message"]
    assert not Policy.objects.exists()


def test_lone_surrogate_in_a_document_key_is_400(users, make_document):
    body = _body(
        make_document,
        resource_allocation='{"vcpus": 1, "memory_mib": 128, "storage_gib": 1, "x\\udc80": 1}',
    )
    response = _raw(client_for(users["author"]), "post", f"{API}/validate/", body)
    assert response.status_code == 400
    assert paths(response) == ["/resource_allocation/x\\udc80"]


def test_lone_surrogate_in_request_text_is_400_and_changes_nothing(users, make_document):
    author = client_for(users["author"])
    response = _raw(
        author, "post", f"{API}/profiles/", _body(make_document, body_change_note='"\\ud83d"')
    )
    assert response.status_code == 400
    assert paths(response) == ["change_note"]
    assert not Policy.objects.exists()
    v = draft(users, make_document, "web")
    p = pending(users, make_document, "pend")
    before = [snapshot(v), snapshot(p)]
    for client, method, url, body in (
        (author, "patch", f"{API}/profiles/web/versions/1/", '{"change_note": "\\udfff"}'),
        (author, "post", f"{API}/profiles/web/versions/", '{"change_note": "a\\ud800"}'),
        (
            client_for(users["approver"]),
            "post",
            f"{API}/profiles/pend/versions/1/reject/",
            '{"comment": "\\ud800"}',
        ),
        (
            client_for(users["approver"]),
            "post",
            f"{API}/profiles/pend/versions/1/approve/",
            '{"comment": "\\ud800"}',
        ),
    ):
        response = _raw(client, method, url, body)
        assert response.status_code == 400, url
        assert paths(response) in (["change_note"], ["comment"]), url
    assert [snapshot(v), snapshot(p)] == before
    assert PolicyVersion.objects.count() == 2


def test_duplicate_keys_are_400_with_their_path_like_the_cli(users, make_document):
    author = client_for(users["author"])
    body = _body(make_document, description='"one", "description": "two"')
    for url in (f"{API}/validate/", f"{API}/profiles/"):
        response = _raw(author, "post", url, body)
        assert response.status_code == 400, url
        assert paths(response) == ["/description"], url
        assert "more than once" in response.json()["errors"][0]["message"]
    assert not Policy.objects.exists()
    p = pending(users, make_document, "pend")
    response = _raw(
        client_for(users["approver"]),
        "post",
        f"{API}/profiles/pend/versions/1/reject/",
        '{"comment": "fine", "comment": ""}',
    )
    assert response.status_code == 400
    assert paths(response) == ["comment"]
    doubled = '{"document": {"name": "web"}, "document": ' + json.dumps(make_document("web")) + "}"
    response = _raw(author, "post", f"{API}/profiles/", doubled)
    assert response.status_code == 400
    assert paths(response) == ["document"]
    assert snapshot(p)[0] == VersionStatus.PENDING


@pytest.mark.parametrize("member", ['"key"', '"k\\u0065y"', '"\\u006b\\u0065\\u0079"'])
@pytest.mark.parametrize("escape_value", [False, True])
def test_api_errors_never_echo_a_key_however_it_is_spelt(
    users, make_document, member, escape_value
):
    value = "".join(f"\\u{ord(c):04x}" for c in SECRET) if escape_value else SECRET
    document = encrypted(make_document, "vault", key="PLACEHOLDER")
    document["resource_allocation"]["vcpus"] = 0
    document["data_volume_definitions"][0]["encryption"]["generate"] = True  # and a key
    raw = json.dumps({"document": document}).replace('"key": "PLACEHOLDER"', f'{member}: "{value}"')
    author = client_for(users["author"])
    for url in (f"{API}/validate/", f"{API}/profiles/"):
        for body in (raw, raw.replace('"vcpus": 0', '"vcpus": 0, "vcpus": 0')):
            response = _raw(author, "post", url, body)
            assert response.status_code == 400, url
            content = response.content.decode()
            assert SECRET not in content and SECRET[:12] not in content, url
            assert value[:30] not in content
    assert not Policy.objects.exists()
