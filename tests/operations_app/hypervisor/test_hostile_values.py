"""Hostile names and values fed to every XML builder.

For each builder: either the input breaks a documented rule and ``InvalidSpec`` is raised,
or the document parses back to exactly the input and has exactly the elements the same
spec with harmless values would have (nothing injected). The domain and metadata cases
also go through libvirt (test driver) and back.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operations_app.hypervisor import (
    BootSpec,
    DhcpHost,
    DiskSpec,
    DomainMetadata,
    DomainSpec,
    FirewallRule,
    Hypervisor,
    InterfaceSpec,
    InvalidSpec,
    NetworkSpec,
    NWFilterSpec,
    dhcp_host_xml,
    domain_xml,
    metadata_xml,
    network_xml,
    nwfilter_xml,
    parse_domain_xml,
    parse_metadata_xml,
    parse_network_xml,
    parse_nwfilter_xml,
    parse_snapshot_xml,
    secret_xml,
    snapshot_xml,
    volume_xml,
)
from operations_app.hypervisor.storagexml import parse_secret_xml, parse_volume_xml

SPECIALS = [
    "<",
    ">",
    "'",
    '"',
    "&",
    "]]>",
    "<![CDATA[x]]>",
    "</name><evil/>",
    "' evil='1",
    '" evil="1',
    "&amp;",
    "&#x3c;",
    "<!--",
    "\n",
    "\t",
    "\r",
    "\x00",
    "\x1b",
    "\ufffe",
    "é",
    "😀",
    "\u202e",
    " ",
    "/",
    "..",
    "a",
    "Z9",
    "-",
    "_",
    ".",
]
hostile = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.lists(st.sampled_from(SPECIALS), min_size=1, max_size=6).map("".join),
)
paths = hostile.map(lambda s: "/" + s)

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


def xml_ok(s: str) -> bool:
    return not _NOT_XML.search(s)


def line_ok(s: str) -> bool:
    return xml_ok(s) and not _CONTROL.search(s)


def path_ok(s: str) -> bool:
    return line_ok(s) and s.startswith("/") and len(s) > 1


def name_ok(s: str, max_len: int = 64) -> bool:
    return bool(_NAME.match(s)) and len(s) <= max_len


def filter_name_ok(s: str) -> bool:
    """nwfilter names are also XML names: no leading digit, dot or dash."""
    return name_ok(s) and (s[0].isalpha() or s[0] == "_")


def shape(xml: str) -> list[tuple[str, tuple[str, ...]]]:
    """Tags and attribute names of every element, in document order."""
    return [(e.tag, tuple(sorted(e.attrib))) for e in ET.fromstring(xml).iter()]


def tame(value):
    """The same dataclass with every string replaced by a harmless one of the same kind."""
    if isinstance(value, str):
        if re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            return value  # already harmless (keeps qemu, virtio, x86_64, hd, ...)
        return "/a" if value.startswith("/") else "a"
    if isinstance(value, list):
        return [tame(v) for v in value]
    if isinstance(value, dict):
        return {f"k{i}": tame(v) for i, v in enumerate(value.values())}
    if dataclasses.is_dataclass(value):
        return dataclasses.replace(
            value, **{f.name: tame(getattr(value, f.name)) for f in dataclasses.fields(value)}
        )
    return value


metadata_strategy = st.builds(
    DomainMetadata,
    profile=st.none() | hostile,
    profile_version=st.none() | st.integers(0, 10**6),
    content_hash=st.none() | hostile,
    execution_flags=st.lists(hostile, max_size=3),
    job_id=st.none() | hostile,
    labels=st.dictionaries(hostile, hostile, max_size=3),
)


def metadata_ok(md: DomainMetadata) -> bool:
    texts = [
        md.profile,
        md.content_hash,
        md.job_id,
        *md.execution_flags,
        *md.labels,
        *md.labels.values(),
    ]
    return all(t is None or xml_ok(t) for t in texts)


@settings(max_examples=300, deadline=None)
@given(md=metadata_strategy)
def test_metadata_builder(md):
    if not metadata_ok(md):
        try:
            metadata_xml(md)
        except InvalidSpec:
            return
        raise AssertionError("a value XML cannot carry was accepted")
    xml = metadata_xml(md)
    assert parse_metadata_xml(xml) == md
    # labels are keyed by strings: tame() renames keys, so compare against a tamed copy
    assert shape(xml) == shape(metadata_xml(tame(md)))


domain_strategy = st.builds(
    DomainSpec,
    name=st.one_of(hostile, st.just("pt-hostile")),
    description=st.none() | hostile,
    boot=st.builds(BootSpec, kernel=paths, initrd=st.none() | paths, cmdline=st.none() | hostile),
    disks=st.lists(st.builds(DiskSpec, target=st.just("vda"), path=paths), min_size=0, max_size=1),
    interfaces=st.lists(
        st.builds(
            InterfaceSpec,
            network=st.one_of(hostile, st.just("default")),
            filter=st.just("persona-f"),
            filter_parameters=st.dictionaries(st.just("IP"), hostile, max_size=1),
        ),
        max_size=1,
    ),
    serial_log=st.none() | paths,
    metadata=st.none() | metadata_strategy,
)


def domain_ok(spec: DomainSpec) -> bool:
    paths = [spec.boot.kernel, spec.boot.initrd, spec.serial_log, *(d.path for d in spec.disks)]
    values = [v for n in spec.interfaces for v in n.filter_parameters.values()]
    return (
        name_ok(spec.name)
        and all(p is None or path_ok(p) for p in paths)
        and (spec.boot.cmdline is None or line_ok(spec.boot.cmdline))
        and all(re.fullmatch(r"[A-Za-z0-9_.:]+", v) for v in values)
        and all(name_ok(n.network) for n in spec.interfaces)
        and (
            spec.description is None or (xml_ok(spec.description) and "\r" not in spec.description)
        )
        and (spec.metadata is None or metadata_ok(spec.metadata))
    )


def normalised(spec: DomainSpec) -> DomainSpec:
    """An empty description or command line is the same as none."""
    boot = dataclasses.replace(spec.boot, cmdline=spec.boot.cmdline or None)
    return dataclasses.replace(spec, description=spec.description or None, boot=boot)


@settings(max_examples=300, deadline=None)
@given(spec=domain_strategy)
def test_domain_builder(spec):
    if not domain_ok(spec):
        try:
            domain_xml(spec)
        except InvalidSpec:
            return
        raise AssertionError(f"an invalid value was accepted: {spec!r}")
    xml = domain_xml(spec)
    assert parse_domain_xml(xml) == normalised(spec)
    tamed = tame(spec)
    tamed.name = "pt-tame"
    tamed.description = None if not spec.description else "a"
    tamed.boot.cmdline = spec.boot.cmdline and "a"
    tamed.interfaces = [dataclasses.replace(n, network="default") for n in tamed.interfaces]
    for nic, original in zip(tamed.interfaces, spec.interfaces, strict=True):
        nic.filter = "persona-f"
        nic.filter_parameters = dict(original.filter_parameters)
    assert shape(xml) == shape(domain_xml(tamed))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=domain_strategy)
def test_domain_through_libvirt(spec):
    """What libvirt stores and gives back is what we meant."""
    if not domain_ok(spec):
        return
    spec = normalised(dataclasses.replace(spec, name="pt-hostile-roundtrip"))
    with Hypervisor.connect("test:///default", keepalive_interval=None) as hv:
        hv.domains.define(spec)
        try:
            back = hv.domains.spec(spec.name, inactive=True)
            md = hv.domains.get_metadata(spec.name)
        finally:
            hv.domains.delete(spec.name)
    back.uuid = None
    for nic in back.interfaces:
        nic.mac = None  # libvirt assigns one
    assert back == spec
    assert md == spec.metadata


@settings(max_examples=200, deadline=None)
@given(name=hostile, bridge=st.none() | hostile, host_name=st.none() | hostile)
def test_network_builder(name, bridge, host_name):
    spec = NetworkSpec(
        name=name,
        bridge=bridge,
        ipv4_address="10.9.0.1",
        dhcp_hosts=[DhcpHost(mac="52:54:00:00:00:01", ip="10.9.0.9", name=host_name)],
    )
    bridge_ok = bridge is None or re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", bridge)
    host_ok = host_name is None or re.fullmatch(
        r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", host_name
    )
    if not (name_ok(name) and bridge_ok and host_ok):
        try:
            network_xml(spec)
        except InvalidSpec:
            return
        raise AssertionError("an invalid network was accepted")
    xml = network_xml(spec)
    assert parse_network_xml(xml) == spec
    assert len(list(ET.fromstring(xml).iter())) == 5 + (bridge is not None)
    assert ET.fromstring(dhcp_host_xml(spec.dhcp_hosts[0])).attrib["mac"] == "52:54:00:00:00:01"


@settings(max_examples=200, deadline=None)
@given(name=hostile, comment=st.none() | hostile, cidr=st.none() | hostile)
def test_nwfilter_builder(name, comment, cidr):
    rule = FirewallRule(direction="in", protocol="tcp", port=22, comment=comment, source_cidr=cidr)
    spec = NWFilterSpec(name=name, rules=[rule])
    try:
        xml = nwfilter_xml(spec)
    except InvalidSpec:
        comment_ok = comment is None or (
            line_ok(comment) and len(comment) <= 256 and not comment.startswith("persona:")
        )
        assert not (filter_name_ok(name) and comment_ok and cidr is None)
        return
    assert filter_name_ok(name)
    back = parse_nwfilter_xml(xml)
    assert back.name == name and back.rules[0].comment == comment
    # 1 filter + 2 DHCP rules + 1 user rule + 2 default rules, each rule with one child
    assert len(list(ET.fromstring(xml).iter())) == 1 + 2 * 5


@settings(max_examples=200, deadline=None)
@given(name=hostile, base=paths, description=st.none() | hostile)
def test_storage_builders(name, base, description):
    try:
        xml = volume_xml(name, capacity_bytes=None, backing_path=base)
    except InvalidSpec:
        assert not (name_ok(name, 255) and path_ok(base))
    else:
        info = parse_volume_xml(xml)
        assert (info.name, info.backing_path) == (name, base)
        assert shape(xml) == shape(volume_xml("a", capacity_bytes=None, backing_path="/a"))
    try:
        xml = secret_xml(usage_id=base, description=description)
    except InvalidSpec:
        assert not (
            path_ok(base)
            and (description is None or (line_ok(description) and len(description) <= 1024))
        )
    else:
        parsed = parse_secret_xml(xml)
        assert (parsed["usage_id"], parsed["description"]) == (base, description)


@settings(max_examples=200, deadline=None)
@given(
    name=hostile,
    description=st.none() | hostile,
    labels=st.dictionaries(hostile, hostile, max_size=3),
)
def test_snapshot_builder(name, description, labels):
    try:
        xml = snapshot_xml(name, description=description, labels=labels)
    except InvalidSpec:
        texts_ok = all(xml_ok(t) for t in [*labels, *labels.values()])
        plain_ok = (
            labels or description is None or (xml_ok(description) and "\r" not in description)
        )
        assert not (name_ok(name) and texts_ok and plain_ok)
        return
    info = parse_snapshot_xml(xml, domain="d")
    assert info.name == name and info.labels == labels
    assert info.description == (description or None if not labels else description)
    assert [e.tag for e in ET.fromstring(xml).iter()] in (
        ["domainsnapshot", "name"],
        ["domainsnapshot", "name", "description"],
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(md=metadata_strategy)
def test_metadata_through_libvirt(md):
    if not metadata_ok(md):
        return
    with Hypervisor.connect("test:///default", keepalive_interval=None) as hv:
        name = "pt-hostile-metadata"
        hv.domains.define(DomainSpec(name=name))
        try:
            hv.domains.set_metadata(name, md)
            assert hv.domains.get_metadata(name) == md
            assert hv.domains.spec(name, inactive=True).metadata == md
        finally:
            hv.domains.delete(name)
