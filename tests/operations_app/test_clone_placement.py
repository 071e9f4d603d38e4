"""A clone requested without a platform: placement chooses one, says why, and records
every platform's verdict; the service, the API, the CLI and the form give the same
answer (platforms probed on libvirt's test driver)."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from operations_app.models import (
    BaseImage,
    BaseImageLocation,
    JobEvent,
    JobStatus,
    OperationJob,
    Platform,
)
from operations_app.services import clones as clone_services
from operations_app.services import maintenance as maintenance_services
from operations_app.services import platforms as platform_services
from operations_app.services import scheduling as scheduling_services
from profiles_app.models import PolicyKind
from profiles_app.services import versions as version_services
from tests.operations_app.job_support import JOBS, TEST_URI, approved_version, managed_vm, persona
from tests.operations_app.maintenance.support import probed
from tests.operations_app.scheduling_support import OPENS, tomorrow, window

pytestmark = pytest.mark.django_db

QEMU = {
    "accelerators": [{"domain_type": "qemu", "usable": True}],
    "machines": [{"name": "q35"}, {"name": "pc"}],
    "disk_buses": ["sata", "virtio"],
    "nic_models": ["e1000", "virtio"],
}


def host(name: str, image: BaseImage | None):
    """A platform on the test driver, probed (16 CPUs, 3 GiB, a 100 GiB pool), with the
    base image there when ``image`` is given."""
    platform = platform_services.platform_create(
        name=name, uri=TEST_URI, storage_pool="default-pool", kvm="avoid"
    )
    platform = platform_services.platform_refresh(platform=platform)
    # the test driver's domains are of type "test": record QEMU's as a probe of a QEMU
    # host would, so the profile's own placement can decide
    caps = {**platform.capabilities, **QEMU}
    Platform.objects.filter(pk=platform.pk).update(capabilities=caps)
    platform.refresh_from_db()
    if image is not None:
        BaseImageLocation.objects.create(image=image, platform=platform, path=f"/img/{name}.qcow2")
    return platform


@pytest.fixture
def fleet(users):
    """host-a (half its memory committed), host-b (empty) and host-c (without the base
    image); the web profile (1 vCPU, 128 MiB, 1 GiB disk)."""
    image = BaseImage.objects.create(image_id="tiny-linux", name="Tiny", min_memory_mib=64)
    version = approved_version(users)
    a, b, c = host("host-a", image), host("host-b", image), host("host-c", None)
    managed_vm(version, a, "busy-1", vcpus=2, memory_mib=1536)
    return {"version": version, "a": a, "b": b, "c": c, "image": image}


def verdicts(job: OperationJob) -> dict[str, dict]:
    return {v["host"]: v for v in job.params["placement"]["verdicts"]}


def test_the_service_chooses_the_platform_with_most_headroom_and_says_why(users, fleet):
    job = clone_services.job_request_clone(
        user=users["operator"], version=fleet["version"], platform=None, vm_name="web-9"
    )
    assert job.platform == fleet["b"] and job.status == JobStatus.QUEUED
    placement = job.params["placement"]
    assert placement["mode"] == "auto" and placement["chosen"] == "host-b"
    assert placement["summary"].startswith("placed on host-b: most memory headroom")
    seen = verdicts(job)
    assert seen["host-b"]["chosen"] and seen["host-b"]["dry_run"] == "ok"
    assert seen["host-a"]["score"] < seen["host-b"]["score"]
    assert seen["host-a"]["dry_run"] == "not needed"
    # host-c scores as high as host-b but the profile does not fit there: never asked,
    # or asked and refused, it is not chosen
    assert not seen["host-c"]["chosen"]
    log = JobEvent.objects.filter(job=job, kind="log").first()
    assert log is not None and log.payload["message"] == placement["summary"]
    assert log.payload["step"] == "placement"


def test_filters_rules_and_the_profile_refuse_platforms_each_with_its_reason(users, fleet):
    fleet["a"].enabled = False
    fleet["a"].save()
    maintenance_services.maintenance_start(
        user=users["operator"], platform=fleet["b"], reason="firmware"
    )
    with pytest.raises(ValidationError) as caught:
        clone_services.job_request_clone(
            user=users["operator"], version=fleet["version"], platform=None, vm_name="web-9"
        )
    message = caught.value.messages[0]
    assert message.startswith("platform: no platform can take it: ")
    assert "host-a: host-a is disabled" in message
    assert "host-b: host-b is " in message and "maintenance" in message
    assert "host-c: Base image 'tiny-linux' is not available on host-c." in message
    assert not OperationJob.objects.exists()


def test_a_scheduling_policy_must_rule_is_honoured(users, fleet):
    document = {
        "schema_version": "1.0",
        "name": "stay-on-a",
        "trigger": "utilisation",
        "utilisation": {"metric": "cpu", "trigger_percent": 80, "target_percent": 60},
        "automation": "recommend",
        "platform_rules": [
            {
                "name": "web-on-a",
                "rule": "must",
                "vms": {"profiles": ["web"]},
                "platforms": {"platforms": ["host-a"]},
            }
        ],
    }
    version = version_services.policy_create(
        user=users["author"], document=document, kind=PolicyKind.SCHEDULING
    )
    version = version_services.version_submit(user=users["author"], version=version)
    version_services.version_approve(user=users["approver"], version=version)
    job = clone_services.job_request_clone(
        user=users["operator"], version=fleet["version"], platform=None, vm_name="web-9"
    )
    assert job.platform == fleet["a"]
    seen = verdicts(job)
    assert seen["host-b"]["refused_by"] == "platform rules"
    assert seen["host-b"]["reason"] == "rule 'stay-on-a: web-on-a' says web-9 must run elsewhere"


def test_a_platform_without_room_is_refused_by_its_capacity(users, fleet):
    probed(fleet["b"], cpus=16, memory_mib=100)  # 100 MiB: the 128 MiB VM does not fit
    job = clone_services.job_request_clone(
        user=users["operator"], version=fleet["version"], platform=None, vm_name="web-9"
    )
    assert job.platform == fleet["a"]
    assert verdicts(job)["host-b"]["refused_by"] == "memory capacity"


def test_a_scheduled_clone_chooses_again_when_it_starts(users, fleet):
    at = timezone.now() + timedelta(hours=2)
    job = clone_services.job_request_clone(
        user=users["operator"], version=fleet["version"], platform=None, vm_name="web-9", at=at
    )
    assert job.status == JobStatus.SCHEDULED and job.platform == fleet["b"]
    log = JobEvent.objects.filter(job=job, kind="log", payload__step="placement").get()
    assert log.payload["message"].endswith(
        "(for now: the platform is chosen again when the job starts)"
    )
    # meanwhile host-b fills up: when the job starts, host-a is the better place
    probed(fleet["b"], cpus=16, memory_mib=100)
    done = scheduling_services.scheduled_jobs_tick(now=at + timedelta(minutes=1))
    job.refresh_from_db()
    assert job.pk in done["queued"], done
    assert job.platform == fleet["a"] and job.params["placement"]["chosen"] == "host-a"
    last = JobEvent.objects.filter(job=job, kind="log").order_by("-seq").first()
    assert last is not None and last.payload["message"].startswith("placed on host-a")


def test_a_scheduled_clone_nothing_can_take_any_more_is_skipped(users, fleet):
    at = timezone.now() + timedelta(hours=2)
    job = clone_services.job_request_clone(
        user=users["operator"], version=fleet["version"], platform=None, vm_name="web-9", at=at
    )
    for name in ("a", "b"):
        fleet[name].enabled = False
        fleet[name].save()
    done = scheduling_services.scheduled_jobs_tick(now=at + timedelta(minutes=1))
    job.refresh_from_db()
    assert job.pk in done["skipped"], done
    assert job.status == JobStatus.SKIPPED
    assert "no platform can take it" in job.error and "host-a is disabled" in job.error


def test_a_clone_waiting_for_a_window_goes_where_the_window_covers(users, fleet):
    window(users, "a-nights", platforms=["host-a"])
    job = clone_services.job_request_clone(
        user=users["operator"],
        version=fleet["version"],
        platform=None,
        vm_name="web-9",
        window="a-nights",
    )
    assert job.status == JobStatus.SCHEDULED and job.platform == fleet["a"]
    seen = verdicts(job)
    assert seen["host-b"]["refused_by"] == "maintenance window"
    assert seen["host-b"]["reason"] == "maintenance window 'a-nights' does not cover host-b"
    done = scheduling_services.scheduled_jobs_tick(now=tomorrow() + OPENS + timedelta(minutes=1))
    job.refresh_from_db()
    assert job.pk in done["queued"], done
    assert job.platform == fleet["a"]


# --------------------------------------------------------------------------- API


def test_the_api_places_a_clone_without_a_platform(api, users, fleet):
    client = api(users["operator"])
    response = client.post(
        JOBS, {"kind": "clone", "profile": "web", "vm_name": "web-9"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["platform"] == "host-b"
    assert body["params"]["placement"]["summary"].startswith("placed on host-b")

    response = client.post(
        JOBS,
        {"kind": "clone", "profile": "web", "platform": "auto", "vm_name": "web-10"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["params"]["placement"]["mode"] == "auto"


def test_the_api_says_why_no_platform_takes_it(api, users, fleet):
    for name in ("a", "b"):
        fleet[name].enabled = False
        fleet[name].save()
    response = api(users["operator"]).post(
        JOBS, {"kind": "clone", "profile": "web", "vm_name": "web-9"}, format="json"
    )
    assert response.status_code == 400
    text = str(response.json())
    assert "platform" in text and "host-a is disabled" in text and "host-c" in text
    assert not OperationJob.objects.exists()


# --------------------------------------------------------------------------- CLI


def test_the_cli_places_a_clone_without_platform_or_with_auto(users, fleet):
    code, out, err = persona("clone", "--profile", "web", "--name", "web-9", "--as", "operator")
    assert code == 0, err
    job = OperationJob.objects.get(vm_name="web-9")
    assert job.platform == fleet["b"]
    assert out.strip() == f"job {job.pk} queued: clone web-9; {job.params['placement']['summary']}"
    code, out, err = persona(
        "clone", "--profile", "web", "--platform", "auto", "--name", "web-10", "--as", "operator"
    )
    assert code == 0, err and "placed on" in out


def test_the_cli_names_each_refused_platform(users, fleet):
    for name in ("a", "b"):
        fleet[name].enabled = False
        fleet[name].save()
    code, _, err = persona("clone", "--profile", "web", "--name", "web-9", "--as", "operator")
    assert code == 1 and err.startswith("platform: no platform can take it")
    assert "host-a is disabled" in err
    assert not OperationJob.objects.exists()


# --------------------------------------------------------------------------- the form


def test_the_form_offers_auto_and_the_job_page_says_why(users, fleet):
    client = Client()
    client.force_login(users["operator"])
    page = client.get("/ops/clone/")
    assert page.status_code == 200
    assert b'<option value="auto" selected>Automatic: placement chooses</option>' in page.content
    response = client.post(
        "/ops/clone/",
        {"version": fleet["version"].pk, "platform": "auto", "vm_name": "web-9"},
        follow=True,
    )
    assert response.status_code == 200
    job = OperationJob.objects.get(vm_name="web-9")
    assert job.platform == fleet["b"]
    text = html.unescape(response.content.decode())
    assert "to host-b (chosen by placement)" in text
    assert job.params["placement"]["summary"].split(" (")[0] in text


def test_the_form_shows_why_no_platform_takes_it(users, fleet):
    for name in ("a", "b"):
        fleet[name].enabled = False
        fleet[name].save()
    client = Client()
    client.force_login(users["operator"])
    response = client.post(
        "/ops/clone/", {"version": fleet["version"].pk, "platform": "auto", "vm_name": "web-9"}
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert 'data-path="platform"' in text and "host-c" in text
    assert not OperationJob.objects.exists()
