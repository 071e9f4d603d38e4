"""The power bar of the VM page and the POST behind its buttons.

Requests use the real service; no worker runs, so the jobs stay queued.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from operations_app.hypervisor.domains.lifecycle import DomainLifecycle
from operations_app.models import JobKind, JobStatus, ManagedVM, OperationJob, VMState
from operations_app.services import power as power_services
from operations_app.services import snapshots as snapshot_services
from operations_app.tasks import run_job
from tests.operations_app.job_support import (
    approved_version,
    make_platform,
    managed_vm,
    unmanaged_vm,
)
from tests.operations_app.test_migrate_pages import text_of, visible
from tests.operations_app.test_power import conn, domain  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def vm(users):
    return managed_vm(
        approved_version(users), make_platform("lab"), "web-01", last_seen=timezone.now()
    )


def vm_url(vm) -> str:
    return reverse("operations:vm", args=[vm.pk])


def power_url(vm) -> str:
    return reverse("operations:vm_power", args=[vm.pk])


def bar_of(page: str) -> str:
    """The power bar's HTML ('' when the page has none)."""
    match = re.search(r'<section class="power-bar" id="power".*?</section>', page, re.S)
    return match.group(0) if match else ""


def buttons(bar: str) -> dict[str, str]:
    """Each power button's tag by its action."""
    return {
        m.group(1): m.group(0) for m in re.finditer(r'<button[^>]*value="([a-z_]+)"[^>]*>', bar)
    }


def set_state(vm, state) -> None:
    ManagedVM.objects.filter(pk=vm.pk).update(state=state)


# --- the bar -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state, actions",
    [
        (VMState.RUNNING, ["shutdown", "reboot", "force_off"]),
        (VMState.SHUTOFF, ["start"]),
        (VMState.CRASHED, ["start"]),
        (VMState.PAUSED, ["force_off"]),
    ],
)
def test_operators_get_the_buttons_that_fit_the_state(client, users, vm, state, actions):
    set_state(vm, state)
    for who in ("operator", "admin"):
        client.force_login(users[who])
        bar = bar_of(text_of(client.get(vm_url(vm))))
        assert f'<form method="post" action="{power_url(vm)}" id="power-form"' in bar
        assert list(buttons(bar)) == actions
        assert 'name="csrfmiddlewaretoken"' in bar


def test_the_buttons_read_well_and_force_off_asks_first(client, users, vm):
    client.force_login(users["operator"])
    bar = bar_of(text_of(client.get(vm_url(vm))))
    found = buttons(bar)
    assert re.search(r">Shut down</button>", bar) and re.search(r">Force off</button>", bar)
    assert "btn-danger" in found["force_off"]
    confirm = re.search(r'data-confirm="([^"]*)"', found["force_off"])
    assert confirm and "Force off web-01?" in confirm.group(1)
    assert "like pulling its plug" in confirm.group(1)
    for action in ("shutdown", "reboot"):
        assert "data-confirm" not in found[action] and "disabled" not in found[action]
    assert re.search(r"\son[a-z]+=", bar) is None  # no inline script (CSP)
    assert "running" in visible(bar)


@pytest.mark.parametrize("who", ["viewer", "author", "approver"])
def test_other_roles_see_no_power_controls(client, users, vm, who):
    client.force_login(users[who])
    page = text_of(client.get(vm_url(vm)))
    assert bar_of(page) == "" and power_url(vm) not in page
    assert "Force off" not in page and 'id="power-unmanaged"' not in page


def test_no_buttons_for_an_unmanaged_or_gone_vm(client, users, vm):
    client.force_login(users["operator"])
    stray = unmanaged_vm(vm.platform, "stray", state=VMState.RUNNING)
    page = text_of(client.get(vm_url(stray)))
    assert bar_of(page) == "" and power_url(stray) not in page
    assert "No power controls: VM Persona did not make stray" in visible(page)
    set_state(vm, VMState.GONE)
    page = text_of(client.get(vm_url(vm)))
    assert bar_of(page) == "" and power_url(vm) not in page and "power-unmanaged" not in page


def test_while_a_job_holds_the_vm_the_buttons_are_disabled_with_the_reason(client, users, vm):
    job = snapshot_services.job_request_snapshot(user=users["operator"], vm=vm)
    client.force_login(users["operator"])
    bar = bar_of(text_of(client.get(vm_url(vm))))
    found = buttons(bar)
    assert list(found) == ["shutdown", "reboot", "force_off"]
    assert all(" disabled" in tag for tag in found.values())
    reason = (
        f"Job #{job.pk} (take a snapshot, queued) holds web-01: power changes wait until it ends."
    )
    assert reason in visible(bar)
    assert f'href="{job.get_absolute_url()}"' in bar
    OperationJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    bar = bar_of(text_of(client.get(vm_url(vm))))
    assert not any(" disabled" in tag for tag in buttons(bar).values())
    assert "holds web-01" not in bar


# --- the POST ----------------------------------------------------------------------------------


def test_a_button_queues_a_power_job_and_goes_to_its_page(client, users, vm):
    client.force_login(users["operator"])
    response = client.post(power_url(vm), {"action": "shutdown"})
    job = OperationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.kind == JobKind.POWER and job.status == JobStatus.QUEUED
    assert job.params == {"action": "shutdown"} and job.vm == vm
    assert job.requested_by == users["operator"]
    page = visible(text_of(client.get(response["Location"])))
    assert f"Shut down of web-01 queued (job #{job.pk})." in page
    assert "Power web-01" in page


def test_a_viewer_posting_anyway_gets_403_and_no_job(client, users, vm):
    client.force_login(users["viewer"])
    response = client.post(power_url(vm), {"action": "force_off"})
    assert response.status_code == 403
    page = text_of(response)
    assert "<h1>web-01</h1>" in page  # the VM page, not an error page
    errors = re.search(r'id="power-errors">(.*?)</div></div>', page, re.S)
    assert errors and visible(errors.group(1)).strip() == (
        "Could not force off web-01: viewer may not start or stop VMs: this needs the "
        "'operators' role."
    )
    assert 'id="power-form"' not in page  # still no buttons for a viewer
    assert not OperationJob.objects.exists()


@pytest.mark.parametrize(
    "state, action, status, message",
    [
        (VMState.RUNNING, "start", 409, "Could not start web-01: web-01 is already running."),
        (
            VMState.SHUTOFF,
            "shutdown",
            409,
            "Could not shut down web-01: web-01 is already stopped (shut off).",
        ),
        (
            VMState.RUNNING,
            "halt",
            400,
            "Could not change the power of web-01: action: one of: start, shutdown, reboot, "
            "force_off",
        ),
    ],
)
def test_a_refusal_shows_in_the_power_bar_with_its_status(
    client, users, vm, state, action, status, message
):
    set_state(vm, state)
    client.force_login(users["operator"])
    response = client.post(power_url(vm), {"action": action})
    assert response.status_code == status
    bar = bar_of(text_of(response))
    errors = re.search(r'id="power-errors">(.*?)</div></div>', bar, re.S)
    assert errors and visible(errors.group(1)).strip() == message
    assert 'id="power-form"' in bar  # the buttons are still there
    assert not OperationJob.objects.exists()


def test_a_second_request_while_a_job_is_active_is_a_conflict(client, users, vm):
    client.force_login(users["operator"])
    assert client.post(power_url(vm), {"action": "reboot"}).status_code == 302
    job = OperationJob.objects.get()
    response = client.post(power_url(vm), {"action": "force_off"})
    assert response.status_code == 409
    assert f"VM 'web-01' already has an active job (#{job.pk}, power, queued)" in visible(
        bar_of(text_of(response))
    )
    assert OperationJob.objects.count() == 1


def test_only_posts_are_accepted_and_unknown_vms_are_404(client, users, vm):
    client.force_login(users["operator"])
    assert client.get(power_url(vm)).status_code == 405
    missing = reverse("operations:vm_power", args=[999999])
    assert client.post(missing, {"action": "start"}).status_code == 404
    client.logout()
    response = client.post(power_url(vm), {"action": "start"})
    assert response.status_code == 302 and "login" in response["Location"]
    assert not OperationJob.objects.exists()


# --- the job's page ---------------------------------------------------------------------------


def test_a_shutdown_the_guest_ignored_reads_as_failed_not_rolled_back(
    client,
    users,
    domain,  # noqa: F811 - the fixture
    monkeypatch,
    settings,
):
    settings.VMPERSONA_POWER_SHUTDOWN_TIMEOUT_S = 1
    monkeypatch.setattr(DomainLifecycle, "request_shutdown", lambda self, name, **kw: True)
    info = domain()
    row = managed_vm(
        approved_version(users, "pw-page"),
        make_platform("lab"),
        info.name,
        domain_uuid=uuid.UUID(info.uuid),
    )
    job = power_services.job_request_power(user=users["operator"], vm=row, action="shutdown")
    run_job(job.pk)
    client.force_login(users["operator"])
    page = visible(text_of(client.get(job.get_absolute_url())))
    assert f"Power {row.name}" in page
    assert "Failed" in page and "Rolled back" not in page
    assert f"{row.name} did not shut down within 1 s of its ACPI power button being pressed" in page
    assert "Nothing was forced: force it off if it must stop now." in page
    assert f"{row.name} is running on lab; nothing was undone" in page
    # Back on the VM's page the job no longer holds the VM: the buttons are there again.
    bar = bar_of(text_of(client.get(vm_url(row))))
    assert list(buttons(bar)) == ["shutdown", "reboot", "force_off"]
    assert not any(" disabled" in tag for tag in buttons(bar).values())
