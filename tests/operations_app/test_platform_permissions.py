"""Refreshing a platform and syncing its inventory need the operators role, and every
path asks the same service: the page, the API, the admin action and the CLI give the
same answer (libvirt's test driver)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from operations_app.models import ManagedVM, Platform
from operations_app.services import inventory as inventory_services
from operations_app.services import platforms as platform_services
from tests.operations_app.job_support import persona
from vmpersona.errors import NotPermitted

pytestmark = pytest.mark.django_db

TEST_URI = "test:///default"


@pytest.fixture
def lab():
    return platform_services.platform_create(name="lab", uri=TEST_URI, kvm="avoid")


def _untouched(platform: Platform) -> bool:
    platform.refresh_from_db()
    return (
        platform.capabilities_refreshed_at is None
        and platform.last_synced_at is None
        and not ManagedVM.objects.filter(platform=platform).exists()
    )


def test_the_services_refuse_a_viewer_and_let_an_operator_and_the_system(users, lab):
    with pytest.raises(NotPermitted, match="viewer may not refresh platforms"):
        platform_services.platform_refresh(platform=lab, user=users["viewer"])
    with pytest.raises(NotPermitted, match="viewer may not sync inventories"):
        inventory_services.inventory_sync(platform=lab, user=users["viewer"])
    assert _untouched(lab)
    assert platform_services.platform_refresh(platform=lab, user=users["operator"]).status == "ok"
    assert inventory_services.inventory_sync(platform=lab, user=users["operator"]).reachable
    # The system itself (periodic tasks, workers) names no user.
    assert inventory_services.inventory_sync(platform=lab).reachable


def test_pages_refuse_a_viewer_with_the_services_words(users, lab, password):
    client = Client()
    client.login(username="viewer", password=password("viewer"))
    for action, words in (("refresh", "may not refresh platforms"), ("sync", "may not sync")):
        response = client.post(f"/ops/platforms/lab/{action}/", follow=True)
        assert response.status_code == 200
        assert words in response.content.decode()
    assert _untouched(lab)
    client.login(username="operator", password=password("operator"))
    response = client.post("/ops/platforms/lab/refresh/", follow=True)
    assert "capabilities refreshed" in response.content.decode()


def test_api_refuses_a_viewer_with_403_and_serves_an_operator(users, lab):
    api = APIClient()
    api.force_authenticate(users["viewer"])
    for action, words in (("refresh", "may not refresh platforms"), ("sync", "may not sync")):
        response = api.post(f"/api/v1/platforms/lab/{action}/")
        assert response.status_code == 403
        assert words in response.json()["detail"]
    assert _untouched(lab)
    api.force_authenticate(users["operator"])
    assert api.post("/api/v1/platforms/lab/refresh/").json()["status"] == "ok"
    assert api.post("/api/v1/platforms/lab/sync/").status_code == 200


def test_admin_actions_refuse_a_staff_viewer_and_serve_a_superuser(users, lab, password):
    viewer = users["viewer"]
    viewer.is_staff = True
    viewer.save()
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_platform", "change_platform"])
    )
    client = Client()
    client.login(username="viewer", password=password("viewer"))
    for action, words in (
        ("refresh", "may not refresh platforms"),
        ("sync_inventory", "may not sync"),
    ):
        response = client.post(
            "/admin/operations_app/platform/",
            {"action": action, "_selected_action": [lab.pk]},
            follow=True,
        )
        assert response.status_code == 200
        assert words in response.content.decode()
    assert _untouched(lab)
    client.login(username="admin", password=password("admin"))
    response = client.post(
        "/admin/operations_app/platform/",
        {"action": "refresh", "_selected_action": [lab.pk]},
        follow=True,
    )
    said = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("lab: Reachable") for m in said), said


def test_cli_refuses_a_viewer_and_serves_an_operator(users, lab):
    for args in (["platform", "refresh", "lab"], ["inventory", "sync", "--platform", "lab"]):
        code, _, err = persona(*args, "--as", "viewer")
        assert code == 3, err
        assert "viewer may not" in err and "operators" in err
    assert _untouched(lab)
    code, out, err = persona("platform", "refresh", "lab", "--as", "operator")
    assert code == 0, err
    code, out, err = persona("inventory", "sync", "--platform", "lab", "--as", "operator")
    assert code == 0 and "lab:" in out, err
