"""Power jobs: start, gracefully shut down, reboot or force off a managed VM.

Four steps: read the VM's state in libvirt; ask for the change through the hypervisor
layer; wait, bounded, for the state it leads to; record that state in the inventory.

- start: supply the VM's ephemeral volume secrets again if a host restart lost them,
  start the domain, wait for its guest agent to answer;
- shutdown: press the guest's ACPI power button and wait up to
  VMPERSONA_POWER_SHUTDOWN_TIMEOUT_S for it to power off. A guest that ignores the
  button fails the job, which says so and names force off: it never forces by itself;
- reboot: note the guest's boot id, ask for a restart through the ACPI power button,
  wait until the guest answers with a new boot id;
- force off: power the domain off at once, like pulling its plug.

A driver without an ACPI button (libvirt's test driver) is asked its own default way,
and the log says so. Nothing is undone on failure: the job ends ``failed`` with the
state the VM is left in, recorded in the inventory too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings

from operations_app import hypervisor as hv
from operations_app.runners.base import Runner, Step, StepFailed
from operations_app.services import jobs as job_services
from operations_app.services.inventory import inventory_vm_seen, vm_state_for
from operations_app.services.platforms import platform_connect
from operations_app.services.power import PowerAction
from operations_app.services.volume_secrets import SecretSupplyError, volume_secrets_require

# How long a forced power-off and libvirt's start of a domain may take to show.
STATE_TIMEOUT_S = 60
# Between two looks at a restarting guest's boot id.
REBOOT_POLL_S = 2.0
RUNNING_STATES = (hv.DomainState.RUNNING, hv.DomainState.BLOCKED)
STOPPED_STATES = (hv.DomainState.SHUTOFF, hv.DomainState.CRASHED)

ACTION_TITLES: dict[str, str] = {
    PowerAction.START: "Start the VM",
    PowerAction.SHUTDOWN: "Press the guest's ACPI power button",
    PowerAction.REBOOT: "Ask the guest to restart",
    PowerAction.FORCE_OFF: "Power the VM off at once",
}
WAIT_TITLES: dict[str, str] = {
    PowerAction.START: "Wait for the guest agent to answer",
    PowerAction.SHUTDOWN: "Wait for the guest to power off",
    PowerAction.REBOOT: "Wait for the guest to come back",
    PowerAction.FORCE_OFF: "Wait for the VM to stop",
}


class PowerRunner(Runner):
    rolls_back = False  # a power change is not undone; a failure says where the VM is

    @property
    def action(self) -> str:
        return str((self.job.params or {}).get("action", ""))

    def steps(self) -> list[Step]:
        action = self.action
        return [
            Step("check", "Read the VM's state", self.step_check, 1),
            Step(action or "act", ACTION_TITLES.get(action, "Change the power"), self.step_act, 1),
            Step("wait", WAIT_TITLES.get(action, "Wait for the new state"), self.step_wait, 4),
            Step("record", "Record the VM's state in the inventory", self.step_record, 1),
        ]

    def _conn(self) -> hv.Hypervisor:
        return platform_connect(self.job.platform, timeout=60)

    # -- steps ---------------------------------------------------------------------

    def step_check(self) -> str:
        name, where = self.job.vm_name, self.job.platform.name
        if self.action not in PowerAction.values:
            raise StepFailed(f"Unknown power action {self.action!r}.", check="action")
        with self._conn() as conn:
            try:
                state = conn.domains.state(name)
            except hv.NotFound as exc:
                raise StepFailed(f"{name} is no longer on {where}.") from exc
            if conn.domains.get_metadata(name) is None:
                raise StepFailed(
                    f"{name} on {where} was not made by VM Persona (no persona metadata); "
                    "its power is left alone."
                )
        self.result_update(action=self.action, state_before=state.value)
        return f"{name} is {state.value} on {where}"

    def step_act(self) -> str:
        act: dict[str, Callable[[hv.Hypervisor], str]] = {
            PowerAction.START: self._start,
            PowerAction.SHUTDOWN: self._shutdown,
            PowerAction.REBOOT: self._reboot,
            PowerAction.FORCE_OFF: self._force_off,
        }
        with self._conn() as conn:
            return act[self.action](conn)

    def step_wait(self) -> str:
        if (self.job.result or {}).get("already"):
            return "nothing to wait for"
        wait: dict[str, Callable[[hv.Hypervisor], str]] = {
            PowerAction.START: self._wait_started,
            PowerAction.SHUTDOWN: self._wait_shut_down,
            PowerAction.REBOOT: self._wait_restarted,
            PowerAction.FORCE_OFF: self._wait_stopped,
        }
        with self._conn() as conn:
            return wait[self.action](conn)

    def step_record(self) -> str:
        state = self._record_state()
        return f"{self.job.vm_name} is {state.value}; recorded in the inventory"

    # -- the actions ---------------------------------------------------------------

    def _already(self, state: hv.DomainState) -> str:
        self.result_update(already=True)
        return f"{self.job.vm_name} is already {state.value}: nothing to do"

    def _press(self, request: Callable[[str], object], what: str) -> str:
        """Ask through the guest's ACPI power button; a driver that has none is asked its
        own default way (and the log says so)."""
        try:
            request("acpi")
        except hv.Unsupported as exc:
            self.log(
                f"{self.job.platform.name}'s driver has no ACPI power button ({exc}); "
                f"asked it to {what} its own default way",
                level="warning",
            )
            request("auto")
            return f"asked the driver to {what}"
        return f"pressed the ACPI power button to {what}"

    def _start(self, conn: hv.Hypervisor) -> str:
        name = self.job.vm_name
        state = conn.domains.state(name)
        if state in RUNNING_STATES:
            return self._already(state)
        if state.active:
            raise StepFailed(
                f"{name} is {state.value}, not stopped: start applies to a stopped VM; "
                "force it off first."
            )
        try:
            supplied = volume_secrets_require(conn, name)
        except SecretSupplyError as exc:
            raise StepFailed(f"{name} cannot start: a volume secret is missing: {exc}") from exc
        for path in supplied:
            self.log(f"secret of {path} supplied again from the key store")
        try:
            conn.domains.start(name)
        except hv.InvalidState:
            if conn.domains.state(name) in RUNNING_STATES:
                return self._already(hv.DomainState.RUNNING)  # started meanwhile
            raise
        return f"{name} started"

    def _shutdown(self, conn: hv.Hypervisor) -> str:
        name = self.job.vm_name
        state = conn.domains.state(name)
        if not state.active:
            return self._already(state)
        if state not in RUNNING_STATES and state != hv.DomainState.SHUTDOWN:
            raise StepFailed(
                f"{name} is {state.value}: a {state.value} guest cannot answer the power "
                "button; force it off instead."
            )
        return self._press(
            lambda mode: conn.domains.request_shutdown(name, mode=mode), "power the guest off"
        )

    def _reboot(self, conn: hv.Hypervisor) -> str:
        name = self.job.vm_name
        state = conn.domains.state(name)
        if state not in RUNNING_STATES:
            raise StepFailed(
                f"{name} is {state.value}, not running: there is nothing to restart"
                + ("; start it instead." if not state.active else "; force it off first.")
            )
        before = self._boot_id(conn)
        self.result_update(boot_id_before=before or "")
        if before:
            self.log(f"the guest's boot id before the restart: {before}")
        return self._press(lambda mode: conn.domains.reboot(name, mode=mode), "restart the guest")

    def _force_off(self, conn: hv.Hypervisor) -> str:
        name = self.job.vm_name
        state = conn.domains.state(name)
        if not state.active:
            return self._already(state)
        conn.domains.destroy(name)
        return f"{name} powered off at once (the guest was not asked)"

    # -- waiting for the result ----------------------------------------------------

    def _wait_started(self, conn: hv.Hypervisor) -> str:
        name = self.job.vm_name
        try:
            conn.domains.wait_for_state(name, RUNNING_STATES, timeout=STATE_TIMEOUT_S)
        except hv.OperationTimeout as exc:
            raise StepFailed(f"{name} did not start: {exc}") from exc
        return self._wait_for_agent(conn)

    def _wait_for_agent(self, conn: hv.Hypervisor) -> str:
        name, limit = self.job.vm_name, settings.VMPERSONA_POWER_BOOT_TIMEOUT_S
        try:
            waited = conn.agent.wait_for_agent(name, timeout=limit)
        except hv.Unsupported:
            return (
                f"{name} is running (this platform's driver cannot reach guest agents: the "
                "guest's boot was not waited for)"
            )
        except hv.InvalidState as exc:
            state = conn.domains.state(name)
            raise StepFailed(
                f"{name} stopped while its guest booted: it is {state.value}."
            ) from exc
        except hv.AgentUnavailable as exc:
            raise StepFailed(
                f"{name} is running, but its guest agent did not answer within {limit} s: "
                "the guest may not have booted. Look at its console; force it off and start "
                "it again if it hangs."
            ) from exc
        return f"{name} is running; its guest agent answered after {waited:.0f} s"

    def _wait_shut_down(self, conn: hv.Hypervisor) -> str:
        name, limit = self.job.vm_name, settings.VMPERSONA_POWER_SHUTDOWN_TIMEOUT_S
        started = time.monotonic()
        try:
            conn.domains.wait_for_state(name, STOPPED_STATES, timeout=limit, interval=1.0)
        except hv.OperationTimeout as exc:
            state = conn.domains.state(name)
            raise StepFailed(
                f"{name} did not shut down within {limit} s of its ACPI power button being "
                f"pressed; it is still {state.value}. Nothing was forced: force it off if it "
                "must stop now.",
                check=f"graceful shutdown: {name} still {state.value} after {limit} s",
            ) from exc
        return f"{name} powered off after {time.monotonic() - started:.0f} s"

    def _wait_stopped(self, conn: hv.Hypervisor) -> str:
        name = self.job.vm_name
        try:
            conn.domains.wait_for_state(name, STOPPED_STATES, timeout=STATE_TIMEOUT_S)
        except hv.OperationTimeout as exc:
            raise StepFailed(f"{name} did not stop: {exc}") from exc
        return f"{name} is off"

    def _boot_id(self, conn: hv.Hypervisor) -> str | None:
        """The guest's boot id, or None (and a log line saying why) when unreadable."""
        try:
            return conn.agent.boot_id(self.job.vm_name, timeout=10)
        except hv.Unsupported:
            self.log(
                "this platform's driver cannot reach guest agents: the restart cannot be "
                "confirmed from inside the guest",
                level="warning",
            )
        except hv.HypervisorError as exc:
            self.log(
                f"the guest's boot id could not be read ({exc}); the restart is confirmed "
                "only by its agent answering afterwards",
                level="warning",
            )
        return None

    def _wait_restarted(self, conn: hv.Hypervisor) -> str:
        name, limit = self.job.vm_name, settings.VMPERSONA_POWER_BOOT_TIMEOUT_S
        before = (self.job.result or {}).get("boot_id_before") or ""
        if not before:
            return self._wait_for_agent(conn)
        started = time.monotonic()
        deadline = started + limit
        while True:
            state = conn.domains.state(name)
            if not state.active:
                raise StepFailed(f"{name} stopped instead of restarting: it is {state.value}.")
            try:
                now = conn.agent.boot_id(name, timeout=5)
            except hv.HypervisorError:
                now = None  # restarting: its agent is away for a while
            if now and now != before:
                self.result_update(boot_id=now)
                return (
                    f"{name} restarted: its guest answered with a new boot id after "
                    f"{time.monotonic() - started:.0f} s"
                )
            if time.monotonic() >= deadline:
                why = (
                    "its guest still reports the boot it had before (it may have ignored "
                    "the power button)"
                    if now == before
                    else "its guest agent does not answer"
                )
                raise StepFailed(
                    f"{name} did not come back within {limit} s of the restart request: "
                    f"{why}; it is {state.value}. Force it off and start it if it must "
                    "restart now."
                )
            job_services.job_heartbeat(job=self.job)
            time.sleep(REBOOT_POLL_S)

    # -- the end -------------------------------------------------------------------

    def _record_state(self) -> hv.DomainState:
        with self._conn() as conn:
            state = conn.domains.state(self.job.vm_name)
        inventory_vm_seen(vm_id=self.vm_id, state=vm_state_for(state))
        self.result_update(state=state.value)
        return state

    def rollback(self) -> list[str]:
        """Nothing to undo: record (and say) the state the VM is left in."""
        name = self.job.vm_name
        try:
            state = self._record_state()
        except (hv.HypervisorError, StepFailed) as exc:
            self.log(f"the state {name} is left in could not be read: {exc}", level="warning")
            return []
        self.log(f"{name} is {state.value} on {self.job.platform.name}; nothing was undone")
        return []

    def on_success(self) -> None:
        pass  # a power job makes nothing to hand over

    def success_message(self) -> str:
        label = PowerAction(self.action).label if self.action in PowerAction.values else "Power"
        state = (self.job.result or {}).get("state", "")
        return f"{label} of {self.job.vm_name} on {self.job.platform.name} succeeded" + (
            f": it is {state}." if state else "."
        )
