"""Power of a managed VM: start, graceful shutdown, reboot and force off, as jobs.

A power change is a job of the ``power`` kind (``params={"action": ...}``) with the
records every operation has: operators only, one active job per VM, steps, events,
history and notifications. ``runners.power`` does it through the hypervisor layer and
waits, bounded, for the state it leads to. A graceful shutdown is never turned into a
force off behind the operator's back: when the guest ignores the power button, the job
fails and says so.

Only VMs VM Persona made (``managed``) are powered. An unmanaged domain belongs to
whoever made it, and other tooling may be keeping it up or down; the product knows
nothing of its guest (a managed VM always has a guest agent, which the job waits for
after a start or a reboot) nor holds its volume keys (a start supplies a managed VM's
ephemeral volume secrets again). Decommission and snapshots leave such domains alone
for the same reasons.
"""

from __future__ import annotations

from django.db import models, transaction

from operations_app.models import JobKind, JobTrigger, ManagedVM, OperationJob, VMState
from operations_app.selectors.jobs import vm_active_job
from operations_app.services.jobs import job_create, vm_busy_message
from vmpersona.errors import NotPermitted, StateConflict, field_error
from vmpersona.roles import OPERATORS, has_role


class PowerAction(models.TextChoices):
    START = "start", "Start"
    SHUTDOWN = "shutdown", "Shut down"
    REBOOT = "reboot", "Reboot"
    FORCE_OFF = "force_off", "Force off"


# The actions that fit each state the inventory records. The runner reads libvirt's
# state again when it runs (the inventory is as old as its last sync).
ACTIONS_BY_STATE: dict[str, tuple[str, ...]] = {
    VMState.RUNNING: (PowerAction.SHUTDOWN, PowerAction.REBOOT, PowerAction.FORCE_OFF),
    VMState.SHUTOFF: (PowerAction.START,),
    VMState.CRASHED: (PowerAction.START,),
    # A paused or suspended guest cannot answer the power button.
    VMState.PAUSED: (PowerAction.FORCE_OFF,),
    VMState.SUSPENDED: (PowerAction.FORCE_OFF,),
    # Unknown to the inventory: libvirt's state decides when the job runs.
    VMState.OTHER: tuple(PowerAction.values),
    VMState.GONE: (),
}
STOPPED_STATES = (VMState.SHUTOFF, VMState.CRASHED)


def power_actions(vm: ManagedVM) -> tuple[str, ...]:
    """The power actions that fit ``vm`` as the inventory knows it (none for a VM VM
    Persona did not make). The role and the VM's jobs are checked by the request."""
    if not vm.managed:
        return ()
    return ACTIONS_BY_STATE.get(vm.state, ())


def _refusal(vm: ManagedVM, action: str) -> str:
    """Why ``action`` does not fit ``vm``'s state, in the words an operator expects."""
    state = vm.get_state_display().lower()  # type: ignore[attr-defined]
    if action == PowerAction.START:
        if vm.state == VMState.RUNNING:
            return f"{vm.name} is already running."
        return f"{vm.name} is {state}, not stopped: only force off applies to it now."
    if vm.state in STOPPED_STATES:
        if action == PowerAction.REBOOT:
            return f"{vm.name} is not running ({state}): start it instead."
        return f"{vm.name} is already stopped ({state})."
    return f"{vm.name} is {state}: a {state} guest cannot answer the power button; force it off instead."


@transaction.atomic
def job_request_power(
    *,
    user,
    vm: ManagedVM,
    action: str,
    trigger: str = JobTrigger.MANUAL,
    trigger_detail: str = "",
) -> OperationJob:
    """Queue ``action`` (start, shutdown, reboot or force_off) on the managed ``vm``.

    Refuses (``NotPermitted``) users without the operators role; an unknown action at the
    field ``action``; (``StateConflict``) a VM that is gone, was not made by VM Persona,
    is held by another job, or whose state the action does not fit."""
    if not has_role(user, OPERATORS):
        raise NotPermitted(
            f"{getattr(user, 'username', 'anonymous')} may not start or stop VMs: "
            "this needs the 'operators' role."
        )
    if action not in PowerAction.values:
        raise field_error("action", "one of: " + ", ".join(PowerAction.values))
    vm = ManagedVM.objects.select_related("platform", "profile_version").get(pk=vm.pk)
    if vm.state == VMState.GONE:
        raise StateConflict(f"VM '{vm.name}' is gone.")
    if not vm.managed:
        raise StateConflict(
            f"VM '{vm.name}' was not made by VM Persona; its power is left to whoever made it."
        )
    # A job at work on the VM is the reason to give first: its state may be changing.
    active = vm_active_job(vm_name=vm.name)
    if active is not None:
        raise StateConflict(vm_busy_message(vm.name, active))
    if action not in power_actions(vm):
        raise StateConflict(_refusal(vm, action))
    job = OperationJob(
        kind=JobKind.POWER,
        trigger=trigger,
        trigger_detail=trigger_detail,
        requested_by=user,
        profile_version=vm.profile_version,
        content_hash=vm.content_hash,
        platform=vm.platform,
        vm=vm,
        vm_name=vm.name,
        params={"action": str(action)},
    )
    return job_create(job=job, user=user)
