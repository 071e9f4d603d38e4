"""The platforms, VMs and images API as a client sees it: status codes, bodies, rows left.

Platforms use libvirt's in-process ``test:///default`` driver, so refresh and sync
really talk to libvirt; an unreachable platform points at a socket that is not there.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from operations_app.models import ManagedVM, Platform, VMMetricSample
from operations_app.services import platforms as platform_services

pytestmark = pytest.mark.django_db

API = "/api/v1"
TEST_URI = "test:///default"
UNREACHABLE_URI = "qemu+unix:///system?socket=/nonexistent"


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def platform(name="lab", uri=TEST_URI, **fields) -> Platform:
    return platform_services.platform_create(name=name, uri=uri, **fields)


def paths(body) -> set[str]:
    return {e["path"] for e in body["errors"]}


# --- access ----------------------------------------------------------------------------


def test_anonymous_gets_nothing():
    p = platform()
    client = APIClient()
    for path in ("platforms/", f"platforms/{p.name}/", "vms/", "images/"):
        assert client.get(f"{API}/{path}").status_code in (401, 403), path
    assert client.post(f"{API}/platforms/{p.name}/refresh/").status_code in (401, 403)
    assert Platform.objects.get(pk=p.pk).status == "unknown"


def test_viewer_reads_but_may_not_write(users):
    p = platform()
    viewer = client_for(users["viewer"])
    assert viewer.get(f"{API}/platforms/").status_code == 200
    denied = [
        viewer.post(f"{API}/platforms/", {"name": "x", "uri": TEST_URI}, format="json"),
        viewer.patch(f"{API}/platforms/{p.name}/", {"site": "x"}, format="json"),
        viewer.post(f"{API}/platforms/{p.name}/refresh/"),
        viewer.post(f"{API}/platforms/{p.name}/sync/"),
    ]
    for response in denied:
        assert response.status_code == 403
        assert "operators" in response.json()["detail"]
    p.refresh_from_db()
    assert Platform.objects.count() == 1 and p.site == "" and p.status == "unknown"
    assert not ManagedVM.objects.exists()


def test_unknown_objects_are_404(users):
    client = client_for(users["operator"])
    for response in (
        client.get(f"{API}/platforms/nope/"),
        client.patch(f"{API}/platforms/nope/", {"site": "x"}, format="json"),
        client.post(f"{API}/platforms/nope/refresh/"),
        client.post(f"{API}/platforms/nope/sync/"),
        client.get(f"{API}/vms/999999/"),
        client.get(f"{API}/vms/999999/metrics/"),
        client.get(f"{API}/images/nope/"),
    ):
        assert response.status_code == 404
        assert response.json()["detail"]


# --- platforms -------------------------------------------------------------------------


def test_list_platforms(users):
    platform("lab", site="dc-1")
    platform("remote", uri="qemu+ssh://root:hunter2@b.example/system", enabled=False)
    client = client_for(users["viewer"])
    body = client.get(f"{API}/platforms/").json()
    assert body["count"] == 2
    by_name = {p["name"]: p for p in body["results"]}
    assert by_name["remote"]["uri"] == "qemu+ssh://root:***@b.example/system"
    assert "hunter2" not in str(body)
    assert by_name["lab"]["status"] == "unknown" and by_name["lab"]["vm_count"] == 0
    assert by_name["lab"]["links"]["self"].endswith(f"{API}/platforms/lab/")

    body = client.get(f"{API}/platforms/", {"enabled": "false"}).json()
    assert [p["name"] for p in body["results"]] == ["remote"]
    body = client.get(f"{API}/platforms/", {"search": "dc-1"}).json()
    assert [p["name"] for p in body["results"]] == ["lab"]
    response = client.get(f"{API}/platforms/", {"enabled": "perhaps"})
    assert response.status_code == 400 and paths(response.json()) == {"enabled"}


def test_operator_creates_a_platform(users):
    client = client_for(users["operator"])
    response = client.post(
        f"{API}/platforms/",
        {
            "name": "host-c",
            "uri": "qemu+tls://host-c.example/system",
            "site": "dc-2",
            "networks": ["default"],
            "vlan_networks": {"100": "vlan100"},
            "constraints": {"disk_buses": ["virtio"]},
            "currency": "CHF",
            "cost_vcpu_hour": "0.01",
            "kvm": "avoid",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == body["links"]["self"]
    assert body["name"] == "host-c" and body["status"] == "unknown"
    assert body["networks"] == ["default"] and body["vlan_networks"] == {"100": "vlan100"}
    assert body["costs"] == {
        "currency": "CHF",
        "vcpu_hour": "0.01000",
        "ram_gib_hour": "0.00000",
        "storage_gib_month": "0.00000",
    }
    assert body["capabilities"] is None
    assert body["effective_capabilities"]["disk_buses"] == []
    p = Platform.objects.get(name="host-c")
    assert p.kvm == "avoid" and p.constraints == {"disk_buses": ["virtio"]}
    assert p.history.first().history_user == users["operator"]


def test_create_errors_carry_paths(users):
    client = client_for(users["operator"])
    response = client.post(
        f"{API}/platforms/",
        {"name": "x", "uri": "http://x/", "constraints": {"disk_buses": ["floppy"]}},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert paths(body) == {"uri", "constraints/disk_buses/0"}
    assert all(e["message"] for e in body["errors"])

    response = client.post(
        f"{API}/platforms/",
        {"name": "y", "uri": TEST_URI, "networks": "default", "cost_vcpu_hour": "-1"},
        format="json",
    )
    assert response.status_code == 400
    assert paths(response.json()) == {"networks", "cost_vcpu_hour"}

    response = client.post(f"{API}/platforms/", {"uri": TEST_URI}, format="json")
    assert response.status_code == 400 and paths(response.json()) == {"name"}

    platform("taken")
    response = client.post(f"{API}/platforms/", {"name": "taken", "uri": TEST_URI}, format="json")
    assert response.status_code == 400 and paths(response.json()) == {"name"}
    assert list(Platform.objects.values_list("name", flat=True)) == ["taken"]


def test_operator_updates_a_platform(users):
    p = platform()
    client = client_for(users["operator"])
    response = client.patch(
        f"{API}/platforms/{p.name}/",
        {"site": "dc-9", "constraints": {"max_vcpus": 2}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["site"] == "dc-9"
    p.refresh_from_db()
    assert p.site == "dc-9" and p.constraints == {"max_vcpus": 2} and p.uri == TEST_URI

    response = client.patch(f"{API}/platforms/{p.name}/", {}, format="json")
    assert response.status_code == 400
    response = client.patch(
        f"{API}/platforms/{p.name}/", {"vlan_networks": {"9999": "x"}}, format="json"
    )
    assert response.status_code == 400 and paths(response.json()) == {"vlan_networks/9999"}


def test_refresh_fills_capabilities(users):
    p = platform(constraints={"max_vcpus": 4})
    client = client_for(users["operator"])
    response = client.post(f"{API}/platforms/{p.name}/refresh/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["last_error"] == ""
    caps = body["capabilities"]
    assert caps["uri"] == TEST_URI and caps["pools"] and caps["networks"]
    assert body["effective_capabilities"]["max_vcpus"] == 4
    assert body["utilisation"]["vcpus_total"] == caps["cpu_count"]
    assert body["capabilities_refreshed_at"]

    detail = client_for(users["viewer"]).get(f"{API}/platforms/{p.name}/").json()
    assert detail["capabilities"] == caps


def test_refresh_of_an_unreachable_platform(users):
    p = platform("gone", uri=UNREACHABLE_URI)
    response = client_for(users["operator"]).post(f"{API}/platforms/{p.name}/refresh/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "unreachable" and "/nonexistent" in body["last_error"]
    assert body["capabilities"] is None

    response = client_for(users["operator"]).post(f"{API}/platforms/{p.name}/sync/")
    assert response.status_code == 200
    body = response.json()
    assert body["reachable"] is False and "/nonexistent" in body["error"]


# --- VMs ---------------------------------------------------------------------------------


def test_sync_and_the_vm_endpoints(users):
    p = platform()
    response = client_for(users["operator"]).post(f"{API}/platforms/{p.name}/sync/")
    assert response.status_code == 200
    body = response.json()
    assert body["reachable"] is True and "test" in body["added"] and body["seen"] >= 1

    viewer = client_for(users["viewer"])
    vms = viewer.get(f"{API}/vms/", {"platform": p.name, "managed": "false"}).json()["results"]
    test_vm = next(vm for vm in vms if vm["name"] == "test")
    assert test_vm["managed"] is False and test_vm["state"] == "running"
    assert test_vm["profile"] is None and test_vm["profile_version"] is None
    assert viewer.get(f"{API}/vms/", {"managed": "true"}).json()["count"] == 0
    assert viewer.get(f"{API}/vms/", {"state": "shutoff"}).json()["count"] == 0
    assert viewer.get(f"{API}/vms/", {"platform": "other"}).json()["count"] == 0
    response = viewer.get(f"{API}/vms/", {"state": "exploded"})
    assert response.status_code == 400 and paths(response.json()) == {"state"}

    detail = viewer.get(f"{API}/vms/{test_vm['id']}/").json()
    assert detail["domain_uuid"] == test_vm["domain_uuid"]
    assert detail["latest_metrics"] is not None  # sync sampled the running domain
    assert detail["links"]["metrics"].endswith(f"/vms/{test_vm['id']}/metrics/")


def test_vm_metrics(users):
    p = platform("cluster", uri=UNREACHABLE_URI)
    vm = ManagedVM.objects.create(platform=p, name="web-01", domain_uuid=uuid.uuid4())
    start = timezone.now() - timedelta(hours=1)
    for i in range(5):
        VMMetricSample.objects.create(
            vm=vm, at=start + timedelta(minutes=i), cpu_percent=float(i), net_rx_bytes=i * 100
        )
    viewer = client_for(users["viewer"])
    samples = viewer.get(f"{API}/vms/{vm.pk}/metrics/").json()
    assert [s["cpu_percent"] for s in samples] == [0.0, 1.0, 2.0, 3.0, 4.0]  # oldest first
    samples = viewer.get(f"{API}/vms/{vm.pk}/metrics/", {"limit": 2}).json()
    assert [s["net_rx_bytes"] for s in samples] == [300, 400]
    for bad in ("0", "5000", "many"):
        response = viewer.get(f"{API}/vms/{vm.pk}/metrics/", {"limit": bad})
        assert response.status_code == 400 and paths(response.json()) == {"limit"}, bad
    detail = viewer.get(f"{API}/vms/{vm.pk}/").json()
    assert detail["latest_metrics"]["cpu_percent"] == 4.0


def test_vm_with_a_profile_version(users, make_document):
    from profiles_app.services import versions as profile_services

    version = profile_services.policy_create(user=users["author"], document=make_document("web"))
    vm = ManagedVM.objects.create(
        platform=platform("cluster", uri=UNREACHABLE_URI),
        name="web-01",
        domain_uuid=uuid.uuid4(),
        managed=True,
        profile_version=version,
        metadata={"profile": "web", "profile_version": 1},
    )
    body = client_for(users["viewer"]).get(f"{API}/vms/{vm.pk}/").json()
    assert body["managed"] is True and body["profile"] == "web" and body["profile_version"] == 1
    assert body["metadata"] == {"profile": "web", "profile_version": 1}
    assert body["latest_metrics"] is None


# --- images ------------------------------------------------------------------------------


def test_images(users):
    lab = platform()
    platform_services.base_image_register(
        image_id="tiny-linux",
        name="Tiny Linux",
        locations={lab: "/images/tiny/root.qcow2"},
        kernel="/images/tiny/vmlinuz",
        min_memory_mib=128,
    )
    viewer = client_for(users["viewer"])
    body = viewer.get(f"{API}/images/").json()
    assert body["count"] == 1
    image = body["results"][0]
    assert image["image_id"] == "tiny-linux" and image["direct_boot"] is True
    assert image["locations"] == [{"platform": "lab", "path": "/images/tiny/root.qcow2"}]
    assert viewer.get(f"{API}/images/tiny-linux/").json() == image
    assert viewer.post(f"{API}/images/", {}, format="json").status_code in (403, 405)


# --- the API description -----------------------------------------------------------------


def test_openapi_describes_the_endpoints(users):
    response = client_for(users["viewer"]).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    for path in (
        "/api/v1/platforms/",
        "/api/v1/platforms/{name}/",
        "/api/v1/platforms/{name}/refresh/",
        "/api/v1/platforms/{name}/sync/",
        "/api/v1/vms/",
        "/api/v1/vms/{id}/",
        "/api/v1/vms/{id}/metrics/",
        "/api/v1/images/",
        "/api/v1/images/{image_id}/",
    ):
        assert path in schema["paths"], path
    components = schema["components"]["schemas"]
    assert components["PlatformStatusEnum"]["enum"] == ["unknown", "ok", "unreachable"]
    assert "Capabilities" in components and "EffectiveCapabilities" in components


# --- the API's root -------------------------------------------------------------------------


def test_the_api_root_lists_its_endpoint_groups_with_absolute_urls(users):
    response = client_for(users["viewer"]).get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    assert body["profiles"] == "http://testserver/api/v1/profiles/"
    assert body["jobs"] == "http://testserver/api/v1/jobs/"
    for group in ("platforms", "vms", "images", "windows", "notifications", "validate"):
        assert body[group] == f"http://testserver/api/v1/{group}/"
    assert body["schema"] == "http://testserver/api/schema/"
    assert body["docs"] == "http://testserver/api/docs/"
    # Each listed URL answers (no group points nowhere).
    client = client_for(users["operator"])
    for key in ("profiles", "platforms", "vms", "images", "jobs", "windows", "notifications"):
        assert client.get(body[key]).status_code == 200, key


def test_the_api_root_needs_a_login():
    response = client_for().get("/api/v1/")
    assert response.status_code in (401, 403)
    assert "profiles" not in response.json()
