"""Fixtures shared by the whole suite: users in each role and valid documents."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

MINIMAL_DOCUMENT = {
    "schema_version": "1.0",
    "name": "minimal",
    "description": "The smallest valid profile.",
    "base_image_id": "tiny-linux",
    "resource_allocation": {"vcpus": 1, "memory_mib": 128, "storage_gib": 1},
    "execution_flags": ["Testing"],
}


@pytest.fixture
def make_document():
    """A valid VPPD named ``name``; ``example`` picks a file from examples/."""

    def factory(name: str = "minimal", example: str | None = None, **overrides):
        if example:
            document = json.loads((EXAMPLES / f"{example}.json").read_text())
        else:
            document = copy.deepcopy(MINIMAL_DOCUMENT)
        document["name"] = name
        document.update(overrides)
        return document

    return factory


@pytest.fixture
def users(db):
    """One user per role (two authors and two approvers), plus a superuser."""
    from django.contrib.auth.models import Group, User

    from vmpersona.roles import ALL_ROLES

    made = {}
    for role in ALL_ROLES:
        Group.objects.get_or_create(name=role)
    spec = {
        "author": ["authors"],
        "author2": ["authors"],
        "approver": ["approvers"],
        "approver2": ["approvers"],
        "author_approver": ["authors", "approvers"],
        "operator": ["operators"],
        "viewer": ["viewers"],
    }
    for username, groups in spec.items():
        user = User.objects.create_user(
            username=username, password=f"pw-{username}-Secret!1", email=f"{username}@example.test"
        )
        user.groups.set(Group.objects.filter(name__in=groups))
        made[username] = user
    made["admin"] = User.objects.create_superuser(
        "admin", "admin@example.test", "pw-admin-Secret!1"
    )
    return made


@pytest.fixture
def password():
    return lambda username: f"pw-{username}-Secret!1"


# --------------------------------------------------------------------------- real hosts
#
# Integration tests (marked ``integration``) run on the two-host testbed that
# ``scripts/test.sh`` starts (``scripts/testbed.sh up``). A session-wide check records
# every libvirt object on both hosts before the first test and fails the run if any
# object a test made is still there at the end.

LEAK_KINDS = ("domains", "volumes", "secrets", "networks", "nwfilters", "pools")


def _testbed_uris() -> list[str]:
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        proc = subprocess.run(
            ["bash", str(root / "scripts" / "testbed.sh"), "env"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    uris = []
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        if key in ("VMPERSONA_HOST_A_URI", "VMPERSONA_HOST_B_URI"):
            uris.append(value.strip().strip("'"))
    return uris


def _inventory(uri: str) -> dict[str, set[str]]:
    from operations_app import hypervisor as hv

    with hv.Hypervisor.connect(uri, timeout=15) as conn:
        found: dict[str, set[str]] = {k: set() for k in LEAK_KINDS}
        found["domains"] = {d.name for d in conn.domains.list()}
        for pool in conn.storage.pool_list():
            found["pools"].add(pool.name)
            if pool.active:
                found["volumes"] |= {
                    f"{pool.name}/{v.name}" for v in conn.storage.volume_list(pool.name)
                }
        found["networks"] = {n.name for n in conn.networks.list()}
        found["nwfilters"] = set(conn.nwfilters.list())
        found["secrets"] = set(conn.storage.secret_list())
        return found


def pytest_collection_finish(session):
    # session.items is what will run, after -m/-k deselection.
    session.config._vmpersona_integration = any(
        item.get_closest_marker("integration") for item in session.items
    )


def pytest_runtestloop(session):
    config = session.config
    config._vmpersona_before = {}
    if not getattr(config, "_vmpersona_integration", False):
        return
    for uri in _testbed_uris():
        try:
            config._vmpersona_before[uri] = _inventory(uri)
        except Exception as exc:  # noqa: BLE001 - reported by the tests that need the host
            config._vmpersona_before[uri] = None
            print(f"\nlibvirt host {uri} not reachable before the run: {exc}")


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    before = getattr(config, "_vmpersona_before", {})
    leaks = []
    for uri, objects in before.items():
        if objects is None:
            continue
        try:
            after = _inventory(uri)
        except Exception as exc:  # noqa: BLE001
            leaks.append(f"{uri}: cannot be read after the run: {exc}")
            continue
        for kind in LEAK_KINDS:
            for name in sorted(after[kind] - objects[kind]):
                leaks.append(f"{uri}: {kind[:-1]} {name}")
    if leaks:
        print("\nThe tests left libvirt objects behind:\n  " + "\n  ".join(leaks))
        session.exitstatus = 1


@pytest.fixture
def browser_page():
    """A page in a fresh headless Chromium (tests/browser.py)."""
    from tests.browser import open_page

    yield from open_page()


@pytest.fixture(scope="session")
def testbed_env():
    """The running two-host testbed (images built, daemons up); fails when it is not."""
    import os

    from operations_app import testbed

    if not testbed.TINY_IMAGE_MANIFEST.exists():
        testbed.ensure_image()
    try:
        env = testbed.read_env()
        from operations_app import hypervisor as hv

        for uri in (env.host_a_uri, env.host_b_uri):
            with hv.Hypervisor.connect(uri, timeout=15):
                pass
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI") or os.geteuid() == 0:
            raise
        pytest.skip(f"the libvirt testbed is not running: {exc}")
    return env


@pytest.fixture
def testbed_platforms(db, testbed_env):
    """host-a and host-b registered in the test database, capabilities read."""
    from operations_app import testbed
    from operations_app.services.platforms import platform_refresh

    platforms = testbed.register(testbed_env)
    return {p.name: platform_refresh(platform=p) for p in platforms}
