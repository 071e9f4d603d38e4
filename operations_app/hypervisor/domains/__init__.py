"""``hv.domains``: everything about one domain, addressed by name.

The facet is composed of one part per topic, each in its own module:

- ``lifecycle``: lookups, define, start, stop, undefine and the product metadata;
- ``devices``: attach and detach disks and interfaces;
- ``tuning``: CPU, memory and disk I/O limits;
- ``stats``: statistics samples of running domains;
- ``emulator``: the QEMU version a running domain's process runs;
- ``migration``: ``migrate`` and ``settle_job`` (a background job left behind).
"""

from __future__ import annotations

from .devices import DomainDevices
from .emulator import DomainEmulator, QemuVersion, parse_query_version
from .lifecycle import DomainLifecycle
from .migration import DomainMigration
from .stats import DomainStatistics
from .tuning import DomainTuning


class Domains(
    DomainLifecycle,
    DomainDevices,
    DomainTuning,
    DomainStatistics,
    DomainMigration,
    DomainEmulator,
):
    """``hv.domains``: everything about one domain, addressed by name."""


__all__ = ["Domains", "QemuVersion", "parse_query_version"]
