"""Network filters (``hv.nwfilters``): a domain's firewall rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._serde import JsonMixin


@dataclass
class FirewallRule(JsonMixin):
    """One rule. ``direction`` is seen from the guest: ``in`` is traffic to it.

    ``port``/``port_end`` are the destination port (range) of the packet; for ``in`` rules
    that is the guest's port, for ``out`` rules the remote one. Lower ``priority`` first.
    """

    direction: str
    protocol: str = "all"
    action: str = "accept"
    port: int | None = None
    port_end: int | None = None
    source_cidr: str | None = None
    dest_cidr: str | None = None
    priority: int = 500
    comment: str | None = None


@dataclass
class NWFilterSpec(JsonMixin):
    """A libvirt nwfilter built from firewall rules.

    ``default_policy='drop'`` drops IPv4 and IPv6 traffic no rule accepted. ARP is
    never touched by these IP-level rules; ``allow_dhcp`` keeps DHCP working;
    ``clean_traffic`` also references libvirt's anti-spoofing ``clean-traffic`` filter.
    """

    name: str
    rules: list[FirewallRule] = field(default_factory=list)
    default_policy: str = "drop"
    allow_dhcp: bool = True
    clean_traffic: bool = False
    uuid: str | None = None
