"""Scheduling policies through the profiles API: the store is generic, so a policy of
another kind is created with ``kind`` in the body, listed with ``?kind=``, and read,
submitted and approved at its links (which carry ``?kind=scheduling``). Requests that
name no kind keep meaning VPPDs; a VPPD and a scheduling policy may share a name."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from profiles_app.models import Policy, PolicyKind, VersionStatus

pytestmark = pytest.mark.django_db

API = "/api/v1"
KIND = {"kind": "scheduling"}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def policy_document(name: str = "balance-cpu", **fields) -> dict:
    return {
        "schema_version": "1.0",
        "name": name,
        "description": "Relieve hot hosts.",
        "trigger": "utilisation",
        "utilisation": {"metric": "cpu", "trigger_percent": 80, "target_percent": 60},
        "automation": "approve",
        **fields,
    }


def errors(response) -> dict[str, str]:
    return {e["path"]: e["message"] for e in response.json()["errors"]}


def create(users, document=None, who="author"):
    return client_for(users[who]).post(
        f"{API}/profiles/",
        {"kind": "scheduling", "document": document or policy_document()},
        format="json",
    )


def test_a_scheduling_policy_is_created_reviewed_and_approved_at_its_links(users):
    response = create(users)
    assert response.status_code == 201, response.content
    draft = response.json()
    assert draft["kind"] == "scheduling" and draft["label"] == "balance-cpu@1"
    assert draft["document"]["trigger"] == "utilisation"
    links = draft["links"]
    assert response["Location"] == links["self"]
    assert links["self"].endswith("/api/v1/profiles/balance-cpu/versions/1/?kind=scheduling")
    assert links["profile"].endswith("/api/v1/profiles/balance-cpu/?kind=scheduling")
    policy = Policy.objects.get(name="balance-cpu")
    assert policy.kind == PolicyKind.SCHEDULING

    author, approver = client_for(users["author"]), client_for(users["approver"])
    version = f"{API}/profiles/balance-cpu/versions/1/"
    assert author.post(f"{version}submit/?kind=scheduling").status_code == 200
    # the author never approves their own version
    assert author.post(f"{version}approve/?kind=scheduling", {}, format="json").status_code == 403
    response = approver.post(f"{version}approve/?kind=scheduling", {"comment": "ok"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == VersionStatus.APPROVED

    detail = approver.get(links["profile"]).json()
    assert detail["kind"] == "scheduling" and detail["approved_version"] == 1
    assert detail["links"]["approved"].endswith("/versions/1/?kind=scheduling")
    assert approver.get(f"{links['self'].split('?')[0]}history/", KIND).status_code == 200
    assert approver.get(f"{links['self'].split('?')[0]}diff/", KIND).json()["changes"]


def test_requests_naming_no_kind_mean_vppds(users, make_document):
    create(users)
    vppds = client_for(users["viewer"])
    assert vppds.get(f"{API}/profiles/balance-cpu/").status_code == 404
    assert vppds.get(f"{API}/profiles/balance-cpu/versions/1/").status_code == 404
    assert vppds.get(f"{API}/profiles/").json()["count"] == 0
    listed = vppds.get(f"{API}/profiles/", KIND).json()
    assert [(p["name"], p["kind"]) for p in listed["results"]] == [("balance-cpu", "scheduling")]
    assert listed["results"][0]["links"]["self"].endswith("/balance-cpu/?kind=scheduling")


def test_a_vppd_and_a_scheduling_policy_may_share_a_name(users, make_document):
    assert create(users, policy_document("web")).status_code == 201
    response = client_for(users["author"]).post(
        f"{API}/profiles/", {"document": make_document("web")}, format="json"
    )
    assert response.status_code == 201 and response.json()["kind"] == "vppd"
    assert "?" not in response.json()["links"]["self"]
    viewer = client_for(users["viewer"])
    assert viewer.get(f"{API}/profiles/web/").json()["kind"] == "vppd"
    assert viewer.get(f"{API}/profiles/web/", KIND).json()["kind"] == "scheduling"
    # a second scheduling policy of that name is refused
    response = create(users, policy_document("web"))
    assert response.status_code == 400
    assert errors(response) == {"/name": "a policy named 'web' already exists"}


def test_a_scheduling_document_is_checked_against_its_own_schema_and_rules(users):
    bad = policy_document(
        utilisation={"metric": "cpu", "trigger_percent": 60, "target_percent": 70}
    )
    response = create(users, bad)
    assert response.status_code == 400
    assert "/utilisation/target_percent" in errors(response)
    assert not Policy.objects.exists()

    validate = client_for(users["viewer"]).post(
        f"{API}/validate/", {"kind": "scheduling", "document": policy_document()}, format="json"
    )
    assert validate.status_code == 200 and validate.json() == {"valid": True}
    as_vppd = client_for(users["viewer"]).post(
        f"{API}/validate/", {"document": policy_document()}, format="json"
    )
    assert as_vppd.status_code == 400  # not a VPPD


def test_unknown_kinds_answer_400_at_kind(users):
    viewer = client_for(users["viewer"])
    response = viewer.get(f"{API}/profiles/", {"kind": "firewall"})
    assert response.status_code == 400 and "kind" in errors(response)
    response = viewer.get(f"{API}/profiles/web/versions/1/", {"kind": "firewall"})
    assert response.status_code == 400 and "kind" in errors(response)
    response = client_for(users["author"]).post(
        f"{API}/profiles/", {"kind": "firewall", "document": policy_document()}, format="json"
    )
    assert response.status_code == 400 and "kind" in errors(response)


def test_only_authors_create_scheduling_policies(users):
    assert create(users, who="viewer").status_code == 403
    assert create(users, who="operator").status_code == 403
    assert not Policy.objects.exists()
