"""Interfaces (names, MACs, IPv4 addresses and gateways) and firewall rules."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from profiles_app.jsondoc.errors import DocumentError, pointer, show
from profiles_app.vppd.checks.common import as_dict, as_list, is_int, unique
from profiles_app.vppd.checks.text import xml_text_problem

# libvirt keeps at most this many bytes (UTF-8) of an nwfilter rule's comment.
MAX_COMMENT_BYTES = 256
# Comments the clone generates itself start with this (nwfilterxml.MARK_*).
RESERVED_COMMENT_PREFIX = "persona:"


def _check_ipv4(config: dict, base: tuple[object, ...]) -> Iterator[DocumentError]:
    address = config.get("address")
    if not isinstance(address, str):
        return
    try:
        interface = ipaddress.IPv4Interface(address)
    except ValueError as exc:
        yield DocumentError(
            pointer((*base, "address")), f"{show(address)} is not a valid IPv4 address: {exc}"
        )
        return
    ip, net = interface.ip, interface.network
    has_special = net.prefixlen <= 30  # /31 and /32 have no network or broadcast address
    if has_special and ip == net.network_address:
        yield DocumentError(
            pointer((*base, "address")),
            f"{ip} is the network address of {net}; use a host address",
        )
    if has_special and ip == net.broadcast_address:
        yield DocumentError(
            pointer((*base, "address")),
            f"{ip} is the broadcast address of {net}; use a host address",
        )
    gateway = config.get("gateway")
    if not isinstance(gateway, str):
        return
    try:
        gw = ipaddress.IPv4Address(gateway)
    except ValueError:
        return  # reported by the schema's format check
    at = pointer((*base, "gateway"))
    if gw not in net:
        yield DocumentError(at, f"gateway {gw} is outside the interface's subnet {net}")
    elif gw == ip:
        yield DocumentError(at, f"gateway {gw} is the interface's own address")
    elif has_special and gw in (net.network_address, net.broadcast_address):
        kind = "network" if gw == net.network_address else "broadcast"
        yield DocumentError(at, f"gateway {gw} is the {kind} address of {net}")


def _check_cidr(value: Any, at: str) -> Iterator[DocumentError]:
    if not isinstance(value, str):
        return
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            yield DocumentError(at, f"{show(value)} is not a valid IP address or network: {exc}")
        else:
            yield DocumentError(at, f"{show(value)} has host bits set; did you mean {loose}?")


def _check_comment(comment: Any, at: str) -> Iterator[DocumentError]:
    if not isinstance(comment, str):
        return
    size = len(comment.encode("utf-8", "surrogatepass"))
    if size > MAX_COMMENT_BYTES:
        yield DocumentError(
            at, f"must be at most {MAX_COMMENT_BYTES} bytes in UTF-8; this one is {size} bytes"
        )
    problem = xml_text_problem(comment, single_line=True)
    if problem:
        yield DocumentError(at, problem)
    if comment.startswith(RESERVED_COMMENT_PREFIX):
        yield DocumentError(
            at,
            f"comments starting with {RESERVED_COMMENT_PREFIX!r} are reserved for the rules "
            "VM Persona adds itself",
        )


def check_network(doc: dict, **_: Any) -> Iterator[DocumentError]:
    network = as_dict(doc.get("network_configuration"))
    interfaces = as_list(network.get("interfaces"))
    base = ("network_configuration", "interfaces")
    yield from unique(interfaces, "name", base, "interface name")
    yield from unique(interfaces, "mac", base, "MAC address", normalize=lambda v: str(v).lower())
    for index, interface in enumerate(interfaces):
        interface = as_dict(interface)
        mac = interface.get("mac")
        if isinstance(mac, str) and re.fullmatch(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}", mac):
            at = pointer((*base, index, "mac"))
            if int(mac[:2], 16) & 1:
                yield DocumentError(
                    at, f"{mac} is a multicast address; the lowest bit of the first octet must be 0"
                )
            elif int(mac.replace(":", ""), 16) == 0:
                yield DocumentError(at, "00:00:00:00:00:00 is not a usable MAC address")
        yield from _check_ipv4(as_dict(interface.get("ipv4")), (*base, index, "ipv4"))

    rules_base = ("network_configuration", "firewall_rules")
    for index, rule in enumerate(as_list(network.get("firewall_rules"))):
        rule = as_dict(rule)
        for field in ("source", "destination"):
            yield from _check_cidr(rule.get(field), pointer((*rules_base, index, field)))
        protocol = rule.get("protocol")
        for field in ("port", "port_range"):
            if field in rule and protocol in ("icmp", "all"):
                yield DocumentError(
                    pointer((*rules_base, index, field)),
                    f"ports apply only to tcp and udp rules, not {show(protocol)}",
                )
        yield from _check_comment(rule.get("comment"), pointer((*rules_base, index, "comment")))
        port_range = as_dict(rule.get("port_range"))
        low, high = port_range.get("from"), port_range.get("to")
        if is_int(low) and is_int(high) and low > high:
            yield DocumentError(
                pointer((*rules_base, index, "port_range")),
                f"from ({low}) must not be greater than to ({high})",
            )
