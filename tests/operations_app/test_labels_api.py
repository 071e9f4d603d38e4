"""Labels through the API: read in the VM and platform bodies, changed at
``vms/<id>/labels/`` and ``platforms/<name>/labels/`` (PUT replaces, PATCH sets and
removes), the lists' ``?label=`` filter, and the errors: 400 with the label's path, 403
for anyone but operators, 404 for unknown objects."""

from __future__ import annotations

import uuid

import pytest

from operations_app.models import ManagedVM, Platform, VMState
from tests.operations_app.job_support import errors, make_platform

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def lab(users):
    return make_platform("lab")


@pytest.fixture
def vm(lab):
    return ManagedVM.objects.create(
        platform=lab,
        name="web-1",
        domain_uuid=uuid.uuid4(),
        state=VMState.RUNNING,
        labels={"team": "payments"},
    )


def test_the_bodies_carry_labels_and_a_link(api, users, vm, lab):
    Platform.objects.filter(pk=lab.pk).update(labels={"rack": "r12"})
    client = api(users["viewer"])
    body = client.get(f"{API}/vms/{vm.pk}/").json()
    assert body["labels"] == {"team": "payments"}
    assert body["links"]["labels"].endswith(f"{API}/vms/{vm.pk}/labels/")
    assert client.get(f"{API}/vms/").json()["results"][0]["labels"] == {"team": "payments"}
    body = client.get(f"{API}/platforms/lab/").json()
    assert body["labels"] == {"rack": "r12"}
    assert body["links"]["labels"].endswith(f"{API}/platforms/lab/labels/")
    assert client.get(f"{API}/platforms/").json()["results"][0]["labels"] == {"rack": "r12"}
    assert client.get(f"{API}/vms/{vm.pk}/labels/").json() == {"labels": {"team": "payments"}}
    assert client.get(f"{API}/platforms/lab/labels/").json() == {"labels": {"rack": "r12"}}


def test_an_operator_replaces_a_vms_labels(api, users, vm):
    client = api(users["operator"])
    response = client.put(
        f"{API}/vms/{vm.pk}/labels/", {"labels": {"rack": "r12", "env": ""}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {"labels": {"env": "", "rack": "r12"}}
    vm.refresh_from_db()
    assert vm.labels == {"env": "", "rack": "r12"}
    record = vm.history.first()
    assert (record.history_change_reason, record.history_user) == (
        "labels changed",
        users["operator"],
    )
    response = client.put(f"{API}/vms/{vm.pk}/labels/", {"labels": {}}, format="json")
    assert response.json() == {"labels": {}}


def test_patch_sets_some_and_removes_others(api, users, vm):
    client = api(users["operator"])
    response = client.patch(
        f"{API}/vms/{vm.pk}/labels/",
        {"labels": {"rack": "r12"}, "remove": ["team", "absent"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"labels": {"rack": "r12"}}
    response = client.patch(f"{API}/vms/{vm.pk}/labels/", {"labels": {"a": "1"}}, format="json")
    assert response.json() == {"labels": {"a": "1", "rack": "r12"}}
    response = client.patch(f"{API}/vms/{vm.pk}/labels/", {}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "path", "fragment"),
    [
        ({"labels": {"team": "pay ments"}}, "labels/team", "the value 'pay ments' of 'team'"),
        ({"labels": {"-team": "x"}}, "labels/-team", "key '-team'"),
        ({"labels": {"example.com/": "x"}}, "labels/example.com~1", "name after '/'"),
        ({"labels": {"team": 12}}, "labels/team", "must be a string"),
        ({"labels": ["team=payments"]}, "labels", "an object"),
        ({"labels": {f"k{i}": "v" for i in range(65)}}, "labels", "at most 64 labels"),
        ({}, "labels", "required"),
    ],
)
def test_bad_labels_answer_400_with_their_path(api, users, vm, body, path, fragment):
    response = api(users["operator"]).put(f"{API}/vms/{vm.pk}/labels/", body, format="json")
    assert response.status_code == 400
    found = errors(response)
    assert path in found, found
    assert fragment in found[path]
    vm.refresh_from_db()
    assert vm.labels == {"team": "payments"}


def test_patch_errors_name_the_key_to_remove(api, users, vm):
    response = api(users["operator"]).patch(
        f"{API}/vms/{vm.pk}/labels/", {"remove": ["ok", "not ok"]}, format="json"
    )
    assert response.status_code == 400
    assert list(errors(response)) == ["remove/1"]


@pytest.mark.parametrize("who", ["viewer", "author", "approver"])
def test_only_operators_change_labels(api, users, vm, lab, who):
    client = api(users[who])
    for response in (
        client.put(f"{API}/vms/{vm.pk}/labels/", {"labels": {"a": "b"}}, format="json"),
        client.patch(f"{API}/vms/{vm.pk}/labels/", {"remove": ["team"]}, format="json"),
        client.put(f"{API}/platforms/lab/labels/", {"labels": {"a": "b"}}, format="json"),
        client.patch(f"{API}/platforms/lab/labels/", {"labels": {"a": "b"}}, format="json"),
    ):
        assert response.status_code == 403
        assert "operators" in response.json()["detail"]
    vm.refresh_from_db()
    lab.refresh_from_db()
    assert vm.labels == {"team": "payments"} and lab.labels == {}


def test_unknown_objects_and_anonymous_clients(api, users):
    client = api(users["operator"])
    assert client.put(f"{API}/vms/999999/labels/", {"labels": {}}, format="json").status_code == (
        404
    )
    assert client.get(f"{API}/platforms/nope/labels/").status_code == 404
    from rest_framework.test import APIClient

    assert APIClient().get(f"{API}/platforms/").status_code in (401, 403)


def test_platform_labels(api, users, lab):
    client = api(users["operator"])
    response = client.put(
        f"{API}/platforms/lab/labels/", {"labels": {"rack": "r12", "gpu": ""}}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"labels": {"gpu": "", "rack": "r12"}}
    response = client.patch(f"{API}/platforms/lab/labels/", {"remove": ["gpu"]}, format="json")
    assert response.json() == {"labels": {"rack": "r12"}}
    lab.refresh_from_db()
    assert lab.labels == {"rack": "r12"}
    assert lab.history.first().history_change_reason == "labels changed"
    response = client.put(f"{API}/platforms/lab/labels/", {"labels": {"Rack": "-"}}, format="json")
    assert response.status_code == 400 and list(errors(response)) == ["labels/Rack"]


def test_the_lists_filter_by_label(api, users, lab):
    other = make_platform("other")
    for name, labels in [
        ("a", {"team": "payments", "rack": "r12"}),
        ("b", {"team": "payments"}),
        ("c", {"team": "search"}),
    ]:
        ManagedVM.objects.create(platform=lab, name=name, domain_uuid=uuid.uuid4(), labels=labels)
    Platform.objects.filter(pk=lab.pk).update(labels={"rack": "r12"})
    Platform.objects.filter(pk=other.pk).update(labels={"rack": "r13", "gpu": "a100"})
    client = api(users["viewer"])

    def vm_names(selector):
        response = client.get(f"{API}/vms/", {"label": selector})
        assert response.status_code == 200, response.json()
        return [v["name"] for v in response.json()["results"]]

    def platform_names(selector):
        response = client.get(f"{API}/platforms/", {"label": selector})
        assert response.status_code == 200, response.json()
        return [p["name"] for p in response.json()["results"]]

    assert vm_names("team=payments") == ["a", "b"]
    assert vm_names("team=payments,rack") == ["a"]
    assert vm_names("team") == ["a", "b", "c"]
    assert vm_names("") == ["a", "b", "c"]
    assert platform_names("rack") == ["lab", "other"]
    assert platform_names("gpu=a100") == ["other"]
    assert platform_names("rack=r12,gpu") == []

    for path in ("vms", "platforms"):
        response = client.get(f"{API}/{path}/", {"label": "team=no way"})
        assert response.status_code == 400
        assert "is not key or key=value" in errors(response)["label"]
