"""Migrating a domain and ending its background job: ``migrate`` (with a deadline,
progress and the completed job's statistics) and ``settle_job`` (a migration a dead
client left behind).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import libvirt

from .._facet import Facet
from ..errors import HypervisorError, OperationAborted, OperationTimeout
from ..types import MigrationProgress, MigrationResult, stat_int

logger = logging.getLogger(__name__)


class DomainMigration(Facet):
    """Migrate a domain; settle a background job left behind."""

    # ------------------------------------------------------------------ migration

    def settle_job(self, name: str, *, grace_s: float = 0, wait_s: float = 600) -> str | None:
        """Wait until the domain's background job (a migration left behind by a client
        that died) has ended, aborting it if it still runs after ``grace_s``.

        Returns None when no job was running, ``"ended"`` when it ended on its own within
        the grace period, ``"aborted"`` when it was aborted. Either way libvirt has
        released the domain when this returns: a migration holds the domain's
        state-change lock through its closing phases (telling the destination to clean
        up, then confirming) while it already reports itself cancelled or completed, so
        this waits until libvirt reports no job at all. Letting a migration finish is
        the gentler end: cancelling one that is mirroring disks can leave libvirt 9's
        migration thread waiting forever for the mirror's end. Raises
        ``OperationTimeout`` when the job is still there ``wait_s`` after the abort."""
        idle = libvirt.VIR_DOMAIN_JOB_NONE
        running = (libvirt.VIR_DOMAIN_JOB_BOUNDED, libvirt.VIR_DOMAIN_JOB_UNBOUNDED)

        def current(dom: libvirt.virDomain) -> int | None:
            """The job type libvirt reports; None while the domain is too busy to say."""
            try:
                return dom.jobInfo()[0]
            except libvirt.libvirtError as exc:
                if exc.get_error_code() in (
                    libvirt.VIR_ERR_NO_DOMAIN,  # it went away, and its job with it
                    libvirt.VIR_ERR_OPERATION_INVALID,  # not running: e.g. migrated away
                ):
                    return idle
                if exc.get_error_code() == libvirt.VIR_ERR_OPERATION_TIMEOUT:
                    return None
                raise

        def run(conn: libvirt.virConnect) -> str | None:
            dom = conn.lookupByName(name)
            kind = current(dom)
            if kind == idle:
                return None
            started = time.monotonic()
            aborted_at: float | None = None
            last_abort = -math.inf
            while kind != idle:
                now = time.monotonic()
                if aborted_at is not None and now - aborted_at >= wait_s:
                    raise OperationTimeout(
                        f"libvirt still runs a job on domain {name!r} {wait_s:.0f} s after "
                        "it was asked to abort it",
                        timeout=wait_s,
                        operation=f"abort the job of domain {name!r}",
                    )
                if kind in running and now - started >= grace_s and now - last_abort >= 5:
                    last_abort = now
                    aborted_at = aborted_at if aborted_at is not None else now
                    try:
                        dom.abortJob()
                    except libvirt.libvirtError as exc:
                        # It ended meanwhile, or is in a phase that cannot be cancelled:
                        # either way it finishes on its own.
                        if exc.get_error_code() not in (
                            libvirt.VIR_ERR_OPERATION_INVALID,
                            libvirt.VIR_ERR_OPERATION_FAILED,
                        ):
                            raise
                time.sleep(0.2)
                kind = current(dom)
            outcome = "ended" if aborted_at is None else "aborted"
            logger.info(
                "the job on domain %r %s; libvirt released the domain after %.1f s",
                name,
                outcome,
                time.monotonic() - started,
            )
            return outcome

        return self._call(f"wait for the job of domain {name!r} to end", run)

    def migrate(
        self,
        name: str,
        *,
        dest_uri: str,
        live: bool = True,
        p2p: bool = True,
        copy_storage_all: bool = False,
        persistent: bool = True,
        undefine_source: bool = True,
        dest_xml: str | None = None,
        bandwidth_mibps: int | None = None,
        migrate_uri: str | None = None,
        timeout: float | None = None,
        progress: Callable[[MigrationProgress], bool | None] | None = None,
    ) -> MigrationResult:
        """Migrate ``name`` to ``dest_uri`` and return the completed job's statistics.

        ``migrate_uri`` is the data channel (e.g. ``tcp://127.0.0.1``); ``dest_xml``
        replaces the definition on the destination (and its persistent config). With a
        ``timeout`` the job is aborted when it runs longer (``OperationTimeout``).
        ``progress`` is called about once a second with the running job's statistics;
        when it returns True the migration is aborted (``OperationAborted``).
        """
        flags = 0
        for on, flag in (
            (live, libvirt.VIR_MIGRATE_LIVE),
            (p2p, libvirt.VIR_MIGRATE_PEER2PEER),
            (copy_storage_all, libvirt.VIR_MIGRATE_NON_SHARED_DISK),
            (persistent, libvirt.VIR_MIGRATE_PERSIST_DEST),
            (undefine_source, libvirt.VIR_MIGRATE_UNDEFINE_SOURCE),
        ):
            if on:
                flags |= flag
        params: dict[str, object] = {}
        if dest_xml is not None:
            params[libvirt.VIR_MIGRATE_PARAM_DEST_XML] = dest_xml
            if persistent:
                params[libvirt.VIR_MIGRATE_PARAM_PERSIST_XML] = dest_xml
        if bandwidth_mibps is not None:
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = int(bandwidth_mibps)
        if migrate_uri is not None:
            params[libvirt.VIR_MIGRATE_PARAM_URI] = migrate_uri
        operation = f"migrate domain {name!r}"
        started = time.monotonic()

        def run(conn: libvirt.virConnect) -> None:
            dom = conn.lookupByName(name)
            if p2p:
                self._run_with_deadline(
                    dom, lambda: dom.migrateToURI3(dest_uri, params, flags), timeout, progress
                )
                return
            dconn = _open_raw(dest_uri, self._timeout)
            try:
                self._run_with_deadline(
                    dom, lambda: dom.migrate3(dconn, params, flags), timeout, progress
                )
            finally:
                dconn.close()

        self._call(operation, run)
        elapsed = int((time.monotonic() - started) * 1000)
        return MigrationResult(
            domain=name, dest_uri=dest_uri, elapsed_ms=elapsed, **self._job_stats(name, dest_uri)
        )

    @staticmethod
    def _run_with_deadline(
        dom: libvirt.virDomain,
        fn,
        timeout: float | None,
        progress: Callable[[MigrationProgress], bool | None] | None = None,
    ) -> None:
        if timeout is None and progress is None:
            fn()
            return
        outcome: dict[str, BaseException] = {}

        def target() -> None:
            try:
                fn()
            except BaseException as exc:  # handed back to the caller's thread
                outcome["error"] = exc

        worker = threading.Thread(target=target, name="libvirt-migrate", daemon=True)
        worker.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        stop: str | None = None
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            worker.join(1.0 if left is None else max(0.0, min(1.0, left)))
            if not worker.is_alive():
                break
            if deadline is not None and time.monotonic() >= deadline:
                stop = "timeout"
                break
            if progress is not None:
                try:
                    raw = dom.jobStats(0)
                except libvirt.libvirtError:
                    raw = {}
                if progress(MigrationProgress.from_stats(raw)):
                    stop = "aborted"
                    break
        if stop is not None:
            try:
                dom.abortJob()
            except libvirt.libvirtError:
                pass
            worker.join()
            if stop == "timeout":
                raise OperationTimeout(
                    f"Migration of {dom.name()!r} did not finish within {timeout:g}s and was aborted",
                    timeout=timeout,
                )
            raise OperationAborted(f"Migration of {dom.name()!r} was aborted on request")
        if "error" in outcome:
            raise outcome["error"]

    def _job_stats(self, name: str, dest_uri: str) -> dict:
        """Completed-job statistics, read on the destination (the source may be gone)."""
        raw: dict = {}
        try:
            dconn = _open_raw(dest_uri, self._timeout)
            try:
                raw = dconn.lookupByName(name).jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
            finally:
                dconn.close()
        except (libvirt.libvirtError, HypervisorError):
            try:
                raw = self._call(
                    f"read migration statistics of {name!r}",
                    lambda c: c.lookupByName(name).jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED),
                )
            except HypervisorError:
                raw = {}

        def get(key: str) -> int | None:
            return stat_int(raw, key)

        return {
            "downtime_ms": get("downtime"),
            "total_ms": get("time_elapsed"),
            "data_total_bytes": get("data_total"),
            "data_processed_bytes": get("data_processed"),
            "memory_processed_bytes": get("memory_processed"),
            "disk_processed_bytes": get("disk_processed"),
            "raw": {k: v for k, v in raw.items() if isinstance(v, int | float | str)},
        }


def _open_raw(uri: str, timeout: float) -> libvirt.virConnect:
    from ..connection import open_connection

    return open_connection(uri, timeout=timeout, readonly=False)
