"""Power jobs: who may ask for which action in which state, and what the job does to a
domain on libvirt's ``test:///default`` driver: the state libvirt reports afterwards, the
inventory row, the steps, the outcome and who is told.

Each test defines its own ``pw-`` domain (the driver's state lives as long as the
process) and removes it afterwards. The test driver powers a domain off at once when
asked and has no guest agent; tests that need a guest which ignores its power button or
reports a new boot replace that one reaction of the guest, nothing of the job.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from operations_app import hypervisor as hv
from operations_app.hypervisor.agent import BOOT_ID_PATH, GuestAgent
from operations_app.hypervisor.domains.lifecycle import DomainLifecycle
from operations_app.models import (
    JobKind,
    JobStatus,
    JobTrigger,
    ManagedVM,
    Notification,
    OperationJob,
    VMState,
)
from operations_app.runners import power as power_runner
from operations_app.runners import runner_for
from operations_app.runners.power import PowerRunner
from operations_app.services import power as power_services
from operations_app.services import snapshots as snapshot_services
from operations_app.tasks import run_job
from tests.operations_app.hypervisor.test_agent import FakeGuest
from tests.operations_app.job_support import (
    TEST_URI,
    approved_version,
    make_platform,
    managed_vm,
    unmanaged_vm,
)
from vmpersona.errors import NotPermitted, StateConflict

pytestmark = pytest.mark.django_db


def _spec(name: str) -> hv.DomainSpec:
    return hv.DomainSpec(
        name=name,
        memory_mib=128,
        boot=hv.BootSpec(kernel="/boot/vmlinuz", cmdline="console=ttyS0"),
        disks=[hv.DiskSpec(target="vda", path=f"/default-pool/{name}.qcow2")],
        metadata=hv.DomainMetadata(profile="web", profile_version=1, job_id="1"),
    )


@pytest.fixture
def conn():
    with hv.Hypervisor.connect(TEST_URI, timeout=10) as hyp:
        yield hyp


@pytest.fixture
def domain(conn):
    """``domain(running=True, managed=True)``: a new ``pw-`` domain on the test driver."""
    made: list[str] = []

    def make(*, running: bool = True, managed: bool = True) -> hv.DomainInfo:
        name = f"pw-{uuid.uuid4().hex[:8]}"
        spec = _spec(name)
        if not managed:
            spec.metadata = None
        made.append(name)
        info = conn.domains.define(spec)
        if running:
            info = conn.domains.start(name)
        return info

    yield make
    for name in made:
        conn.domains.delete(name, missing_ok=True)


@pytest.fixture
def lab(users):
    return make_platform("lab")


@pytest.fixture
def vm(users, lab, domain):
    """``vm(running=True)``: a managed VM of the inventory whose domain is on lab."""

    version = approved_version(users, "pw-web")

    def make(*, running: bool = True) -> ManagedVM:
        info = domain(running=running)
        return managed_vm(
            version,
            lab,
            info.name,
            domain_uuid=uuid.UUID(info.uuid),
            state=VMState.RUNNING if running else VMState.SHUTOFF,
        )

    return make


def request(users, vm, action, who="operator") -> OperationJob:
    return power_services.job_request_power(user=users[who], vm=vm, action=action)


def run(job) -> OperationJob:
    run_job(job.pk)
    job.refresh_from_db()
    return job


def logs(job) -> list[str]:
    return [e.payload.get("message", "") for e in job.events.filter(kind="log")]


# --- requests ----------------------------------------------------------------------------


def managed_row(users, lab, name="web-1", state=VMState.RUNNING) -> ManagedVM:
    return managed_vm(approved_version(users, "pw-req"), lab, name, state=state)


@pytest.mark.parametrize(
    "state, action",
    [
        (VMState.SHUTOFF, "start"),
        (VMState.CRASHED, "start"),
        (VMState.RUNNING, "shutdown"),
        (VMState.RUNNING, "reboot"),
        (VMState.RUNNING, "force_off"),
        (VMState.PAUSED, "force_off"),
        (VMState.OTHER, "start"),
    ],
)
def test_an_operator_queues_a_power_job(users, lab, state, action):
    row = managed_row(users, lab, state=state)
    job = request(users, row, action)
    assert job.kind == JobKind.POWER and job.get_kind_display() == "Power"
    assert job.status == JobStatus.QUEUED and job.trigger == JobTrigger.MANUAL
    assert job.params == {"action": action}
    assert (job.vm, job.vm_name, job.platform) == (row, "web-1", lab)
    assert job.requested_by == users["operator"]
    assert job.profile_version == row.profile_version and job.content_hash == row.content_hash
    assert job.history.first().history_change_reason == "power requested"
    assert isinstance(runner_for(job), PowerRunner)


@pytest.mark.parametrize("who", ["viewer", "author", "approver"])
def test_only_operators_may_change_the_power(users, lab, who):
    row = managed_row(users, lab)
    with pytest.raises(NotPermitted) as info:
        request(users, row, "shutdown", who=who)
    assert str(info.value) == (f"{who} may not start or stop VMs: this needs the 'operators' role.")
    assert not OperationJob.objects.exists()


@pytest.mark.parametrize("action", ["", "halt", "force-off", "START"])
def test_an_unknown_action_is_refused_at_its_field(users, lab, action):
    row = managed_row(users, lab)
    with pytest.raises(ValidationError) as info:
        request(users, row, action)
    (error,) = info.value.error_list
    assert error.params == {
        "path": "action",
        "message": "one of: start, shutdown, reboot, force_off",
    }
    assert not OperationJob.objects.exists()


@pytest.mark.parametrize(
    "state, action, message",
    [
        (VMState.RUNNING, "start", "web-1 is already running."),
        (VMState.SHUTOFF, "shutdown", "web-1 is already stopped (shut off)."),
        (VMState.SHUTOFF, "force_off", "web-1 is already stopped (shut off)."),
        (VMState.CRASHED, "shutdown", "web-1 is already stopped (crashed)."),
        (VMState.SHUTOFF, "reboot", "web-1 is not running (shut off): start it instead."),
        (
            VMState.PAUSED,
            "shutdown",
            "web-1 is paused: a paused guest cannot answer the power button; force it off instead.",
        ),
        (
            VMState.PAUSED,
            "start",
            "web-1 is paused, not stopped: only force off applies to it now.",
        ),
    ],
)
def test_an_action_the_state_does_not_fit_is_a_clear_conflict(users, lab, state, action, message):
    row = managed_row(users, lab, state=state)
    with pytest.raises(StateConflict) as info:
        request(users, row, action)
    assert str(info.value) == message
    assert not OperationJob.objects.exists()


def test_unmanaged_and_gone_vms_are_left_alone(users, lab):
    stray = unmanaged_vm(lab, "stray", state=VMState.RUNNING)
    with pytest.raises(StateConflict, match="was not made by VM Persona"):
        request(users, stray, "shutdown")
    gone = managed_row(users, lab, name="old", state=VMState.GONE)
    with pytest.raises(StateConflict, match="VM 'old' is gone"):
        request(users, gone, "start")
    assert power_services.power_actions(stray) == ()
    assert not OperationJob.objects.exists()


def test_a_vm_another_job_holds_is_refused_naming_that_job(users, lab):
    row = managed_row(users, lab)
    snap = snapshot_services.job_request_snapshot(user=users["operator"], vm=row)
    # The job is the reason, even for an action the state would refuse anyway.
    for action in ("shutdown", "start"):
        with pytest.raises(StateConflict) as info:
            request(users, row, action)
        assert str(info.value) == (
            f"VM 'web-1' already has an active job (#{snap.pk}, take a snapshot, queued); "
            "wait for it or cancel it."
        )
    OperationJob.objects.filter(pk=snap.pk).update(status=JobStatus.SUCCEEDED)
    first = request(users, row, "reboot")
    with pytest.raises(StateConflict, match=rf"active job \(#{first.pk}, power, queued\)"):
        request(users, row, "force_off")
    assert OperationJob.objects.filter(kind=JobKind.POWER).count() == 1


# --- the job on the test driver --------------------------------------------------------------


def test_shutdown_powers_the_guest_off_and_records_it(users, vm, conn):
    row = vm()
    job = run(request(users, row, "shutdown"))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert conn.domains.state(row.name) == hv.DomainState.SHUTOFF
    row.refresh_from_db()
    assert row.state == VMState.SHUTOFF and row.last_seen is not None
    steps = list(job.steps.order_by("index"))
    assert [s.name for s in steps] == ["check", "shutdown", "wait", "record"]
    assert all(s.status == "succeeded" for s in steps)
    assert steps[1].title == "Press the guest's ACPI power button"
    assert "powered off after" in steps[2].output
    # The test driver has no ACPI button: it is asked its own way, and the log says so.
    assert any("has no ACPI power button" in m for m in logs(job))
    assert job.result["action"] == "shutdown" and job.result["state_before"] == "running"
    assert job.result["state"] == "shutoff"
    note = Notification.objects.get(recipient=users["operator"], job=job)
    assert note.severity == "success"
    assert note.message == f"Shut down of {row.name} on lab succeeded: it is shutoff."


def test_start_starts_a_stopped_vm(users, vm, conn):
    row = vm(running=False)
    job = run(request(users, row, "start"))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert conn.domains.state(row.name) == hv.DomainState.RUNNING
    row.refresh_from_db()
    assert row.state == VMState.RUNNING
    assert [s.name for s in job.steps.order_by("index")] == ["check", "start", "wait", "record"]
    wait = job.steps.get(name="wait")
    # No guest agent on this driver: the job says it did not wait for the guest's boot.
    assert "cannot reach guest agents" in wait.output


def test_reboot_leaves_the_vm_running(users, vm, conn):
    row = vm()
    job = run(request(users, row, "reboot"))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert conn.domains.state(row.name) == hv.DomainState.RUNNING
    assert any("cannot be confirmed from inside the guest" in m for m in logs(job))
    row.refresh_from_db()
    assert row.state == VMState.RUNNING


def test_force_off_powers_off_at_once(users, vm, conn):
    row = vm()
    job = run(request(users, row, "force_off"))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert conn.domains.state(row.name) == hv.DomainState.SHUTOFF
    assert "the guest was not asked" in job.steps.get(name="force_off").output
    row.refresh_from_db()
    assert row.state == VMState.SHUTOFF


def test_a_guest_that_ignores_the_power_button_fails_the_job_and_is_never_forced(
    users, vm, conn, monkeypatch, settings
):
    settings.VMPERSONA_POWER_SHUTDOWN_TIMEOUT_S = 1
    asked = []

    def ignore(self, name, *, mode="auto"):  # the guest hears the button and does nothing
        asked.append(mode)
        return True

    monkeypatch.setattr(DomainLifecycle, "request_shutdown", ignore)
    row = vm()
    job = run(request(users, row, "shutdown"))
    assert asked == ["acpi"]
    assert job.status == JobStatus.FAILED
    assert job.error == (
        f"{row.name} did not shut down within 1 s of its ACPI power button being pressed; "
        "it is still running. Nothing was forced: force it off if it must stop now."
    )
    assert job.failing_check == f"graceful shutdown: {row.name} still running after 1 s"
    assert conn.domains.state(row.name) == hv.DomainState.RUNNING  # not forced
    row.refresh_from_db()
    assert row.state == VMState.RUNNING
    assert job.steps.get(name="wait").status == "failed"
    assert not job.steps.filter(name="record").exists()
    assert any(f"{row.name} is running on lab; nothing was undone" in m for m in logs(job))
    note = Notification.objects.get(recipient=users["admin"], job=job)
    assert note.severity == "error"
    assert note.message.startswith(f"Power of {row.name} on lab failed: {row.name} did not")
    assert "rolled back" not in note.message


def test_the_state_is_read_again_when_the_job_runs(users, vm, conn):
    row = vm()  # the inventory says running ...
    conn.domains.destroy(row.name)  # ... but the domain stopped since the last sync
    job = run(request(users, row, "shutdown"))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert f"{row.name} is already shutoff: nothing to do" in job.steps.get(name="shutdown").output
    assert job.steps.get(name="wait").output == "nothing to wait for"
    row.refresh_from_db()
    assert row.state == VMState.SHUTOFF

    ManagedVM.objects.filter(pk=row.pk).update(state=VMState.RUNNING)
    job = run(request(users, row, "reboot"))
    assert job.status == JobStatus.FAILED
    assert (
        job.error
        == f"{row.name} is shutoff, not running: there is nothing to restart; start it instead."
    )
    row.refresh_from_db()
    assert row.state == VMState.SHUTOFF  # the state it was found in is recorded


def test_a_domain_that_vanished_fails_the_job(users, vm, conn):
    row = vm()
    conn.domains.delete(row.name)
    job = run(request(users, row, "force_off"))
    assert job.status == JobStatus.FAILED
    assert job.error == f"{row.name} is no longer on lab."


def test_a_domain_without_persona_metadata_is_left_alone(users, lab, domain, conn):
    info = domain(managed=False)
    row = managed_vm(
        approved_version(users, "pw-meta"), lab, info.name, domain_uuid=uuid.UUID(info.uuid)
    )
    job = run(request(users, row, "force_off"))
    assert job.status == JobStatus.FAILED and "was not made by VM Persona" in job.error
    assert conn.domains.state(info.name) == hv.DomainState.RUNNING


# --- a reboot confirmed by the guest's boot id ----------------------------------------------


class RestartingGuest:
    """The guest's boot id as its agent reports it: the same until the restart has
    happened ``after`` reads later (or never, with ``after=None``)."""

    def __init__(self, after: int | None) -> None:
        self.after = after
        self.reads = 0

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(GuestAgent, "boot_id", lambda agent, name, **kw: self.read())

    def read(self) -> str:
        self.reads += 1
        if self.after is not None and self.reads > self.after + 1:
            return "boot-2"
        return "boot-1"


def test_a_reboot_waits_for_a_new_boot_id(users, vm, monkeypatch):
    guest = RestartingGuest(after=2)
    guest.install(monkeypatch)
    monkeypatch.setattr(power_runner, "REBOOT_POLL_S", 0.01)
    row = vm()
    job = run(request(users, row, "reboot"))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["boot_id_before"] == "boot-1" and job.result["boot_id"] == "boot-2"
    assert "restarted: its guest answered with a new boot id" in job.steps.get(name="wait").output
    assert guest.reads == 4  # before, twice the old boot, then the new one


def test_a_reboot_the_guest_ignores_fails_after_the_timeout(users, vm, monkeypatch, settings):
    settings.VMPERSONA_POWER_BOOT_TIMEOUT_S = 1
    RestartingGuest(after=None).install(monkeypatch)
    monkeypatch.setattr(power_runner, "REBOOT_POLL_S", 0.05)
    row = vm()
    job = run(request(users, row, "reboot"))
    assert job.status == JobStatus.FAILED
    assert job.error == (
        f"{row.name} did not come back within 1 s of the restart request: its guest still "
        "reports the boot it had before (it may have ignored the power button); it is "
        "running. Force it off and start it if it must restart now."
    )


# --- the hypervisor layer -------------------------------------------------------------------


def test_the_hypervisor_asks_without_waiting(conn, domain):
    info = domain(running=False)
    assert conn.domains.request_shutdown(info.name, mode="auto") is False  # not running
    with pytest.raises(hv.InvalidState, match="not running"):
        conn.domains.reboot(info.name)
    for call in (
        lambda: conn.domains.reboot(info.name, mode="magic"),
        lambda: conn.domains.request_shutdown(info.name, mode="magic"),
    ):
        with pytest.raises(hv.InvalidSpec, match="mode must be one of auto, agent, acpi"):
            call()
    conn.domains.start(info.name)
    with pytest.raises(hv.Unsupported, match="unsupported flags"):  # no ACPI button here
        conn.domains.request_shutdown(info.name, mode="acpi")
    conn.domains.reboot(info.name, mode="acpi")
    assert conn.domains.request_shutdown(info.name, mode="auto") is True


def test_the_boot_id_is_read_through_the_agent():
    guest = FakeGuest()
    guest.files[BOOT_ID_PATH] = bytearray(b"6f1c3d9e-0b7a-4c55-9d1e-2a4b8c7d9e10\n")
    agent = GuestAgent(None, transport=guest)
    assert agent.boot_id("pt-guest") == "6f1c3d9e-0b7a-4c55-9d1e-2a4b8c7d9e10"
    guest.available = False
    with pytest.raises(hv.AgentUnavailable):
        agent.boot_id("pt-guest")
