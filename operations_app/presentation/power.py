"""How a VM's power bar reads on its page.

A pure function from the VM, whether the user may power VMs and the job holding the VM
(if any), to the bar: the buttons that fit the VM's state, force off with its
confirmation, and while a job holds the VM every button disabled with the reason. No
queries beyond the rows given, and no writes; the service checks everything again.
"""

from __future__ import annotations

from typing import Any

from operations_app.models import ManagedVM, OperationJob, VMState
from operations_app.services.power import PowerAction, power_actions

BUTTON_STYLES: dict[str, str] = {
    PowerAction.START: "btn-primary",
    PowerAction.SHUTDOWN: "",
    PowerAction.REBOOT: "",
    PowerAction.FORCE_OFF: "btn-danger",
}
HINTS: dict[str, str] = {
    PowerAction.START: "Start the VM and wait for its guest agent to answer",
    PowerAction.SHUTDOWN: "Press the guest's ACPI power button and wait for it to power off; "
    "nothing is forced if it does not",
    PowerAction.REBOOT: "Ask the guest to restart through its ACPI power button and wait "
    "until it is back",
    PowerAction.FORCE_OFF: "Power the VM off at once, without asking the guest",
}


def force_off_confirmation(vm: ManagedVM) -> str:
    return (
        f"Force off {vm.name}? It is powered off at once, like pulling its plug: the guest "
        "is not asked and loses whatever it has not written to disk. Shut down asks the "
        "guest first."
    )


def power_bar(vm: ManagedVM, *, can_power: bool, active_job: OperationJob | None) -> dict[str, Any]:
    """The power bar: ``show`` (operators, a VM VM Persona made that is still there),
    its ``buttons`` (``action``, ``label``, ``style``, ``hint``, ``confirm``), and
    ``held_by`` with ``held_reason`` while a job holds the VM (the buttons are then
    disabled)."""
    show = can_power and vm.managed and vm.state != VMState.GONE
    buttons = []
    for action in power_actions(vm) if show else ():
        buttons.append(
            {
                "action": action,
                "label": PowerAction(action).label,
                "style": BUTTON_STYLES[action],
                "hint": HINTS[action],
                "confirm": force_off_confirmation(vm) if action == PowerAction.FORCE_OFF else "",
            }
        )
    held_reason = ""
    if show and active_job is not None:
        held_reason = (
            f"Job #{active_job.pk} ({active_job.get_kind_display().lower()}, "  # type: ignore[attr-defined]
            f"{active_job.get_status_display().lower()}) holds {vm.name}: "  # type: ignore[attr-defined]
            "power changes wait until it ends."
        )
    return {
        "show": show,
        "buttons": buttons,
        "held_by": active_job if show else None,
        "held_reason": held_reason,
        # Operators learn why a VM VM Persona did not make has no power buttons.
        "unmanaged_note": can_power and not vm.managed and vm.state != VMState.GONE,
    }
