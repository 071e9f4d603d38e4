"""Migration through the API (``kind: migrate`` and the dry run) and the admin action.

No host is contacted: a migration request is only queued, and the dry run reads two
stand-in hosts whose plan is scripted.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.test import Client
from rest_framework.test import APIClient

from operations_app import hypervisor as hv
from operations_app.models import JobKind, JobStatus, ManagedVM, OperationJob
from operations_app.services import platforms as platform_services
from operations_app.services.migrations import MIGRATION_MODES
from tests.operations_app.job_support import (
    ADMIN_VMS,
    JOBS,
    MACHINE_TYPE_DIFFERENCE,
    approved_version,
    errors,
    make_platform,
    managed_vm,
    unmanaged_vm,
)

pytestmark = pytest.mark.django_db

PLAN = "/api/v1/jobs/migration-plan/"


@pytest.fixture
def vm(users, lab):
    return managed_vm(approved_version(users, "mg-web"), lab[0], "mg-web-1")


# --- requests -------------------------------------------------------------------------------


def test_migrate_request_queues_a_job(api, users, lab, vm):
    response = api(users["operator"]).post(
        JOBS, {"kind": "migrate", "vm": vm.pk, "target": "lab-b", "mode": "live"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    job = OperationJob.objects.get(pk=body["id"])
    assert response["Location"] == f"http://testserver/api/v1/jobs/{job.pk}/"
    assert body["kind"] == "migrate" and body["status"] == "queued"
    assert body["vm"] == vm.pk and body["vm_name"] == "mg-web-1"
    assert body["platform"] == "lab-b" and body["source_platform"] == "lab-a"
    assert body["profile"] == "mg-web" and body["content_hash"] == vm.content_hash
    assert body["params"] == {"mode": "live"}
    assert body["requested_by"] == "operator"
    assert job.kind == JobKind.MIGRATE and job.status == JobStatus.QUEUED


def test_migrate_request_names_the_vm_and_target_by_name_or_id(api, users, lab, vm):
    response = api(users["operator"]).post(
        JOBS, {"kind": "migrate", "vm": "mg-web-1", "target": lab[1].pk}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["platform"] == "lab-b" and body["vm"] == vm.pk
    assert body["params"] == {"mode": "auto"}  # the default


def test_migrate_request_errors_carry_paths(api, users, lab, vm):
    client = api(users["operator"])
    base = {"kind": "migrate", "vm": vm.pk, "target": "lab-b"}

    response = client.post(JOBS, {"kind": "migrate"}, format="json")
    assert response.status_code == 400 and set(errors(response)) == {"vm", "target"}

    response = client.post(JOBS, {**base, "mode": "warp"}, format="json")
    assert response.status_code == 400
    assert set(errors(response)) == {"mode"} and "warp" in errors(response)["mode"]

    response = client.post(JOBS, {**base, "target": "lab-a"}, format="json")
    assert response.status_code == 400
    assert errors(response) == {"target": "VM 'mg-web-1' already runs on lab-a."}

    response = client.post(JOBS, {**base, "target": "mars"}, format="json")
    assert errors(response) == {"target": "no platform named 'mars'"}
    response = client.post(JOBS, {**base, "target": 424242}, format="json")
    assert errors(response) == {"target": "no platform 424242"}

    response = client.post(JOBS, {**base, "vm": 424242}, format="json")
    assert response.status_code == 400
    assert errors(response) == {"vm": "no VM 424242 in the inventory"}
    response = client.post(JOBS, {**base, "vm": "ghost"}, format="json")
    assert errors(response) == {"vm": "no VM named 'ghost' in the inventory"}
    response = client.post(JOBS, {**base, "vm": ["mg-web-1"]}, format="json")
    assert errors(response) == {"vm": "an id (integer) or a name (string)"}
    assert not OperationJob.objects.exists()


def test_a_vm_name_on_two_platforms_needs_its_source(api, users, lab, vm):
    unmanaged_vm(lab[1], "mg-web-1")
    lab_c = make_platform("lab-c")
    client = api(users["operator"])
    base = {"kind": "migrate", "vm": "mg-web-1", "target": lab_c.name}
    response = client.post(JOBS, base, format="json")
    assert errors(response) == {"vm": "several VMs are named 'mg-web-1'; name the platform too"}
    response = client.post(JOBS, {**base, "source": "lab-a"}, format="json")
    assert response.status_code == 201 and response.json()["vm"] == vm.pk


def test_migrate_request_refusals_and_conflicts(api, users, lab, vm):
    body = {"kind": "migrate", "vm": vm.pk, "target": "lab-b"}
    for who in ("viewer", "author", "approver"):
        response = api(users[who]).post(JOBS, body, format="json")
        assert response.status_code == 403 and "operators" in response.json()["detail"]
    assert not OperationJob.objects.exists()

    operator = api(users["operator"])
    assert operator.post(JOBS, body, format="json").status_code == 201
    response = operator.post(JOBS, body, format="json")
    assert response.status_code == 409 and "already has an active job" in response.json()["detail"]

    platform_services.platform_update(platform=make_platform("lab-off"), enabled=False)
    other = ManagedVM.objects.create(
        platform=lab[0],
        name="mg-web-2",
        domain_uuid=uuid.uuid4(),
        managed=True,
        profile_version=vm.profile_version,
    )
    response = operator.post(JOBS, {**body, "vm": other.pk, "target": "lab-off"}, format="json")
    assert response.status_code == 409 and "disabled" in response.json()["detail"]

    unmanaged = unmanaged_vm(lab[0], "stray")
    response = operator.post(JOBS, {**body, "vm": unmanaged.pk}, format="json")
    assert response.status_code == 409 and "conforms to no profile" in response.json()["detail"]


def test_unknown_kind_lists_migrate(api, users):
    response = api(users["operator"]).post(JOBS, {"kind": "teleport"}, format="json")
    assert response.status_code == 400
    assert errors(response) == {"kind": "one of: clone, migrate, snapshot, rollback, decommission"}


# --- dry run -----------------------------------------------------------------------------------

DIFFERENCE = MACHINE_TYPE_DIFFERENCE


class StandInHost:
    """What the dry run reads of a host: whether the domain exists, whether it runs and
    where the target pool lies."""

    def __init__(self, domains: set[str]) -> None:
        self.domains = SimpleNamespace(
            exists=lambda name: name in domains,
            state=lambda name: SimpleNamespace(active=True),
        )
        self.storage = SimpleNamespace(
            pool_info=lambda pool: SimpleNamespace(path="/var/lib/persona")
        )


@pytest.fixture
def hosts(monkeypatch):
    """Both platforms answer; ``plan_move`` is scripted. ``calls`` records what it got."""
    state = SimpleNamespace(calls=[], reachable=True, refused="")

    @contextmanager
    def connect(platform, timeout=30):
        if not state.reachable:
            raise hv.HypervisorError(f"cannot reach {platform.name}")
        yield StandInHost({"mg-web-1"} if platform.name == "lab-a" else set())

    def plan_move(**kwargs):
        state.calls.append(kwargs)
        fix = {
            "fix_id": "builtin:machine-type",
            "description": "Land on the target's machine type",
            "action": {},
            "when": "definition",
            "differences": [DIFFERENCE],
            "changes": ["machine pc-i440fx-7.2 -> pc-q35-7.2"],
        }
        return {
            "adaptation": {
                "ok": True,
                "problems": [],
                "hardware_changes": ["machine type: pc-i440fx-7.2 -> pc-q35-7.2"],
                "cpu_compatible": True,
                "differences": [DIFFERENCE],
                "unresolved": [],
                "fixes": [fix],
                "guest_commands_before": [],
                "guest_commands_after": [],
                "notes": [],
            },
            "disks": {
                "/a/mg-web-1.qcow2": {
                    "volume": "mg-web-1.qcow2",
                    "target": "vda",
                    "capacity_bytes": 1 << 30,
                    "allocation_bytes": 1 << 20,
                    "encrypted": False,
                    "source_pool": "persona",
                }
            },
            "requested_mode": kwargs["requested"],
            "path": None if state.refused else "cold",
            "path_reason": "" if state.refused else "the target needs changes",
            "refused": state.refused,
            "adapted_xml": "",
            "xml_diff": ["--- source", "+++ target", "-  <type machine='pc'/>"],
            "copy_bytes": 1 << 20,
        }

    monkeypatch.setattr("operations_app.services.migrations.platform_connect", connect)
    monkeypatch.setattr("operations_app.services.migrations.plan_move", plan_move)
    return state


def test_dry_run_answers_the_plan_and_changes_nothing(api, users, lab, vm, hosts):
    response = api(users["operator"]).post(
        PLAN, {"vm": vm.pk, "target": "lab-b", "mode": "auto"}, format="json"
    )
    assert response.status_code == 200, response.content
    plan = response.json()
    assert plan["ready"] is True and plan["path"] == "cold"
    assert plan["vm"] == "mg-web-1" and plan["source"] == "lab-a" and plan["target"] == "lab-b"
    assert plan["verdict"] == "Would move mg-web-1 cold: the target needs changes."
    assert plan["differences"] == [DIFFERENCE]
    assert plan["fixes"][0]["fix_id"] == "builtin:machine-type"
    assert plan["disks"] == [
        {
            "volume": "mg-web-1.qcow2",
            "target": "vda",
            "capacity_bytes": 1 << 30,
            "allocation_bytes": 1 << 20,
            "encrypted": False,
            "from_pool": "persona",
            "to_pool": lab[1].storage_pool,
        }
    ]
    assert plan["xml_diff"][0] == "--- source"
    (call,) = hosts.calls
    assert call["vm_name"] == "mg-web-1" and call["requested"] == "auto"
    assert call["source"] == lab[0] and call["target"] == lab[1] and call["running"] is True
    assert not OperationJob.objects.exists()


def test_dry_run_says_when_the_mode_cannot_be_met(api, users, lab, vm, hosts):
    hosts.refused = "A live migration was requested, but the target needs changes."
    response = api(users["operator"]).post(
        PLAN, {"vm": "mg-web-1", "target": lab[1].pk, "mode": "live"}, format="json"
    )
    assert response.status_code == 200
    plan = response.json()
    assert plan["ready"] is False and plan["path"] is None
    assert plan["verdict"].startswith("Refused: A live migration was requested")
    assert hosts.calls[0]["requested"] == "live"


def test_dry_run_errors(api, users, lab, vm, hosts):
    client = api(users["operator"])
    response = client.post(PLAN, {"vm": vm.pk, "target": "lab-b", "mode": "warp"}, format="json")
    assert response.status_code == 400 and set(errors(response)) == {"mode"}
    response = client.post(PLAN, {"vm": vm.pk, "target": "lab-a"}, format="json")
    assert errors(response) == {"target": "VM 'mg-web-1' already runs on lab-a."}
    response = client.post(PLAN, {"vm": 424242, "target": "lab-b"}, format="json")
    assert errors(response) == {"vm": "no VM 424242 in the inventory"}
    response = client.post(PLAN, {}, format="json")
    assert set(errors(response)) == {"vm", "target"}

    response = api(users["viewer"]).post(PLAN, {"vm": vm.pk, "target": "lab-b"}, format="json")
    assert response.status_code == 403 and "operators" in response.json()["detail"]

    hosts.reachable = False
    response = client.post(PLAN, {"vm": vm.pk, "target": "lab-b"}, format="json")
    assert response.status_code == 409
    assert "could not read the platforms: cannot reach lab-a" in response.json()["detail"]
    assert not hosts.calls and not OperationJob.objects.exists()

    assert APIClient().post(PLAN, {"vm": vm.pk, "target": "lab-b"}).status_code == 401


def test_openapi_documents_migration(api, users, lab, vm, hosts):
    from io import StringIO

    import yaml
    from django.core.management import call_command

    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    assert "post" in schema["paths"]["/api/v1/jobs/migration-plan/"]
    components = schema["components"]["schemas"]
    mapping = components["NewJobRequest"]["discriminator"]["mapping"]
    assert mapping["migrate"] == "#/components/schemas/MigrateJobRequest"
    assert set(components["MigrateJobRequest"]["required"]) == {"kind", "vm", "target"}
    assert components["MigrationModeEnum"]["enum"] == list(MIGRATION_MODES)
    # Every field the dry run answers is documented, and nothing else.
    plan = api(users["operator"]).post(PLAN, {"vm": vm.pk, "target": "lab-b"}, format="json")
    assert set(components["MigrationPlan"]["properties"]) == set(plan.json())
    disk = components["MigrationDisk"]["properties"]
    assert set(disk) == set(plan.json()["disks"][0])


# --- admin -----------------------------------------------------------------------------------


def test_admin_action_asks_for_a_target_then_queues_migrations(users, lab, vm):
    other = managed_vm(vm.profile_version, lab[1], "mg-web-2")
    client = Client()
    client.force_login(users["admin"])
    picked = {"action": "migrate_vms", "_selected_action": [vm.pk, other.pk]}

    page = client.post(ADMIN_VMS, picked)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Migrate to another platform" in html
    assert "mg-web-1" in html and "mg-web-2" in html
    assert '<option value="lab-b"' in html and '<option value="cold"' in html
    assert not OperationJob.objects.exists()

    response = client.post(
        ADMIN_VMS, {**picked, "target": "lab-b", "mode": "cold", "apply": "1"}, follow=True
    )
    assert response.redirect_chain[-1][0] == ADMIN_VMS
    job = OperationJob.objects.get()
    assert job.kind == JobKind.MIGRATE and job.vm == vm and job.platform == lab[1]
    assert job.params == {"mode": "cold"} and job.requested_by == users["admin"]
    shown = [str(m) for m in response.context["messages"]]
    assert f"mg-web-1: migration to lab-b (cold) queued as job #{job.pk}" in shown
    assert "mg-web-2: target: VM 'mg-web-2' already runs on lab-b." in shown


def test_admin_action_needs_a_platform_and_a_known_mode(users, lab, vm):
    client = Client()
    client.force_login(users["admin"])
    picked = {"action": "migrate_vms", "_selected_action": [vm.pk], "apply": "1"}
    page = client.post(ADMIN_VMS, {**picked, "target": "mars", "mode": "auto"})
    assert (
        page.status_code == 200 and "target: choose an enabled platform." in page.content.decode()
    )
    response = client.post(ADMIN_VMS, {**picked, "target": "lab-b", "mode": "warp"}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert shown == ["mg-web-1: mode: mode must be one of auto, live, cold"]
    assert not OperationJob.objects.exists()
