"""nwfilter XML built from firewall rules, parsed back, and filter names for VMs.

Layout of a generated filter (priorities: lower runs first)::

    <filter name='persona-web1' chain='root'>
      <filterref filter='clean-traffic'/>                 (clean_traffic=True)
      <rule action='accept' direction='out' priority='-900'>   DHCP request (allow_dhcp)
      <rule action='accept' direction='in'  priority='-900'>   DHCP reply
      ... the user's rules, priorities -899..999 ...
      <rule action='drop' direction='inout' priority='1000'><all/>       (policy drop)
      <rule action='drop' direction='inout' priority='1000'><all-ipv6/>
    </filter>

All rules are IP-level (iptables/ip6tables). ARP is layer 2 and no rule here touches it,
so ARP keeps working under a drop policy; ``clean_traffic`` adds libvirt's anti-spoofing
rules (needs the interface's ``IP`` parameter or libvirt's IP learning). The guest agent
uses a virtio-serial channel, not the network, so no rule is needed for it. Connection
tracking is libvirt's default: replies to accepted traffic pass.

Generated rules carry ``comment='persona:...'`` so the parser can tell them from the
user's. A rule without a CIDR is IPv4; an IPv6 CIDR makes an IPv6 rule, and a drop
policy drops IPv6 that no rule accepts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import xml.etree.ElementTree as ET

from . import validation as v
from ._xml import local, parse, sub, to_int, to_string
from .errors import InvalidSpec
from .types import FirewallRule, NWFilterSpec

DIRECTIONS = ("in", "out", "inout")
PROTOCOLS = ("tcp", "udp", "icmp", "all")
ACTIONS = ("accept", "drop", "reject")
POLICIES = ("accept", "drop")
MARK_DHCP = "persona:dhcp"
MARK_DEFAULT = "persona:default"
DHCP_PRIORITY = -900
DEFAULT_PRIORITY = 1000
RULE_PRIORITY_RANGE = (-899, 999)
_V6 = {"tcp": "tcp-ipv6", "udp": "udp-ipv6", "icmp": "icmpv6", "all": "all-ipv6"}
_FROM_ELEMENT = {**{p: (p, 4) for p in PROTOCOLS}, **{e: (p, 6) for p, e in _V6.items()}}


def filter_name_for(vm_name: str, *, prefix: str = "persona-") -> str:
    """A valid, stable nwfilter name for a VM; names that had to change get a hash suffix."""
    if not isinstance(vm_name, str) or not vm_name:
        raise InvalidSpec("a filter name needs a VM name")
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", vm_name).strip("-.")
    name = f"{prefix}{base}"
    if base != vm_name or len(name) > 64:
        digest = hashlib.sha256(vm_name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        keep = 64 - len(prefix) - len(digest) - 1
        name = (
            f"{prefix}{base[:keep].rstrip('-.')}-{digest}" if base[:keep] else f"{prefix}{digest}"
        )
    return v.check_filter_name(name)


def _network(cidr: str, what: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not isinstance(cidr, str):
        raise InvalidSpec(f"{what} must be a string")
    return v.check_cidr(cidr.strip(), what=what)


def _rule_element(parent: ET.Element, rule: FirewallRule, index: int) -> None:
    what = f"firewall rule {index}"
    v.check_choice(rule.direction, what=f"{what} direction", choices=DIRECTIONS)
    v.check_choice(rule.protocol, what=f"{what} protocol", choices=PROTOCOLS)
    v.check_choice(rule.action, what=f"{what} action", choices=ACTIONS)
    lo, hi = RULE_PRIORITY_RANGE
    priority = v.check_int(rule.priority, what=f"{what} priority", minimum=lo, maximum=hi)
    attrs: dict[str, object] = {}
    if rule.port is not None:
        if rule.protocol not in ("tcp", "udp"):
            raise InvalidSpec(f"{what}: ports only apply to tcp and udp")
        attrs["dstportstart"] = v.check_int(
            rule.port, what=f"{what} port", minimum=1, maximum=65535
        )
        if rule.port_end is not None:
            end = v.check_int(
                rule.port_end, what=f"{what} port range end", minimum=1, maximum=65535
            )
            if end < rule.port:
                raise InvalidSpec(f"{what}: port range ends before it starts")
            attrs["dstportend"] = end
    elif rule.port_end is not None:
        raise InvalidSpec(f"{what}: a port range end needs a start port")
    family = 4
    for field_name, prefix in (("source_cidr", "src"), ("dest_cidr", "dst")):
        value = getattr(rule, field_name)
        if value is None:
            continue
        net = _network(value, f"{what} {field_name.replace('_', ' ')}")
        if attrs.get("_family", net.version) != net.version:
            raise InvalidSpec(f"{what}: source and destination mix IPv4 and IPv6")
        attrs["_family"] = family = net.version
        # keep the address as written (iptables ignores host bits under the mask)
        attrs[f"{prefix}ipaddr"] = str(ipaddress.ip_interface(str(value).strip()).ip)
        if "/" in str(value):
            attrs[f"{prefix}ipmask"] = net.prefixlen
    attrs.pop("_family", None)
    if rule.comment is not None:
        comment = v.check_text(
            rule.comment, what=f"{what} comment", single_line=True, max_bytes=256
        )
        if comment.startswith("persona:"):
            raise InvalidSpec(f"{what}: comments starting with 'persona:' are reserved")
        attrs["comment"] = comment
    elem = sub(parent, "rule", action=rule.action, direction=rule.direction, priority=priority)
    tag = rule.protocol if family == 4 else _V6[rule.protocol]
    sub(elem, tag, **attrs)


def nwfilter_element(spec: NWFilterSpec) -> ET.Element:
    root = ET.Element("filter", name=v.check_filter_name(spec.name), chain="root")
    if spec.uuid is not None:
        sub(root, "uuid", v.check_uuid(spec.uuid, what="filter uuid"))
    v.check_choice(spec.default_policy, what="default policy", choices=POLICIES)
    if spec.clean_traffic:
        sub(root, "filterref", filter="clean-traffic")
    if spec.allow_dhcp:
        out = sub(root, "rule", action="accept", direction="out", priority=DHCP_PRIORITY)
        sub(out, "udp", srcportstart=68, dstportstart=67, comment=MARK_DHCP)
        back = sub(root, "rule", action="accept", direction="in", priority=DHCP_PRIORITY)
        sub(back, "udp", srcportstart=67, dstportstart=68, comment=MARK_DHCP)
    for index, rule in enumerate(spec.rules):
        _rule_element(root, rule, index)
    if spec.default_policy == "drop":
        for tag in ("all", "all-ipv6"):
            drop = sub(root, "rule", action="drop", direction="inout", priority=DEFAULT_PRIORITY)
            sub(drop, tag, comment=MARK_DEFAULT)
    return root


def nwfilter_xml(spec: NWFilterSpec) -> str:
    """Validate ``spec`` and return the nwfilter XML. Raises ``InvalidSpec``."""
    return to_string(nwfilter_element(spec))


def _cidr(addr: str | None, mask: str | None) -> str | None:
    if addr is None:
        return None
    return f"{addr}/{mask}" if mask is not None else addr


def _priority(text: str | None) -> int:
    value = to_int(text)
    return 500 if value is None else value


def parse_nwfilter_xml(xml: str) -> NWFilterSpec:
    root = parse(xml, what="nwfilter XML")
    spec = NWFilterSpec(
        name=root.get("name", ""),
        uuid=root.findtext("uuid"),
        default_policy="accept",
        allow_dhcp=False,
    )
    for child in root:
        tag = local(child.tag)
        if tag == "filterref" and child.get("filter") == "clean-traffic":
            spec.clean_traffic = True
        if tag != "rule" or len(child) == 0:
            continue
        proto_elem = child[0]
        comment = proto_elem.get("comment")
        if comment == MARK_DHCP:
            spec.allow_dhcp = True
            continue
        if comment == MARK_DEFAULT:
            spec.default_policy = "drop"
            continue
        protocol, _family = _FROM_ELEMENT.get(local(proto_elem.tag), (local(proto_elem.tag), 4))
        spec.rules.append(
            FirewallRule(
                direction=child.get("direction", "inout"),
                protocol=protocol,
                action=child.get("action", "accept"),
                port=to_int(proto_elem.get("dstportstart")),
                port_end=to_int(proto_elem.get("dstportend")),
                source_cidr=_cidr(proto_elem.get("srcipaddr"), proto_elem.get("srcipmask")),
                dest_cidr=_cidr(proto_elem.get("dstipaddr"), proto_elem.get("dstipmask")),
                priority=_priority(child.get("priority")),
                comment=comment,
            )
        )
    return spec
