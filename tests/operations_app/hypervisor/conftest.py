"""Fixtures for the hypervisor boundary.

Unit tests use libvirt's in-process ``test:///default`` driver, whose state lives as long
as the process: every test uses unique ``pt-`` names and a ``reaper`` that removes what it
made, also when the test fails. Integration tests use ``qemu:///system``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from operations_app.hypervisor import (
    Hypervisor,
    HypervisorError,
    NotFound,
)

DATA = Path(__file__).parent / "data"
SYSTEM_URI = os.environ.get("VMPERSONA_TEST_LIBVIRT_URI", "qemu:///system")


def unique_name(prefix: str = "pt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def name() -> Callable[..., str]:
    """Factory of unique ``pt-`` names."""
    return unique_name


class Reaper:
    """Remembers what a test created and removes it afterwards, newest first."""

    def __init__(self, hv: Hypervisor) -> None:
        self.hv = hv
        self._undo: list[tuple[str, Callable[[], object]]] = []

    def add(self, label: str, undo: Callable[[], object]) -> None:
        self._undo.append((label, undo))

    def domain(self, name: str) -> str:
        self.add(f"domain {name}", lambda: self.hv.domains.delete(name))
        return name

    def network(self, name: str) -> str:
        self.add(f"network {name}", lambda: self.hv.networks.delete(name))
        return name

    def volume(self, pool: str, name: str) -> str:
        self.add(
            f"volume {name}", lambda: self.hv.storage.volume_delete(pool, name, missing_ok=True)
        )
        return name

    def secret(self, uuid_: str) -> str:
        self.add(f"secret {uuid_}", lambda: self.hv.storage.secret_undefine(uuid_))
        return uuid_

    def nwfilter(self, name: str) -> str:
        self.add(f"nwfilter {name}", lambda: self.hv.nwfilters.undefine(name))
        return name

    def pool(self, name: str) -> str:
        self.add(f"pool {name}", lambda: self.hv.storage.pool_delete(name))
        return name

    def run(self) -> list[str]:
        problems = []
        while self._undo:
            label, undo = self._undo.pop()
            try:
                undo()
            except NotFound:
                pass
            except HypervisorError as exc:
                problems.append(f"{label}: {exc}")
        return problems


@pytest.fixture
def test_hv() -> Iterator[Hypervisor]:
    with Hypervisor.connect("test:///default", timeout=10) as hv:
        yield hv


@pytest.fixture
def reaper(test_hv: Hypervisor) -> Iterator[Reaper]:
    r = Reaper(test_hv)
    yield r
    problems = r.run()
    assert not problems, f"cleanup failed: {problems}"


# ------------------------------------------------------------------ integration


@pytest.fixture(scope="session")
def system_hv() -> Iterator[Hypervisor]:
    try:
        hv = Hypervisor.connect(SYSTEM_URI, timeout=30)
    except HypervisorError as exc:
        pytest.skip(f"no libvirt daemon at {SYSTEM_URI}: {exc}")
    with hv:
        yield hv


@pytest.fixture
def system_reaper(system_hv: Hypervisor, world_readable_dir: Path) -> Iterator[Reaper]:
    """Set up after ``world_readable_dir`` so it cleans up before the directory goes."""
    r = Reaper(system_hv)
    yield r
    problems = r.run()
    assert not problems, f"cleanup failed: {problems}"


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A temporary directory QEMU (running as its own user) can reach; removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="pt-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def system_pool(system_hv: Hypervisor, world_readable_dir: Path, system_reaper: Reaper) -> str:
    """A dir pool in a temporary directory, deleted (pool and files) afterwards."""
    pool = unique_name()
    system_reaper.pool(pool)
    system_hv.storage.pool_ensure_dir(pool, str(world_readable_dir / "pool"))
    return pool
