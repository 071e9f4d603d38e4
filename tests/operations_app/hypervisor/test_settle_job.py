"""Ending a background job a dead client left behind (libvirt's test driver has no
migrations, so a scripted domain stands in for what libvirt reports)."""

from __future__ import annotations

import libvirt
import pytest

from operations_app.hypervisor import OperationTimeout

NONE, RUNNING = libvirt.VIR_DOMAIN_JOB_NONE, libvirt.VIR_DOMAIN_JOB_UNBOUNDED
CANCELLED = libvirt.VIR_DOMAIN_JOB_CANCELLED


def _error(code: int) -> libvirt.libvirtError:
    exc = libvirt.libvirtError("scripted")
    exc.err = (code, libvirt.VIR_FROM_QEMU, "scripted", 2, None, None, None, 0, 0)
    return exc


class ScriptedDomain:
    """Reports the job types of ``script`` one per poll (the last one for ever); an
    abort moves to ``after_abort``."""

    def __init__(self, script: list, after_abort: list | None = None) -> None:
        self.script = list(script)
        self.after_abort = after_abort
        self.aborts = 0

    def jobInfo(self):  # noqa: N802 - libvirt's name
        value = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(value, libvirt.libvirtError):
            raise value
        return [value, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

    def abortJob(self):  # noqa: N802 - libvirt's name
        self.aborts += 1
        if self.after_abort is not None:
            self.script = list(self.after_abort)


@pytest.fixture
def scripted(test_hv, monkeypatch):
    def use(dom: ScriptedDomain):
        class Conn:
            def lookupByName(self, name):  # noqa: N802
                return dom

        monkeypatch.setattr(test_hv, "_connection", lambda: Conn())
        monkeypatch.setattr(
            "operations_app.hypervisor.domains.migration.time.sleep", lambda s: None
        )
        return test_hv.domains

    return use


def test_no_job_means_nothing_to_settle(scripted):
    dom = ScriptedDomain([NONE])
    assert scripted(dom).settle_job("vm") is None
    assert dom.aborts == 0


def test_a_job_that_ends_within_the_grace_is_left_alone(scripted):
    # A cancelled or completed job still holds the domain until libvirt reports none.
    dom = ScriptedDomain([RUNNING, RUNNING, CANCELLED, CANCELLED, NONE])
    assert scripted(dom).settle_job("vm", grace_s=3600) == "ended"
    assert dom.aborts == 0


def test_a_job_past_the_grace_is_aborted_and_waited_for(scripted):
    dom = ScriptedDomain([RUNNING], after_abort=[CANCELLED, CANCELLED, NONE])
    assert scripted(dom).settle_job("vm", grace_s=0) == "aborted"
    assert dom.aborts == 1


def test_a_busy_or_departed_domain(scripted):
    busy = _error(libvirt.VIR_ERR_OPERATION_TIMEOUT)
    dom = ScriptedDomain([RUNNING, busy, busy, _error(libvirt.VIR_ERR_OPERATION_INVALID)])
    assert scripted(dom).settle_job("vm", grace_s=3600) == "ended"


def test_a_job_that_never_lets_go_is_reported(scripted):
    dom = ScriptedDomain([RUNNING], after_abort=[CANCELLED])
    with pytest.raises(OperationTimeout, match="still runs a job on domain 'vm'"):
        scripted(dom).settle_job("vm", grace_s=0, wait_s=0)
