"""Labels on the pages and in the admin: chips and the edit form of the VM and platform
pages, the lists' label filter, and the admin's JSON field, all through the labels
service (operators only, "labels changed" in the history)."""

from __future__ import annotations

import html
import json
import uuid

import pytest
from django.urls import reverse

from operations_app.models import ManagedVM, Platform, VMState
from tests.operations_app.job_support import make_platform

pytestmark = pytest.mark.django_db

VMS = reverse("operations:vms")
PLATFORMS = reverse("operations:platforms")


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


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


def vm_labels_url(vm) -> str:
    return reverse("operations:vm_labels", args=[vm.pk])


def platform_labels_url(platform) -> str:
    return reverse("operations:platform_labels", args=[platform.name])


# --------------------------------------------------------------------------- VM page


def test_the_vm_page_shows_labels_and_the_form_to_operators(client, users, vm):
    client.force_login(users["operator"])
    page = page_text(client.get(vm.get_absolute_url()))
    assert 'id="labels"' in page
    assert "team=payments" in page
    assert f'href="{VMS}?label=team%3Dpayments"' in page
    assert 'id="labels-form"' in page and f'action="{vm_labels_url(vm)}"' in page
    assert "onclick" not in page and "onsubmit" not in page


def test_viewers_see_the_labels_but_no_form(client, users, vm):
    client.force_login(users["viewer"])
    page = page_text(client.get(vm.get_absolute_url()))
    assert "team=payments" in page
    assert 'id="labels-form"' not in page


def test_an_operator_replaces_the_labels_from_the_vm_page(client, users, vm):
    client.force_login(users["operator"])
    response = client.post(vm_labels_url(vm), {"labels": "rack=r12\n\n env = prod \n"})
    assert response.status_code == 302
    assert response["Location"] == vm.get_absolute_url() + "#labels"
    vm.refresh_from_db()
    assert vm.labels == {"env": "prod", "rack": "r12"}
    record = vm.history.first()
    assert (record.history_change_reason, record.history_user) == (
        "labels changed",
        users["operator"],
    )
    page = client.get(response["Location"])
    assert "Labels of web-1 saved: env=prod, rack=r12." in messages_of(page)
    assert "env=prod\nrack=r12" in page_text(page)

    # An empty box removes them all.
    client.post(vm_labels_url(vm), {"labels": ""})
    vm.refresh_from_db()
    assert vm.labels == {}


def test_bad_lines_are_shown_beside_the_field_and_change_nothing(client, users, vm):
    client.force_login(users["operator"])
    response = client.post(vm_labels_url(vm), {"labels": "rack=r12\nnonsense\nteam=pay ments"})
    assert response.status_code == 400
    page = page_text(response)
    field = page[page.index('id="field-labels"') :]
    assert "labels/1 (line 2): 'nonsense' is not key=value" in field
    assert "labels/2 (line 3): the value 'pay ments' of 'team'" in field
    assert "rack=r12\nnonsense\nteam=pay ments" in page  # what was typed stays
    vm.refresh_from_db()
    assert vm.labels == {"team": "payments"}


@pytest.mark.parametrize("who", ["viewer", "author"])
def test_others_are_refused_with_403_and_change_nothing(client, users, vm, who):
    client.force_login(users[who])
    response = client.post(vm_labels_url(vm), {"labels": "team=other"})
    assert response.status_code == 403
    page = page_text(response)
    assert 'id="labels-errors"' in page
    assert f"{who} may not change labels" in page
    vm.refresh_from_db()
    assert vm.labels == {"team": "payments"}


def test_the_labels_url_takes_posts_of_logged_in_users_only(client, users, vm):
    assert client.post(vm_labels_url(vm), {"labels": "a=b"}).status_code == 302  # to login
    client.force_login(users["operator"])
    assert client.get(vm_labels_url(vm)).status_code == 405
    assert client.post(reverse("operations:vm_labels", args=[999999])).status_code == 404
    vm.refresh_from_db()
    assert vm.labels == {"team": "payments"}


# --------------------------------------------------------------------------- platform page


def test_the_platform_page_shows_and_changes_labels(client, users, lab):
    Platform.objects.filter(pk=lab.pk).update(labels={"rack": "r12"})
    client.force_login(users["operator"])
    page = page_text(client.get(lab.get_absolute_url()))
    assert f'href="{PLATFORMS}?label=rack%3Dr12"' in page
    assert f'action="{platform_labels_url(lab)}"' in page

    response = client.post(platform_labels_url(lab), {"labels": "rack=r13\ngpu="})
    assert response.status_code == 302
    assert response["Location"] == lab.get_absolute_url() + "#labels"
    lab.refresh_from_db()
    assert lab.labels == {"gpu": "", "rack": "r13"}
    record = lab.history.first()
    assert (record.history_change_reason, record.history_user) == (
        "labels changed",
        users["operator"],
    )

    response = client.post(platform_labels_url(lab), {"labels": "-bad=1"})
    assert response.status_code == 400
    assert "labels/0 (line 1): key '-bad'" in page_text(response)


def test_viewers_cannot_change_platform_labels(client, users, lab):
    client.force_login(users["viewer"])
    page = page_text(client.get(lab.get_absolute_url()))
    assert 'id="labels"' in page and 'id="labels-form"' not in page
    response = client.post(platform_labels_url(lab), {"labels": "rack=r1"})
    assert response.status_code == 403
    assert "viewer may not change labels" in page_text(response)
    lab.refresh_from_db()
    assert lab.labels == {}


# --------------------------------------------------------------------------- the lists


def _vm(platform, name, labels):
    return ManagedVM.objects.create(
        platform=platform, name=name, domain_uuid=uuid.uuid4(), labels=labels
    )


def test_the_vm_list_shows_labels_and_filters_by_them(client, users, lab):
    _vm(lab, "pay-1", {"team": "payments", "rack": "r12"})
    _vm(lab, "pay-2", {"team": "payments"})
    _vm(lab, "search-1", {"team": "search"})
    client.force_login(users["viewer"])

    def listed(**query):
        response = client.get(VMS, query)
        return response, [vm.name for vm in response.context["vms"]]

    response, names = listed()
    assert names == ["pay-1", "pay-2", "search-1"]
    page = page_text(response)
    assert f'href="{VMS}?label=rack%3Dr12"' in page and 'name="label"' in page
    assert listed(label="team=payments")[1] == ["pay-1", "pay-2"]
    assert listed(label="team=payments,rack")[1] == ["pay-1"]
    assert listed(label="team")[1] == ["pay-1", "pay-2", "search-1"]
    assert listed(label="team=payments", q="2")[1] == ["pay-2"]
    response, names = listed(label="team=payments")
    assert 'value="team=payments"' in page_text(response)

    response, names = listed(label="team=pay ments")
    assert response.status_code == 400 and names == []
    page = page_text(response)
    assert 'id="label-error"' in page and "label: 'team=pay ments' is not key or key=value" in page


def test_the_platform_list_shows_labels_and_filters_by_them(client, users, lab):
    other = make_platform("other")
    Platform.objects.filter(pk=lab.pk).update(labels={"rack": "r12", "gpu": ""})
    Platform.objects.filter(pk=other.pk).update(labels={"rack": "r13"})
    client.force_login(users["viewer"])

    def listed(**query):
        response = client.get(PLATFORMS, query)
        return response, [row["platform"].name for row in response.context["rows"]]

    response, names = listed()
    assert names == ["lab", "other"]
    assert f'href="{PLATFORMS}?label=gpu%3D"' in page_text(response)
    assert listed(label="rack=r12")[1] == ["lab"]
    assert listed(label="rack")[1] == ["lab", "other"]
    assert listed(label="gpu,rack=r13")[1] == []
    response, names = listed(label="=x")
    assert response.status_code == 400 and names == []
    assert 'id="label-error"' in page_text(response)


# --------------------------------------------------------------------------- the admin


def test_the_admin_edits_a_vms_labels_through_the_service(client, users, vm):
    client.force_login(users["admin"])
    url = reverse("admin:operations_app_managedvm_change", args=[vm.pk])
    page = page_text(client.get(url))
    assert 'name="labels"' in page
    response = client.post(url, {"labels": json.dumps({"rack": "r12"}), "_save": "Save"})
    assert response.status_code == 302, page_text(response)
    vm.refresh_from_db()
    assert vm.labels == {"rack": "r12"}
    record = vm.history.first()
    assert (record.history_change_reason, record.history_user) == ("labels changed", users["admin"])

    response = client.post(url, {"labels": json.dumps({"rack": "r 12"}), "_save": "Save"})
    assert response.status_code == 200
    assert "labels/rack: the value 'r 12' of 'rack'" in page_text(response)
    vm.refresh_from_db()
    assert vm.labels == {"rack": "r12"}


def _platform_admin_data(platform: Platform, **changes) -> dict:
    data = {
        "name": platform.name,
        "uri": platform.uri,
        "migration_uri": platform.migration_uri,
        "description": platform.description,
        "site": platform.site,
        "region": platform.region,
        "enabled": "on" if platform.enabled else "",
        "currency": platform.currency,
        "cost_vcpu_hour": str(platform.cost_vcpu_hour),
        "cost_ram_gib_hour": str(platform.cost_ram_gib_hour),
        "cost_storage_gib_month": str(platform.cost_storage_gib_month),
        "storage_pool": platform.storage_pool,
        "networks": json.dumps(platform.networks),
        "vlan_networks": json.dumps(platform.vlan_networks),
        "kvm": platform.kvm,
        "constraints": json.dumps(platform.constraints),
        "labels": json.dumps(platform.labels),
        "_save": "Save",
    }
    data.update(changes)
    return data


def test_the_admin_edits_a_platforms_labels_through_the_service(client, users, lab):
    client.force_login(users["admin"])
    url = reverse("admin:operations_app_platform_change", args=[lab.pk])
    assert 'name="labels"' in page_text(client.get(url))
    response = client.post(url, _platform_admin_data(lab, labels=json.dumps({"rack": "r1"})))
    assert response.status_code == 302, page_text(response)
    lab.refresh_from_db()
    assert lab.labels == {"rack": "r1"}
    assert lab.history.first().history_change_reason == "labels changed"
    assert lab.history.first().history_user == users["admin"]

    # Labels and another setting at once: both saved, each in the history.
    response = client.post(
        url, _platform_admin_data(lab, site="dc-9", labels=json.dumps({"rack": "r2"}))
    )
    assert response.status_code == 302, page_text(response)
    lab.refresh_from_db()
    assert (lab.site, lab.labels) == ("dc-9", {"rack": "r2"})

    response = client.post(url, _platform_admin_data(lab, labels=json.dumps(["rack"])))
    assert response.status_code == 200
    assert "labels: labels are an object" in page_text(response)
