"""Clone on real QEMU (host A of the testbed): verified check by check, rolled back on
failure leaving nothing behind, decommissioned cleanly."""

from __future__ import annotations

import copy
import json
import subprocess
import threading
from pathlib import Path

import pytest
from django.db import connection

from operations_app import hypervisor as hv
from operations_app.models import JobStatus, ManagedVM, Notification, OperationJob, VMState
from operations_app.runners.base import StepFailed
from operations_app.services import clones as clone_services
from operations_app.services import decommissions as decommission_services
from operations_app.services.inventory import inventory_sync
from operations_app.tasks import run_job
from profiles_app.models import VolumeKey
from profiles_app.services import versions as version_services

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VOLUME_KEY = "clone-test-volume-key-0123456789"
SECRETS_DIR = Path("/etc/libvirt/secrets")  # host A's, were a secret persistent


def clone_document(name: str, *, app_version_expected: str | None = None) -> dict:
    """A VPPD with an app, an encrypted volume, a user, a firewall rule and an agent."""
    doc = json.loads((EXAMPLES / "web-server.json").read_text())
    doc = copy.deepcopy(doc)
    doc["name"] = name
    # the example watches its VMs for minutes; a test that wants a watch sets its own
    doc.pop("health_watch", None)
    doc["resource_allocation"] = {
        "vcpus": 1,
        "memory_mib": 192,
        "storage_gib": 0.25,
        "limits": {"cpu_shares": 512, "memory_hard_limit_mib": 1024, "disk_iops": {"total": 2000}},
    }
    doc["data_volume_definitions"] = [
        {
            "name": "data",
            "size_gib": 0.0625,
            "mount_point": "/srv/data",
            "filesystem": "ext4",
            "encryption": {"enabled": True, "key": VOLUME_KEY},
        }
    ]
    doc["network_configuration"] = {
        "interfaces": [
            {
                "name": "eth0",
                "network": "persona-isolated",
                "ipv4": {
                    "address": "10.231.0.50/24",
                    "gateway": "10.231.0.1",
                    "dns": ["10.231.0.1"],
                },
            }
        ],
        "firewall_rules": [
            {
                "direction": "in",
                "protocol": "tcp",
                "port": 80,
                "action": "accept",
                "comment": "http",
            },
            {
                "direction": "in",
                "protocol": "tcp",
                "port": 23,
                "action": "drop",
                "comment": "no telnet",
            },
        ],
    }
    if app_version_expected is not None:
        doc["application_manifest"][0]["verify"]["expect_output_contains"] = app_version_expected
    return doc


def approved_version(users, document):
    v = version_services.policy_create(user=users["author"], document=document)
    version_services.version_submit(user=users["author"], version=v)
    return version_services.version_approve(user=users["approver"], version=v, comment="ok")


def libvirt_leftovers(platform, vm_name: str) -> list[str]:
    with hv.Hypervisor.connect(platform.uri) as conn:
        left = []
        if conn.domains.exists(vm_name):
            left.append(f"domain {vm_name}")
        left += [
            f"volume {v.name}"
            for v in conn.storage.volume_list(platform.storage_pool)
            if v.name.startswith(vm_name + "-")
        ]
        name = hv.filter_name_for(vm_name)
        if conn.nwfilters.exists(name):
            left.append(f"nwfilter {name}")
        return left


@pytest.fixture
def cleanup(testbed_platforms):
    """Removes any VM a test cloned, whatever happened to the test."""
    names: list[str] = []
    yield names
    platform = testbed_platforms["host-a"]
    with hv.Hypervisor.connect(platform.uri) as conn:
        for name in names:
            conn.domains.delete(name, missing_ok=True)
            for vol in conn.storage.volume_list(platform.storage_pool):
                if vol.name.startswith(name + "-"):
                    conn.storage.volume_delete(platform.storage_pool, vol.name, missing_ok=True)
            conn.nwfilters.undefine(hv.filter_name_for(name), missing_ok=True)


def request_clone(users, version, platform, name, cleanup) -> OperationJob:
    cleanup.append(name)
    return clone_services.job_request_clone(
        user=users["operator"], version=version, platform=platform, vm_name=name
    )


@pytest.mark.one_engine
def test_clone_is_verified_check_by_check_and_decommissioned(users, testbed_platforms, cleanup):
    platform = testbed_platforms["host-a"]
    version = approved_version(users, clone_document("it-web"))
    job = request_clone(users, version, platform, "it-web-1", cleanup)
    assert run_job(job.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=job.pk).error
    job.refresh_from_db()
    assert job.content_hash == version.content_hash
    checks = list(job.checks.all())
    assert checks and all(c.passed for c in checks), [c.name for c in checks if not c.passed]
    sections = {c.section for c in checks}
    assert {
        "applications",
        "data_volumes",
        "network",
        "security",
        "monitoring",
        "resources",
    } <= sections
    assert {c.source for c in checks} >= {"libvirt", "guest"}
    # Steps are recorded in order, each with timings.
    assert [s.name for s in job.steps.order_by("index")][:3] == [
        "retrieve",
        "provision",
        "base_image",
    ]
    # libvirt holds the domain with our metadata, an encrypted volume and the filter.
    with hv.Hypervisor.connect(platform.uri) as conn:
        meta = conn.domains.get_metadata("it-web-1")
        assert meta.profile == "it-web" and meta.content_hash == version.content_hash
        vol = conn.storage.volume_info(platform.storage_pool, "it-web-1-data.qcow2")
        assert vol.encrypted
    info = subprocess.run(
        ["qemu-img", "info", "-U", vol.path], capture_output=True, text=True
    ).stdout
    assert "encrypted: yes" in info
    vm = ManagedVM.objects.get(name="it-web-1")
    assert vm.managed and vm.profile_version == version and vm.state == VMState.RUNNING
    # The events replay the whole job in order.
    seqs = list(job.events.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert job.events.filter(kind="check").count() == len(checks)
    # Decommission removes the domain, its volumes, secrets and filter.
    destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
    assert run_job(destroy.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=destroy.pk).error
    assert libvirt_leftovers(platform, "it-web-1") == []
    vm.refresh_from_db()
    assert vm.state == VMState.GONE


@pytest.mark.one_engine
def test_volume_secrets_live_in_memory_only_and_come_back_after_a_host_restart(
    users, testbed_platforms, cleanup
):
    platform = testbed_platforms["host-a"]
    version = approved_version(users, clone_document("it-keys"))
    job = request_clone(users, version, platform, "it-keys-1", cleanup)
    assert run_job(job.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=job.pk).error
    with hv.Hypervisor.connect(platform.uri) as conn:
        vol = conn.storage.volume_info(platform.storage_pool, "it-keys-1-data.qcow2")
        secret = conn.storage.secret_info(vol.secret_uuid)
        assert (secret["ephemeral"], secret["private"]) == ("yes", "yes")
        # the domain names the stored key (not the key) that unlocks the volume
        meta = conn.domains.get_metadata("it-keys-1")
        (ref,) = meta.volume_keys.values()
        assert VolumeKey.objects.filter(name=ref).exists()
        assert VOLUME_KEY not in conn.domains.xml("it-keys-1")
    # host A is the machine's libvirtd: nothing of the secret is on its disk
    held = [f for f in SECRETS_DIR.glob("*") if f.name.startswith(vol.secret_uuid)]
    assert held == []
    with hv.Hypervisor.connect(platform.uri) as conn:
        # what a restarted host leaves: the domain defined and stopped, its secret gone
        conn.domains.destroy("it-keys-1")
        conn.storage.secret_undefine(vol.secret_uuid)
        with pytest.raises(hv.HypervisorError, match="secret"):
            conn.domains.start("it-keys-1")
    result = inventory_sync(platform=platform)
    assert result.secrets_supplied == [vol.path] and result.secret_problems == []
    with hv.Hypervisor.connect(platform.uri) as conn:
        conn.domains.start("it-keys-1")
        conn.agent.wait_for_agent("it-keys-1", timeout=120)
        assert conn.storage.secret_info(vol.secret_uuid)["usage_id"] == vol.path
    # the next sync finds nothing to do
    assert inventory_sync(platform=platform).secrets_supplied == []


@pytest.mark.one_engine
def test_failed_app_verification_rolls_back_and_notifies(users, testbed_platforms, cleanup):
    platform = testbed_platforms["host-a"]
    version = approved_version(
        users, clone_document("it-bad", app_version_expected="9.9.9-not-installed")
    )
    job = request_clone(users, version, platform, "it-bad-1", cleanup)
    assert run_job(job.pk) == JobStatus.ROLLED_BACK
    job.refresh_from_db()
    assert "Verification failed" in job.error
    assert "/application_manifest/0" in job.failing_check
    assert libvirt_leftovers(platform, "it-bad-1") == []
    assert job.resources.filter(removed_at__isnull=True).count() == 0
    admin_note = Notification.objects.filter(recipient=users["admin"], job=job).first()
    assert admin_note is not None and admin_note.severity == "error"


@pytest.mark.parametrize(
    "failing_step", ["provision", "base_image", "volumes", "network", "monitoring"]
)
@pytest.mark.one_engine
def test_failure_at_each_step_leaves_nothing(
    users, testbed_platforms, cleanup, monkeypatch, failing_step
):
    from operations_app.runners.clone import CloneRunner

    real = getattr(CloneRunner, f"step_{failing_step}")

    def broken(self):
        real(self)  # do the real work first, so there is something to roll back
        raise StepFailed(f"injected failure after {failing_step}")

    monkeypatch.setattr(CloneRunner, f"step_{failing_step}", broken)
    platform = testbed_platforms["host-a"]
    name = f"it-fail-{failing_step.replace('_', '')}"
    version = approved_version(users, clone_document(name))
    job = request_clone(users, version, platform, name, cleanup)
    assert run_job(job.pk) == JobStatus.ROLLED_BACK
    job.refresh_from_db()
    assert f"injected failure after {failing_step}" in job.error
    assert libvirt_leftovers(platform, name) == []


def test_two_clones_at_once(users, testbed_platforms, cleanup):
    platform = testbed_platforms["host-a"]
    version = approved_version(users, clone_document("it-pair"))
    doc2 = clone_document("it-pair2")
    doc2["network_configuration"]["interfaces"][0]["ipv4"]["address"] = "10.231.0.51/24"
    version2 = approved_version(users, doc2)
    jobs = [
        request_clone(users, version, platform, "it-pair-1", cleanup),
        request_clone(users, version2, platform, "it-pair-2", cleanup),
    ]
    results = {}

    def work(job_id):
        try:
            results[job_id] = run_job(job_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(j.pk,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert all(results.get(j.pk) == JobStatus.SUCCEEDED for j in jobs), {
        j.pk: OperationJob.objects.get(pk=j.pk).error for j in jobs
    }
    for j in jobs:
        vm = ManagedVM.objects.get(name=j.vm_name)
        destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
        assert run_job(destroy.pk) == JobStatus.SUCCEEDED
        assert libvirt_leftovers(platform, j.vm_name) == []


@pytest.mark.one_engine
def test_clone_on_the_stricter_host_b(users, testbed_platforms, cleanup):
    """host-b allows only q35 machines: volumes and NICs are hot-plugged into PCIe ports."""
    platform = testbed_platforms["host-b"]
    doc = clone_document("it-qb")
    doc["network_configuration"]["interfaces"][0]["ipv4"] = {
        "address": "10.231.1.60/24",
        "gateway": "10.231.1.1",
    }
    version = approved_version(users, doc)
    job = clone_services.job_request_clone(
        user=users["operator"], version=version, platform=platform, vm_name="it-qb-1"
    )
    try:
        assert run_job(job.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=job.pk).error
        with hv.Hypervisor.connect(platform.uri) as conn:
            assert "q35" in (conn.domains.spec("it-qb-1").machine or "")
        vm = ManagedVM.objects.get(name="it-qb-1")
        destroy = decommission_services.job_request_decommission(user=users["operator"], vm=vm)
        assert run_job(destroy.pk) == JobStatus.SUCCEEDED
    finally:
        with hv.Hypervisor.connect(platform.uri) as conn:
            conn.domains.delete("it-qb-1", missing_ok=True)
            for vol in conn.storage.volume_list(platform.storage_pool):
                if vol.name.startswith("it-qb-1-"):
                    conn.storage.volume_delete(platform.storage_pool, vol.name, missing_ok=True)
            conn.nwfilters.undefine(hv.filter_name_for("it-qb-1"), missing_ok=True)
    assert libvirt_leftovers(platform, "it-qb-1") == []


@pytest.mark.one_engine
def test_an_application_file_may_belong_to_a_user_the_profile_creates(
    users, testbed_platforms, cleanup
):
    """The profile's accounts exist before its applications install their files."""
    platform = testbed_platforms["host-a"]
    doc = clone_document("it-own")
    doc["security_profile"]["groups"].append({"name": "deploy", "gid": 1500})
    doc["security_profile"]["users"].append(
        {
            "name": "deployer",
            "uid": 1500,
            "groups": ["deploy"],
            "shell": "/bin/sh",
            "home": "/home/deployer",
        }
    )
    nginx_files = doc["application_manifest"][0]["install"]["files"]
    nginx_files[0].update({"owner": "www-data", "group": "www-data", "mode": "0640"})
    nginx_files.append(
        {
            "path": "/opt/nginx/DEPLOYED",
            "content": "by deployer\n",
            "owner": "deployer",
            "group": "deploy",
        }
    )
    version = approved_version(users, doc)
    job = request_clone(users, version, platform, "it-own-1", cleanup)
    assert run_job(job.pk) == JobStatus.SUCCEEDED, OperationJob.objects.get(pk=job.pk).error
    with hv.Hypervisor.connect(platform.uri) as conn:
        owners = conn.agent.exec(
            "it-own-1",
            ["/bin/busybox", "stat", "-c", "%U:%G %a", "/opt/nginx/VERSION", "/opt/nginx/DEPLOYED"],
            timeout=30,
        )
    assert owners.stdout.decode().split("\n")[:2] == [
        "www-data:www-data 640",
        "deployer:deploy 644",
    ]
    job.refresh_from_db()
    assert all(c.passed for c in job.checks.all())
