"""A VM still running an older QEMU than the one installed: the version its process
runs is read (QMP ``query-version``) once per start by the inventory sync; such a VM is
exposed to what the installed QEMU fixed, which the vulnerability evaluation fixes by a
move (a new QEMU process) or, with nowhere to go, asks to restart it; the VM page and the
API say so."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from operations_app import hypervisor as hv
from operations_app.advisories.exposure import older_qemu
from operations_app.hypervisor.domains.emulator import DomainEmulator
from operations_app.models import ManagedVM, Platform
from operations_app.policies.evaluate import evaluate
from operations_app.services import advisories as advisory_services
from operations_app.services import inventory as inventory_services
from operations_app.services import policies as policy_services
from profiles_app.scheduling.settings import policy_settings
from tests.operations_app.job_support import make_platform
from tests.operations_app.policies.test_evaluate import host, snapshot, vm, yes

from .feeds import text

BUILD = "Debian 1:7.2+dfsg-7+deb12u2"
# fixed in the 7.2.1 build: the 7.2.0 process is exposed, the installed 7.2.1 is not
FIXED_BY_UPGRADE = {
    "id": "DSA-9001-1",
    "aliases": ["CVE-2026-0001"],
    "summary": "qemu: escape from the guest",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "qemu"},
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "1:7.2+dfsg-7+deb12u3"}],
                }
            ],
        }
    ],
}
# not fixed yet: the platform itself is exposed, a restart changes nothing
OPEN = {
    "id": "DSA-9002-1",
    "aliases": ["CVE-2026-0002"],
    "summary": "qemu: still open",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"}],
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "qemu"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:9.0"}]}],
        }
    ],
}


# --------------------------------------------------------------------------- hypervisor


@pytest.mark.dbfree
def test_the_test_driver_has_no_qemu_monitor_to_ask():
    with hv.Hypervisor.connect("test:///default", timeout=10) as test_hv:
        assert test_hv.domains.lookup("test").state.active
        assert test_hv.domains.qemu_version("test") is None
        assert test_hv.hypervisor_version()
        with pytest.raises(hv.NotFound):
            test_hv.domains.qemu_version("no-such-domain")


@pytest.mark.dbfree
def test_query_version_answers_are_parsed():
    reply = {"return": {"qemu": {"major": 7, "minor": 2, "micro": 9}, "package": BUILD}, "id": "x"}
    assert hv.parse_query_version(json.dumps(reply)) == hv.QemuVersion("7.2.9", BUILD)
    with pytest.raises(hv.OperationFailed, match="query-version"):
        hv.parse_query_version('{"return": {}}')


# --------------------------------------------------------------------------- pure


@pytest.mark.dbfree
def test_older_is_judged_by_upstream_version_then_by_debian_build():
    caps = {"hypervisor_version": "7.2.1"}
    older = older_qemu({"version": "7.2.0", "package": BUILD}, capabilities=caps, facts={})
    assert older is not None and (older.running, older.installed) == ("7.2.0", "7.2.1")
    assert older.package.version == "1:7.2+dfsg-7+deb12u2" and not older.package.upstream_only
    assert older_qemu({"version": "7.2.1"}, capabilities=caps, facts={}) is None
    assert older_qemu({"domain_id": 3}, capabilities=caps, facts={}) is None
    assert older_qemu({"version": "7.2.0"}, capabilities={}, facts={}) is None
    # the same upstream version, an older Debian build than the host's package
    facts = {"packages": {"qemu-system-x86": {"version": "1:7.2+dfsg-7+deb12u6"}}}
    same = {"hypervisor_version": "7.2.0"}
    running = {"version": "7.2.0", "package": "Debian 1:7.2+dfsg-7+deb12u5"}
    assert older_qemu(running, capabilities=same, facts=facts) is not None
    running["package"] = "Debian 1:7.2+dfsg-7+deb12u6"
    assert older_qemu(running, capabilities=same, facts=facts) is None


def _doc():
    return {
        "schema_version": "1.0",
        "name": "patch-first",
        "trigger": "vulnerability",
        "vulnerability": {"min_cvss": 7, "approve_at_once_cvss": 9.5},
        "aggressiveness": 5,
        "automation": "approve",
        "caps": {"moves_per_run": 5, "moves_per_platform": 3},
    }


def _stale(v):
    return replace(
        v,
        running_qemu="7.2.0",
        installed_qemu="7.2.1",
        qemu_advisories=(("CVE-2026-0001", 9.8),),
    )


@pytest.mark.dbfree
def test_a_vm_on_an_older_qemu_moves_even_to_an_equally_patched_platform():
    snap = snapshot([host("a"), host("b")], [_stale(vm("web", "a")), vm("calm", "a")])
    plan = evaluate(policy_settings(_doc()), _doc(), snap, dry_run=yes)
    assert [(a.kind, a.vm, a.source, a.target) for a in plan.actions] == [
        ("migrate", "web", "a", "b")
    ]
    action = plan.actions[0]
    assert action.effect["advisories_fixed"] == ["CVE-2026-0001"]
    assert "runs QEMU 7.2.0, older than the 7.2.1 installed on a" in action.reasons[0]
    assert plan.efficacy["older_qemu"] == {
        "web": {"running": "7.2.0", "installed": "7.2.1", "advisories": ["CVE-2026-0001"]}
    }
    assert (plan.efficacy["vms_exposed_before"], plan.efficacy["vms_exposed_after"]) == (1, 0)
    assert plan.efficacy["approve_at_once"] is True


@pytest.mark.dbfree
def test_with_nowhere_to_go_the_plan_asks_for_a_restart():
    snap = snapshot([host("a")], [_stale(vm("web", "a"))])
    plan = evaluate(policy_settings(_doc()), _doc(), snap, dry_run=yes)
    assert plan.actions == []
    assert any(
        f.startswith("restart web to pick up QEMU 7.2.1: it runs QEMU 7.2.0")
        and "CVE-2026-0001 (9.8)" in f
        for f in plan.findings
    ), plan.findings


# --------------------------------------------------------------------------- sync


@pytest.fixture
def qemu_answers(monkeypatch):
    """The QEMU versions the test driver's domains pretend to run, and the calls made."""
    state = {"running": hv.QemuVersion("7.2.0", BUILD), "installed": "7.2.0", "calls": 0}

    def qemu_version(self, name):
        state["calls"] += 1
        return state["running"]

    monkeypatch.setattr(DomainEmulator, "qemu_version", qemu_version)
    monkeypatch.setattr(hv.Hypervisor, "hypervisor_version", lambda self: state["installed"])
    return state


@pytest.mark.django_db
def test_the_sync_reads_the_running_qemu_once_per_start(users, qemu_answers):
    lab = make_platform("lab")
    Platform.objects.filter(pk=lab.pk).update(capabilities={"hypervisor_version": "7.2.0"})
    result = inventory_services.inventory_sync(platform=lab)
    row = ManagedVM.objects.get(name="test")
    assert result.qemu_read == ["test"] and qemu_answers["calls"] == 1
    assert row.running_qemu["version"] == "7.2.0" and row.running_qemu["package"] == BUILD
    domain_id = row.running_qemu["domain_id"]
    assert isinstance(domain_id, int)
    assert not row.history.filter(history_change_reason__icontains="qemu").exists()

    # the same process, the same installed version: not asked again
    assert inventory_services.inventory_sync(platform=lab).qemu_read == []
    assert qemu_answers["calls"] == 1

    # the package is upgraded: the process is asked again, the platform's version follows
    qemu_answers["installed"] = "7.2.1"
    inventory_services.inventory_sync(platform=lab)
    assert qemu_answers["calls"] == 2
    lab.refresh_from_db()
    assert lab.capabilities["hypervisor_version"] == "7.2.1"

    # a new start (another domain id) is read again
    ManagedVM.objects.filter(name="test").update(
        running_qemu={"version": "7.2.1", "domain_id": domain_id + 100}
    )
    qemu_answers["installed"] = "7.2.1"
    qemu_answers["running"] = hv.QemuVersion("7.2.1", "")
    inventory_services.inventory_sync(platform=lab)
    assert qemu_answers["calls"] == 3
    assert ManagedVM.objects.get(name="test").running_qemu["domain_id"] == domain_id


@pytest.mark.django_db
def test_a_driver_without_monitor_is_asked_once_per_start(users, monkeypatch):
    lab = make_platform("lab")
    calls = []
    real = DomainEmulator.qemu_version
    monkeypatch.setattr(
        DomainEmulator, "qemu_version", lambda self, name: calls.append(name) or real(self, name)
    )
    inventory_services.inventory_sync(platform=lab)
    inventory_services.inventory_sync(platform=lab)
    assert calls == ["test"]
    record = ManagedVM.objects.get(name="test").running_qemu
    assert set(record) == {"domain_id"}


@pytest.fixture
def stale_vm(users, qemu_answers):
    """lab runs "test" on QEMU 7.2.0 while 7.2.1 is installed; the advisories imported."""
    advisory_services.advisories_import(user=None, content=text([FIXED_BY_UPGRADE, OPEN]))
    lab = make_platform("lab")
    Platform.objects.filter(pk=lab.pk).update(capabilities={"hypervisor_version": "7.2.0"})
    qemu_answers["installed"] = "7.2.1"
    inventory_services.inventory_sync(platform=lab)
    return ManagedVM.objects.select_related("platform").get(name="test")


@pytest.mark.django_db
def test_the_vm_page_and_the_api_say_it_runs_an_older_qemu(client, api, users, stale_vm):
    client.force_login(users["viewer"])
    page = client.get(stale_vm.get_absolute_url()).content.decode()
    assert "runs QEMU 7.2.0, installed 7.2.1: restart or move to pick up the fix" in page
    assert "CVE-2026-0001" in page and "CVE-2026-0002" not in page

    body = api(users["viewer"]).get(f"/api/v1/vms/{stale_vm.pk}/").json()
    assert body["running_qemu"] == {
        "version": "7.2.0",
        "package": BUILD,
        "installed": "7.2.1",
        "older": True,
    }
    assert [a["advisory"] for a in body["older_qemu_advisories"]] == ["CVE-2026-0001"]
    listed = api(users["viewer"]).get("/api/v1/vms/").json()["results"]
    assert listed[0]["running_qemu"]["older"] is True


@pytest.mark.django_db
def test_the_fleet_snapshot_carries_what_the_older_qemu_adds(stale_vm):
    from django.utils import timezone

    snap, _, _ = policy_services.fleet_snapshot(now=timezone.now())
    fleet_vm = snap.vms["test"]
    assert (fleet_vm.running_qemu, fleet_vm.installed_qemu) == ("7.2.0", "7.2.1")
    assert [a for a, _ in fleet_vm.qemu_advisories] == ["CVE-2026-0001"]
    # the platform itself stays exposed to the open one, not to the one fixed
    assert [a for a, _ in snap.hosts["lab"].advisories] == ["CVE-2026-0002"]
