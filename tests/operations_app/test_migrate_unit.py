"""Migration requests and the choice between a live and a cold move (no real hosts)."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from operations_app.adaptation.move import MoveRefused, choose_path
from operations_app.hypervisor import swap_secrets
from operations_app.models import JobKind, ManagedVM, OperationJob, VMState
from operations_app.runners import runner_for
from operations_app.runners.migrate import MigrateRunner
from operations_app.services import migrations as migration_services
from operations_app.services import platforms as platform_services
from profiles_app.services import versions as version_services
from tests.operations_app.job_support import managed_vm
from vmpersona.errors import NotPermitted, StateConflict

# ----------------------------------------------------------------- path choice


def test_no_hardware_change_on_a_running_vm_moves_live():
    path, why = choose_path(requested="auto", hardware_changes=[], source_running=True)
    assert path == "live" and "no hardware or definition changes" in why


def test_hardware_changes_make_the_move_cold_and_say_why():
    path, why = choose_path(
        requested="auto", hardware_changes=["machine type: pc -> q35"], source_running=True
    )
    assert path == "cold" and "machine type: pc -> q35" in why


def test_live_is_refused_when_the_hardware_changes():
    with pytest.raises(MoveRefused, match="live migration was requested"):
        choose_path(requested="live", hardware_changes=["vCPUs: 1 -> 2"], source_running=True)


def test_live_is_refused_for_a_stopped_vm_and_auto_goes_cold():
    with pytest.raises(MoveRefused, match="not running"):
        choose_path(requested="live", hardware_changes=[], source_running=False)
    assert choose_path(requested="auto", hardware_changes=[], source_running=False)[0] == "cold"


def test_cold_on_request():
    assert choose_path(requested="cold", hardware_changes=[], source_running=True)[0] == "cold"


def test_destination_xml_gets_the_targets_secrets():
    xml = (
        "<domain type='qemu'><name>mg</name><devices>"
        "<disk type='file' device='disk'><source file='/a/mg-data.qcow2'>"
        "<encryption format='luks'><secret type='passphrase' uuid='11111111-1111-1111-1111-111111111111'/>"
        "</encryption></source><target dev='vdb'/></disk></devices></domain>"
    )
    out = swap_secrets(xml, {"11111111-1111-1111-1111-111111111111": "2222"})
    assert 'uuid="2222"' in out and "1111" not in out
    assert swap_secrets(xml, {}) == xml


# ----------------------------------------------------------------- requests


@pytest.fixture
def lab(db):
    a = platform_services.platform_create(name="lab-a", uri="test:///default")
    b = platform_services.platform_create(name="lab-b", uri="test:///default")
    return a, b


@pytest.fixture
def vm(users, make_document, lab):
    v = version_services.policy_create(user=users["author"], document=make_document("mg-web"))
    version_services.version_submit(user=users["author"], version=v)
    version = version_services.version_approve(user=users["approver"], version=v)
    return managed_vm(version, lab[0], "mg-web-1")


@pytest.mark.django_db
def test_an_operator_requests_a_migration(users, lab, vm):
    job = migration_services.job_request_migrate(
        user=users["operator"], vm=vm, target=lab[1], mode="live"
    )
    assert job.kind == JobKind.MIGRATE
    assert job.platform == lab[1] and job.source_platform == lab[0]
    assert job.vm == vm and job.params["mode"] == "live"
    assert job.content_hash == vm.content_hash
    assert isinstance(runner_for(job), MigrateRunner)


@pytest.mark.django_db
def test_migration_to_the_same_platform_is_refused(users, lab, vm):
    with pytest.raises(ValidationError, match="already runs on lab-a"):
        migration_services.job_request_migrate(user=users["operator"], vm=vm, target=lab[0])
    assert not OperationJob.objects.exists()


@pytest.mark.django_db
def test_migration_to_a_disabled_platform_is_refused(users, lab, vm):
    platform_services.platform_update(platform=lab[1], enabled=False)
    lab[1].refresh_from_db()
    with pytest.raises(StateConflict, match="disabled"):
        migration_services.job_request_migrate(user=users["operator"], vm=vm, target=lab[1])
    assert not OperationJob.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["author", "approver", "viewer"])
def test_only_operators_may_migrate(users, lab, vm, who):
    with pytest.raises(NotPermitted, match="operators"):
        migration_services.job_request_migrate(user=users[who], vm=vm, target=lab[1])
    assert not OperationJob.objects.exists()


@pytest.mark.django_db
def test_a_vm_without_a_profile_version_is_refused(users, lab):
    stray = ManagedVM.objects.create(
        platform=lab[0], name="mg-stray", domain_uuid=uuid.uuid4(), state=VMState.RUNNING
    )
    with pytest.raises(StateConflict, match="no profile version"):
        migration_services.job_request_migrate(user=users["operator"], vm=stray, target=lab[1])
    assert not OperationJob.objects.exists()


@pytest.mark.django_db
def test_an_unknown_mode_is_refused(users, lab, vm):
    with pytest.raises(ValidationError, match="mode"):
        migration_services.job_request_migrate(
            user=users["operator"], vm=vm, target=lab[1], mode="teleport"
        )


@pytest.mark.django_db
def test_one_active_job_per_vm(users, lab, vm):
    migration_services.job_request_migrate(user=users["operator"], vm=vm, target=lab[1])
    with pytest.raises(StateConflict, match="already has an active job"):
        migration_services.job_request_migrate(user=users["operator"], vm=vm, target=lab[1])
