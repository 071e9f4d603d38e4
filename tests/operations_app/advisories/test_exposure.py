"""Exposure: a platform's packages imported from dpkg-query (service, API, CLI) and
libvirt's versions, a VM's applications from its profile; the fleet snapshot carries
them in a fixed number of queries; a vulnerability policy's evaluation moves VMs off
exposed platforms, replaces a VM whose own applications are exposed by a clone of the
newer approved version, tells the authors when none is safe, and asks approvers at once
for a severe one."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from operations_app.models import (
    ActionStatus,
    JobKind,
    JobTrigger,
    Notification,
    OperationJob,
    PlanStatus,
    Platform,
)
from operations_app.placement.evacuation import DryRunVerdict
from operations_app.services import advisories as advisory_services
from operations_app.services import policies as policy_services
from operations_app.services.dryrun import MoveDryRuns
from profiles_app.services import versions as version_services
from tests.operations_app.job_support import errors, make_platform, managed_vm, persona, vppd
from tests.operations_app.maintenance.support import probed
from tests.operations_app.policies.support import scheduling_policy
from vmpersona.errors import NotPermitted, error_list

from .feeds import osv_feed, text, tracker

pytestmark = pytest.mark.django_db

OLD_HOST = """linux-image-6.1.0-17-amd64 6.1.69-1
qemu-system-x86 1:7.2+dfsg-7+deb12u2
qemu-utils 1:7.2+dfsg-7+deb12u2
libvirt-daemon-system 9.0.0-4+deb12u2
openssh-server 1:9.2p1-2+deb12u2 openssh
"""
PATCHED_HOST = {
    "linux-image-6.1.0-28-amd64": "6.1.119-1",
    "qemu-system-x86": "1:7.2+dfsg-7+deb12u7",
    "libvirt-daemon-system": "9.0.0-4+deb12u2",
}


def django_app(version: str) -> dict:
    return {
        "name": "django",
        "version": version,
        "install": {"method": "script", "script": f"pip install django=={version}\n"},
        "verify": {"command": ["python3", "-m", "django", "--version"]},
    }


def profile(users, name: str, *apps, approver="approver"):
    document = dict(vppd(name), application_manifest=list(apps))
    version = version_services.policy_create(user=users["author"], document=document)
    version = version_services.version_submit(user=users["author"], version=version)
    return version_services.version_approve(user=users[approver], version=version)


def newer(users, version, *apps):
    document = dict(version.document, application_manifest=list(apps))
    draft = version_services.version_create_draft(
        user=users["author2"], policy=version.policy, document=document
    )
    draft = version_services.version_submit(user=users["author2"], version=draft)
    return version_services.version_approve(user=users["approver"], version=draft)


@pytest.fixture
def advisories(users):
    advisory_services.advisories_import(user=None, content=text(osv_feed()))
    advisory_services.advisories_import(user=None, content=text(tracker()))


@pytest.fixture
def fleet(users, advisories, monkeypatch):
    old = probed(make_platform("lab-old"), cpus=8, memory_mib=8192)
    patched = probed(make_platform("lab-patched"), cpus=8, memory_mib=8192)
    advisory_services.platform_facts_import(user=None, platform=old, content=OLD_HOST)
    advisory_services.platform_facts_import(
        user=None, platform=patched, content=json.dumps(PATCHED_HOST)
    )
    web = profile(users, "web")
    shop_v1 = profile(users, "shop", django_app("4.2.10"))
    blog = profile(users, "blog", django_app("4.2.10"))
    rows = {
        "app": managed_vm(web, old, "app", vcpus=1, memory_mib=512),
        "shop": managed_vm(shop_v1, patched, "shop", vcpus=1, memory_mib=512),
        "blog": managed_vm(blog, patched, "blog", vcpus=1, memory_mib=512),
    }
    shop_v2 = newer(users, shop_v1, django_app("4.2.11"))

    def dry_run(self, vm, host):
        return DryRunVerdict(True, path="live", reason="running, no changes")

    monkeypatch.setattr(MoveDryRuns, "dry_run", dry_run)
    return {"old": old, "patched": patched, "shop_v2": shop_v2, **rows}


# --------------------------------------------------------------------------- host facts


def test_a_platforms_packages_are_imported_from_dpkg_query(users, advisories):
    lab = make_platform("lab")
    lab = advisory_services.platform_facts_import(
        user=users["operator"], platform=lab, content=OLD_HOST, debian_release="bookworm"
    )
    assert lab.host_facts["packages"]["qemu-system-x86"] == {"version": "1:7.2+dfsg-7+deb12u2"}
    assert lab.host_facts["packages"]["openssh-server"]["source"] == "openssh"
    assert lab.host_facts["debian_release"] == "bookworm" and lab.host_facts_imported_at

    with pytest.raises(ValidationError) as caught:
        advisory_services.platform_facts_import(
            user=None, platform=lab, content="qemu-utils 1:7.2\nthis line is wrong at all\n"
        )
    assert error_list(caught.value)[0]["path"] == "packages"
    assert "line 2" in error_list(caught.value)[0]["message"]
    with pytest.raises(ValidationError, match="not a Debian release"):
        advisory_services.platform_facts_import(
            user=None, platform=lab, content=OLD_HOST, debian_release="potato-ish"
        )
    with pytest.raises(NotPermitted):
        advisory_services.platform_facts_import(
            user=users["viewer"], platform=lab, content=OLD_HOST
        )
    lab.refresh_from_db()
    assert len(lab.host_facts["packages"]) == 5  # the refused imports changed nothing


def test_the_api_and_the_cli_import_facts_and_show_the_exposure(api, users, advisories, tmp_path):
    lab = make_platform("lab")
    url = f"/api/v1/platforms/{lab.name}/facts/"
    response = api(users["operator"]).post(url, {"packages": OLD_HOST}, format="json")
    assert response.status_code == 200, response.content
    exposure = {e["advisory"]: e for e in response.json()["exposure"]}
    assert exposure["DSA-5549-1"]["cvss"] == 8.2
    assert exposure["CVE-2024-1086"]["cvss"] == 7.8
    assert exposure["CVE-2024-1086"]["fixed"] == ["6.1.76-1"]
    assert "CVE-2023-3180" not in exposure  # fixed in deb12u2, installed

    response = api(users["viewer"]).post(url, {"packages": PATCHED_HOST}, format="json")
    assert response.status_code == 403
    response = api(users["operator"]).post(url, {"packages": {"qemu": 7}}, format="json")
    assert response.status_code == 400 and "packages/qemu" in errors(response)
    assert api(users["viewer"]).get(url).json()["debian_release"] == "bookworm"

    path = tmp_path / "packages.json"
    path.write_text(json.dumps(PATCHED_HOST))
    code, out, err = persona(
        "platform", "facts", "lab", "--packages", str(path), "--as", "operator"
    )
    assert code == 0, err
    assert "platform lab: 3 packages (bookworm), exposed to 1 advisories" in out
    assert "CVE-2024-26581" in out
    code, out, _ = persona("platform", "facts", "lab", "--packages", str(path), "--json")
    assert [e["advisory"] for e in json.loads(out)["exposure"]] == ["CVE-2024-26581"]
    code, _, err = persona("platform", "facts", "nowhere", "--packages", str(path))
    assert code == 3 and "No platform named 'nowhere'" in err


# --------------------------------------------------------------------------- the snapshot


def test_the_snapshot_carries_exposure_in_a_fixed_number_of_queries(users, fleet):
    now = timezone.now()
    with CaptureQueriesContext(connection) as small:
        snapshot, _, _ = policy_services.fleet_snapshot(now=now)
    assert snapshot.hosts["lab-old"].advisories[:2] == (
        ("DSA-5549-1", 8.2),
        ("CVE-2024-1086", 7.8),
    )
    assert [a for a, c in snapshot.hosts["lab-patched"].advisories] == ["CVE-2024-26581"]
    shop = snapshot.vms["shop"]
    assert shop.advisories == (("CVE-2024-27351", 7.5),)
    assert shop.replacement == "shop@2" and shop.replacement_advisories == ()
    assert snapshot.vms["blog"].replacement == ""

    third = probed(make_platform("lab-c"))
    advisory_services.platform_facts_import(user=None, platform=third, content=OLD_HOST)
    more = profile(users, "more", django_app("5.0.1"))
    for i in range(5):
        managed_vm(more, third, f"extra-{i}", vcpus=1, memory_mib=128)
    with CaptureQueriesContext(connection) as large:
        policy_services.fleet_snapshot(now=now)
    assert len(large) == len(small)


# --------------------------------------------------------------------------- evaluation


def patch_first(users, **vulnerability):
    return scheduling_policy(
        users,
        name="patch-first",
        trigger="vulnerability",
        utilisation=None,
        vulnerability={"min_cvss": 7, "approve_at_once_cvss": 9, **vulnerability},
    )


def test_a_vulnerability_plan_moves_replaces_and_tells_the_authors(users, fleet, api, client):
    plan = policy_services.policy_evaluate(user=users["operator"], policy=patch_first(users))
    assert plan.status == PlanStatus.PROPOSED
    actions = {a.vm_name: a for a in plan.actions.all()}
    assert set(actions) == {"app", "shop"}
    move, clone = actions["app"], actions["shop"]
    assert (move.kind, move.source.name, move.target.name) == ("migrate", "lab-old", "lab-patched")
    assert move.effect["advisories_fixed"] == ["DSA-5549-1", "CVE-2024-1086"]
    assert (clone.kind, clone.target.name) == ("clone", "lab-patched")
    assert clone.effect["replacement"] == "shop@2"
    assert plan.efficacy["advisories_fixed"]["shop"] == ["CVE-2024-27351"]
    assert plan.efficacy["approve_at_once"] is False
    assert any("blog's own applications (blog@1)" in f for f in plan.findings)

    client.force_login(users["viewer"])
    page = client.get(plan.get_absolute_url()).content.decode()
    assert "Advisories fixed: " in page and "shop (CVE-2024-27351)" in page
    assert "clone shop" in page and "shop@2 is not exposed to them" in page
    shown = api(users["viewer"]).get(f"/api/v1/plans/{plan.pk}/").json()
    assert shown["efficacy"]["advisories_fixed"]["app"] == ["DSA-5549-1", "CVE-2024-1086"]
    code, out, _ = persona("plan", "show", str(plan.pk))
    assert code == 0 and "advisories fixed: 2 VM(s)" in out and "clone shop" in out

    told = Notification.objects.filter(recipient=users["author"], message__startswith="blog:")
    assert told.count() == 1 and "CVE-2024-27351" in told.get().message
    # evaluating again with the same findings does not tell them again
    again = policy_services.policy_evaluate(user=users["operator"], policy=plan.policy)
    assert Notification.objects.filter(message__startswith="blog:").count() == told.count()

    approved = policy_services.plan_approve(user=users["approver"], plan=again)
    assert approved.status == PlanStatus.APPROVED
    jobs = {j.vm_name: j for j in OperationJob.objects.filter(trigger=JobTrigger.POLICY)}
    assert jobs["app"].kind == JobKind.MIGRATE and jobs["app"].platform == fleet["patched"]
    replacement = jobs["shop-r2"]
    assert replacement.kind == JobKind.CLONE and replacement.profile_version == fleet["shop_v2"]
    assert replacement.platform.name == "lab-patched"
    assert replacement.requested_by == users["approver"]
    assert "shop stays until decommissioned" in replacement.trigger_detail
    statuses = {a.vm_name: a.status for a in approved.actions.all()}
    assert statuses == {"app": ActionStatus.SCHEDULED, "shop": ActionStatus.SCHEDULED}
    # the replacement on its way is not proposed again
    snapshot, _, _ = policy_services.fleet_snapshot(now=timezone.now())
    assert snapshot.vms["shop"].replacement == ""


def test_a_severe_advisory_asks_the_approvers_at_once(users, fleet):
    plan = policy_services.policy_evaluate(
        user=users["operator"], policy=patch_first(users, approve_at_once_cvss=8)
    )
    assert plan.efficacy["approve_at_once"] is True and plan.efficacy["worst_cvss"] == 8.2
    asked = Notification.objects.filter(recipient=users["approver"], link=plan.get_absolute_url())
    assert asked.count() == 1
    assert "runs at once, not in its window" in asked.get().message


def test_a_vm_without_a_less_exposed_platform_stays(users, fleet):
    Platform.objects.filter(name="lab-patched").update(enabled=False)
    advisory_services.platform_facts_import(user=None, platform=fleet["patched"], content=OLD_HOST)
    plan = policy_services.policy_evaluate(user=users["operator"], policy=patch_first(users))
    assert not plan.actions.filter(kind="migrate").exists()
    assert any("app stays on lab-old" in f for f in plan.findings)
