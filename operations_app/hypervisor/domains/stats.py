"""Sampling domains: one statistics record per domain (CPU time, balloon, block and
network counters) from libvirt's bulk statistics call.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import libvirt

from .._facet import Facet
from ..types import BlockStats, DomainStats, NetStats, stat_int
from ..validation import check_name
from ._common import domain_state

_STATS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_VCPU
    | libvirt.VIR_DOMAIN_STATS_BLOCK
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
)


class DomainStatistics(Facet):
    """Sample the statistics of running domains."""

    # ------------------------------------------------------------------ metrics

    def stats(self, names: Iterable[str] | None = None) -> list[DomainStats]:
        """One sample per domain (all active ones, or ``names``) from getAllDomainStats."""
        wanted = None if names is None else [check_name(n, what="domain name") for n in names]

        def run(conn: libvirt.virConnect) -> list[tuple[libvirt.virDomain, dict]]:
            if wanted is None:
                return conn.getAllDomainStats(
                    _STATS, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE
                )
            doms = [conn.lookupByName(n) for n in wanted]
            return conn.domainListGetStats(doms, _STATS, 0) if doms else []

        now = time.time()
        return [
            _parse_stats(dom.name(), dom.UUIDString(), raw, now)
            for dom, raw in self._call("read domain statistics", run)
        ]


def _parse_stats(name: str, uuid: str, raw: dict, now: float) -> DomainStats:
    def get(key: str) -> int | None:
        return stat_int(raw, key)

    stats = DomainStats(
        name=name,
        uuid=uuid,
        state=domain_state(get("state.state") or 0),
        timestamp=now,
        cpu_time_ns=get("cpu.time"),
        vcpus=get("vcpu.current"),
        balloon_current_kib=get("balloon.current"),
        balloon_maximum_kib=get("balloon.maximum"),
        balloon_rss_kib=get("balloon.rss"),
        balloon_unused_kib=get("balloon.unused"),
        balloon_available_kib=get("balloon.available"),
    )
    for i in range(get("block.count") or 0):
        p = f"block.{i}."
        stats.block.append(
            BlockStats(
                name=str(raw.get(p + "name", "")),
                path=raw.get(p + "path"),
                rd_bytes=get(p + "rd.bytes") or 0,
                wr_bytes=get(p + "wr.bytes") or 0,
                rd_reqs=get(p + "rd.reqs") or 0,
                wr_reqs=get(p + "wr.reqs") or 0,
                capacity_bytes=get(p + "capacity"),
                allocation_bytes=get(p + "allocation"),
            )
        )
    for i in range(get("net.count") or 0):
        p = f"net.{i}."
        stats.net.append(
            NetStats(
                name=str(raw.get(p + "name", "")),
                rx_bytes=get(p + "rx.bytes") or 0,
                tx_bytes=get(p + "tx.bytes") or 0,
                rx_pkts=get(p + "rx.pkts") or 0,
                tx_pkts=get(p + "tx.pkts") or 0,
                rx_drop=get(p + "rx.drop") or 0,
                tx_drop=get(p + "tx.drop") or 0,
            )
        )
    return stats
