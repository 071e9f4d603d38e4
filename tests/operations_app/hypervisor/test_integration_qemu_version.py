"""Integration: the QEMU version a real running domain's process runs (QMP
``query-version``) is the installed binary's, as ``qemu-system-x86_64 --version`` prints
it and libvirt reports it."""

from __future__ import annotations

import re
import subprocess

import pytest

from operations_app.hypervisor import DomainSpec, NotFound

from .conftest import unique_name

pytestmark = [pytest.mark.integration, pytest.mark.dbfree]


def test_running_domain_reports_the_installed_qemu(system_hv):
    caps = system_hv.capabilities(kvm_usable=False)
    printed = subprocess.run(
        [caps.emulator or "qemu-system-x86_64", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    match = re.search(r"version (\d+)\.(\d+)\.(\d+)(?: \((.*?)\))?", printed)
    assert match, printed
    expected = ".".join(match.group(1, 2, 3))
    name = unique_name("pt-qemuver")
    try:
        system_hv.domains.define(DomainSpec(name=name, memory_mib=64, domain_type="qemu"))
        assert system_hv.domains.qemu_version(name) is None  # not running: no process
        system_hv.domains.start(name)
        running = system_hv.domains.qemu_version(name)
        assert running is not None
        assert running.version == expected
        if match.group(4):
            assert running.package == match.group(4)
        assert system_hv.hypervisor_version() == expected
    finally:
        try:
            system_hv.domains.delete(name)
        except NotFound:
            pass
    assert not system_hv.domains.exists(name)
