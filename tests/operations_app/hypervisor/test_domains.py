"""Domain operations against libvirt's in-process test driver."""

from __future__ import annotations

import pytest

from operations_app.hypervisor import (
    AlreadyExists,
    BootSpec,
    DiskSpec,
    DomainMetadata,
    DomainSpec,
    DomainState,
    InterfaceSpec,
    InvalidSpec,
    InvalidState,
    NotFound,
    OperationTimeout,
    Tunables,
    Unsupported,
)


def make_spec(name: str, **kwargs) -> DomainSpec:
    defaults = dict(
        name=name,
        memory_mib=128,
        boot=BootSpec(kernel="/boot/vmlinuz", cmdline="console=ttyS0"),
        disks=[DiskSpec(target="vda", path=f"/default-pool/{name}.qcow2")],
        interfaces=[InterfaceSpec(network="default", mac="52:54:00:10:20:30")],
        serial_log=f"/tmp/{name}.serial.log",
        metadata=DomainMetadata(profile="web", profile_version=2, job_id="17"),
        tunables=Tunables(cpu_shares=512, memory_hard_limit_mib=256),
    )
    defaults.update(kwargs)
    return DomainSpec(**defaults)


def test_define_start_destroy_undefine(test_hv, reaper, name):
    dom = reaper.domain(name())
    info = test_hv.domains.define(make_spec(dom))
    assert info.name == dom and info.state == DomainState.SHUTOFF and info.persistent
    assert info.managed and info.metadata.profile == "web"

    started = test_hv.domains.start(dom)
    assert started.state == DomainState.RUNNING and started.id is not None
    assert test_hv.domains.state(dom) == DomainState.RUNNING

    test_hv.domains.destroy(dom)
    assert test_hv.domains.state(dom) == DomainState.SHUTOFF
    test_hv.domains.destroy(dom)  # no-op when already off

    test_hv.domains.undefine(dom)
    assert not test_hv.domains.exists(dom)


def test_spec_read_back_from_libvirt(test_hv, reaper, name):
    dom = reaper.domain(name())
    spec = make_spec(dom)
    test_hv.domains.define(spec)
    back = test_hv.domains.spec(dom, inactive=True)
    # libvirt fills in the uuid; everything we set comes back unchanged
    assert back.uuid is not None
    back.uuid = None
    assert back == spec


def test_lookup_by_uuid(test_hv, reaper, name):
    dom = reaper.domain(name())
    info = test_hv.domains.define(make_spec(dom))
    assert test_hv.domains.lookup_uuid(info.uuid).name == dom


def test_define_refuses_duplicate_unless_replace(test_hv, reaper, name):
    dom = reaper.domain(name())
    test_hv.domains.define(make_spec(dom))
    with pytest.raises(AlreadyExists, match=dom):
        test_hv.domains.define(make_spec(dom))
    updated = test_hv.domains.define(make_spec(dom, vcpus=2), replace=True)
    assert updated.vcpus == 2


def test_list_separates_managed_from_unmanaged(test_hv, reaper, name):
    managed = reaper.domain(name())
    unmanaged = reaper.domain(name())
    test_hv.domains.define(make_spec(managed))
    test_hv.domains.define(make_spec(unmanaged, metadata=None))
    everything = {d.name: d for d in test_hv.domains.list()}
    assert everything[managed].managed and not everything[unmanaged].managed
    assert "test" in everything  # the driver's own domain, never ours
    managed_only = [d.name for d in test_hv.domains.list(managed_only=True)]
    assert managed in managed_only and unmanaged not in managed_only and "test" not in managed_only


def test_set_metadata_live_and_config(test_hv, reaper, name):
    dom = reaper.domain(name())
    test_hv.domains.define(make_spec(dom, metadata=None))
    assert test_hv.domains.get_metadata(dom) is None
    md = DomainMetadata(
        profile="db", profile_version=5, content_hash="sha256:ff", execution_flags=["Testing"]
    )
    test_hv.domains.set_metadata(dom, md)
    assert test_hv.domains.get_metadata(dom) == md
    test_hv.domains.start(dom)
    md.job_id = "99"
    test_hv.domains.set_metadata(dom, md)
    assert test_hv.domains.get_metadata(dom) == md
    assert test_hv.domains.spec(dom, inactive=True).metadata == md
    test_hv.domains.set_metadata(dom, None)
    assert test_hv.domains.get_metadata(dom) is None
    assert not test_hv.domains.lookup(dom).managed


def test_missing_domain_is_not_found(test_hv):
    for call in (
        lambda: test_hv.domains.lookup("pt-missing"),
        lambda: test_hv.domains.start("pt-missing"),
        lambda: test_hv.domains.state("pt-missing"),
        lambda: test_hv.domains.xml("pt-missing"),
        lambda: test_hv.domains.undefine("pt-missing"),
    ):
        with pytest.raises(NotFound) as info:
            call()
        assert "pt-missing" in str(info.value)
        assert "Traceback" not in str(info.value)
    assert test_hv.domains.delete("pt-missing") is False
    with pytest.raises(NotFound):
        test_hv.domains.delete("pt-missing", missing_ok=False)


def test_start_twice_is_invalid_state(test_hv, reaper, name):
    dom = reaper.domain(name())
    test_hv.domains.define(make_spec(dom))
    test_hv.domains.start(dom)
    with pytest.raises(InvalidState, match="already"):
        test_hv.domains.start(dom)


def test_invalid_spec_never_reaches_libvirt(test_hv, name):
    bad = make_spec(name(), vcpus=0)
    with pytest.raises(InvalidSpec):
        test_hv.domains.define(bad)
    assert not test_hv.domains.exists(bad.name)


def test_shutdown_and_wait(test_hv, reaper, name):
    dom = reaper.domain(name())
    test_hv.domains.define(make_spec(dom))
    assert test_hv.domains.shutdown(dom, timeout=2) == "already-off"
    test_hv.domains.start(dom)
    # the test driver powers off at once on a shutdown request
    assert test_hv.domains.shutdown(dom, timeout=5) == "shutdown"
    assert test_hv.domains.state(dom) == DomainState.SHUTOFF
    with pytest.raises(InvalidSpec):
        test_hv.domains.shutdown(dom, mode="magic")


def test_wait_for_state_times_out(test_hv, reaper, name):
    dom = reaper.domain(name())
    test_hv.domains.define(make_spec(dom))
    with pytest.raises(OperationTimeout, match="within 0.3s"):
        test_hv.domains.wait_for_state(dom, [DomainState.RUNNING], timeout=0.3, interval=0.05)


def test_hotplug_unsupported_by_driver_is_reported(test_hv, reaper, name):
    """The test driver has no device hot-plug (the integration tests exercise it)."""
    dom = reaper.domain(name())
    test_hv.domains.define(make_spec(dom))
    with pytest.raises(Unsupported, match="not supported"):
        test_hv.domains.attach_disk(dom, DiskSpec(target="vdb", path="/default-pool/extra.qcow2"))
    with pytest.raises(NotFound, match="vdz"):
        test_hv.domains.detach_disk(dom, "vdz")
    with pytest.raises(InvalidSpec):
        test_hv.domains.attach_disk(dom, DiskSpec(target="bogus", path="/x"))


def test_stats_sample(test_hv, reaper, name):
    dom = reaper.domain(name())
    test_hv.domains.define(make_spec(dom))
    test_hv.domains.start(dom)
    [sample] = test_hv.domains.stats([dom])
    assert sample.name == dom and sample.state == DomainState.RUNNING
    assert sample.timestamp > 0
    everyone = {s.name for s in test_hv.domains.stats()}
    assert dom in everyone


def test_undefine_running_domain_leaves_it_transient(test_hv, reaper, name):
    dom = reaper.domain(name())
    test_hv.domains.define(make_spec(dom))
    test_hv.domains.start(dom)
    test_hv.domains.undefine(dom)
    info = test_hv.domains.lookup(dom)
    assert not info.persistent and info.state == DomainState.RUNNING
    assert test_hv.domains.delete(dom)
    assert not test_hv.domains.exists(dom)
