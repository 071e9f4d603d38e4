from __future__ import annotations

import json
from pathlib import Path

import pytest

from operations_app.guest import GuestProvisioner, boot

from .fakes import FakeAgent, FakeHypervisor

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def agent() -> FakeAgent:
    fake = FakeAgent()
    fake.files["/etc/passwd"] = b"root:x:0:0:root:/root:/bin/sh\n"
    fake.files["/etc/group"] = b"root:x:0:\nwheel:x:10:\n"
    fake.files["/etc/init.d/rcS"] = b"for script in /etc/init.d/S[0-9][0-9]*; do :; done\n"
    fake.files["/proc/mounts"] = b"/dev/vda / ext4 rw 0 0\n"
    fake.files["/etc/fstab"] = b"/dev/vda / ext4 rw 0 1\n"
    fake.on(["/bin/sh", "-c", boot._RCS_STYLE])  # an rcS that runs S?? scripts
    fake.on(["/bin/sh", "-c", boot._RCS_MOUNTS], exit_code=1)  # ... but mounts no fstab
    return fake


@pytest.fixture
def logs() -> list[str]:
    return []


@pytest.fixture
def guest(agent: FakeAgent, logs: list[str]) -> GuestProvisioner:
    return GuestProvisioner(FakeHypervisor(agent), "gt-unit", log=logs.append)  # type: ignore[arg-type]


@pytest.fixture
def example():
    def load(name: str) -> dict:
        return json.loads((EXAMPLES / f"{name}.json").read_text())

    return load
