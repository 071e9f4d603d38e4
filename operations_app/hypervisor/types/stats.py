"""Statistics read from libvirt's typed parameters: domain samples and a migration's
progress and result."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._serde import JsonMixin
from .domains import DomainState


@dataclass
class BlockStats(JsonMixin):
    name: str
    path: str | None = None
    rd_bytes: int = 0
    wr_bytes: int = 0
    rd_reqs: int = 0
    wr_reqs: int = 0
    capacity_bytes: int | None = None
    allocation_bytes: int | None = None


@dataclass
class NetStats(JsonMixin):
    name: str
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_pkts: int = 0
    tx_pkts: int = 0
    rx_drop: int = 0
    tx_drop: int = 0


@dataclass
class DomainStats(JsonMixin):
    """One sample from ``getAllDomainStats``; counters are cumulative since domain start."""

    name: str
    uuid: str
    state: DomainState
    timestamp: float
    cpu_time_ns: int | None = None
    vcpus: int | None = None
    balloon_current_kib: int | None = None
    balloon_maximum_kib: int | None = None
    balloon_rss_kib: int | None = None
    balloon_unused_kib: int | None = None
    balloon_available_kib: int | None = None
    block: list[BlockStats] = field(default_factory=list)
    net: list[NetStats] = field(default_factory=list)


def stat_int(raw: dict, key: str) -> int | None:
    """A numeric libvirt statistic as an int, None when it was not reported."""
    value = raw.get(key)
    return int(value) if isinstance(value, int | float) else None


@dataclass
class MigrationProgress(JsonMixin):
    """A running migration's statistics (libvirt's ``jobStats``), None where not reported."""

    elapsed_ms: int | None = None
    data_total_bytes: int | None = None
    data_processed_bytes: int | None = None
    data_remaining_bytes: int | None = None
    memory_processed_bytes: int | None = None
    disk_processed_bytes: int | None = None
    disk_total_bytes: int | None = None

    def done_and_total(self) -> tuple[int | None, int | None]:
        """(bytes moved, bytes to move). While the disks are mirrored libvirt may report
        no data total yet; the disk figures stand in then."""
        if self.data_total_bytes:
            return self.data_processed_bytes, self.data_total_bytes
        done = (self.disk_processed_bytes or 0) + (self.memory_processed_bytes or 0)
        return done, self.disk_total_bytes or None

    @classmethod
    def from_stats(cls, raw: dict) -> MigrationProgress:
        def get(key: str) -> int | None:
            return stat_int(raw, key)

        return cls(
            elapsed_ms=get("time_elapsed"),
            data_total_bytes=get("data_total"),
            data_processed_bytes=get("data_processed"),
            data_remaining_bytes=get("data_remaining"),
            memory_processed_bytes=get("memory_processed"),
            disk_processed_bytes=get("disk_processed"),
            disk_total_bytes=get("disk_total"),
        )


@dataclass
class MigrationResult(JsonMixin):
    """Completed-job statistics of a migration (None where libvirt did not report them)."""

    domain: str
    dest_uri: str
    elapsed_ms: int
    downtime_ms: int | None = None
    total_ms: int | None = None
    data_total_bytes: int | None = None
    data_processed_bytes: int | None = None
    memory_processed_bytes: int | None = None
    disk_processed_bytes: int | None = None
    raw: dict[str, int | float | str] = field(default_factory=dict)
