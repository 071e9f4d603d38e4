"""Integration: dir pools, LUKS volumes with secrets and linked clones on qemu:///system."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from operations_app.hypervisor import AlreadyExists, HypervisorError, InvalidSpec, NotFound
from operations_app.hypervisor import storage as storage_module

from .conftest import unique_name

pytestmark = [pytest.mark.integration, pytest.mark.dbfree]

MIB = 1024 * 1024
# where host A's libvirtd (the machine's own) would keep persistent secrets
SECRETS_DIR = "/etc/libvirt/secrets"


def secret_files(uuid: str) -> list[str]:
    try:
        return [f for f in os.listdir(SECRETS_DIR) if f.startswith(uuid)]
    except FileNotFoundError:
        return []


def qemu_img_info(path: str) -> dict:
    out = subprocess.run(
        ["qemu-img", "info", "--force-share", "--output=json", path],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def test_dir_pool_ensure_is_idempotent(system_hv, system_pool, world_readable_dir):
    info = system_hv.storage.pool_ensure_dir(system_pool, str(world_readable_dir / "pool"))
    assert info.active and info.type == "dir" and info.path == str(world_readable_dir / "pool")
    assert os.path.isdir(info.path)
    with pytest.raises(AlreadyExists, match="already exists"):
        system_hv.storage.pool_ensure_dir(system_pool, str(world_readable_dir / "elsewhere"))


def test_encrypted_luks_volume_and_its_secret(system_hv, system_pool, system_reaper):
    name = system_reaper.volume(system_pool, f"{unique_name()}.qcow2")
    passphrase = b"correct horse battery staple"
    info = system_hv.storage.volume_create_encrypted(
        system_pool, name, capacity_bytes=16 * MIB, passphrase=passphrase
    )
    system_reaper.secret(info.secret_uuid)  # in case the test fails before deleting
    assert info.encrypted and info.encryption_format == "luks" and info.secret_uuid
    details = qemu_img_info(info.path)
    assert details["format"] == "qcow2"
    assert details["encrypted"] is True
    assert details["format-specific"]["data"]["encrypt"]["format"] == "luks"
    assert details["virtual-size"] == 16 * MIB

    secret = system_hv.storage.secret_info(info.secret_uuid)
    assert secret["usage_type"] == "volume" and secret["usage_id"] == info.path
    # ephemeral and private: nothing of it on the host's disk
    assert (secret["ephemeral"], secret["private"]) == ("yes", "yes")
    assert secret_files(info.secret_uuid) == []
    # gone (as after a daemon restart), it is put back under the same UUID
    assert not system_hv.storage.secret_ensure(info.secret_uuid, info.path, passphrase)
    system_hv.storage.secret_undefine(info.secret_uuid)
    assert system_hv.storage.secret_ensure(info.secret_uuid, info.path, passphrase)
    assert system_hv.storage.secret_lookup_usage(info.path) == info.secret_uuid
    assert system_hv.storage.secret_lookup_usage(info.path) == info.secret_uuid
    # a second secret for the same volume path is refused, without echoing the value
    with pytest.raises(AlreadyExists) as exc_info:
        system_hv.storage.secret_define(info.path, passphrase)
    assert passphrase.decode() not in str(exc_info.value)

    assert system_hv.storage.volume_delete(system_pool, name)
    assert not os.path.exists(info.path)
    assert not system_hv.storage.secret_exists(info.secret_uuid)


def test_encrypted_volume_failure_leaves_no_secret(system_hv, system_pool, system_reaper):
    name = system_reaper.volume(system_pool, f"{unique_name()}.qcow2")
    system_hv.storage.volume_create(system_pool, name, capacity_bytes=MIB)
    path = system_hv.storage.volume_info(system_pool, name).path
    # the volume exists already: creation fails, and the secret made for it is removed
    with pytest.raises(AlreadyExists):
        system_hv.storage.volume_create_encrypted(
            system_pool, name, capacity_bytes=MIB, passphrase=b"x" * 16
        )
    assert system_hv.storage.secret_lookup_usage(path) is None


def _starved_calibration(monkeypatch, storage, failures: int | None) -> list[str]:
    """Make the first ``failures`` encrypted-volume creations fail as qemu-img does on a
    starved host (all of them when None); returns the names attempted."""
    real = type(storage)._create
    attempts: list[str] = []

    def create(self, pool, name, xml, what):
        attempts.append(name)
        if failures is None or len(attempts) <= failures:
            # the partial file qemu-img may leave behind, which the retry must remove
            real(self, pool, name, storage_module.volume_xml(name, capacity_bytes=MIB), what)
            raise HypervisorError(
                "internal error: Unable to get accurate CPU usage (create encrypted volume)"
            )
        return real(self, pool, name, xml, what)

    monkeypatch.setattr(type(storage), "_create", create)
    return attempts


def test_encrypted_volume_survives_a_starved_luks_calibration(
    system_hv, system_pool, system_reaper, monkeypatch
):
    name = system_reaper.volume(system_pool, f"{unique_name()}.qcow2")
    attempts = _starved_calibration(monkeypatch, system_hv.storage, failures=3)
    info = system_hv.storage.volume_create_encrypted(
        system_pool, name, capacity_bytes=16 * MIB, passphrase=b"correct horse battery staple"
    )
    system_reaper.secret(info.secret_uuid)
    assert len(attempts) >= 4  # a busy machine may add real calibration failures
    assert info.encrypted and qemu_img_info(info.path)["encrypted"] is True
    assert system_hv.storage.volume_delete(system_pool, name)


def test_encrypted_volume_gives_up_after_its_patience_and_leaves_nothing(
    system_hv, system_pool, system_reaper, monkeypatch
):
    name = system_reaper.volume(system_pool, f"{unique_name()}.qcow2")
    monkeypatch.setattr(storage_module, "LUKS_CALIBRATION_PATIENCE_S", 2.0)
    attempts = _starved_calibration(monkeypatch, system_hv.storage, failures=None)
    with pytest.raises(HypervisorError, match="accurate CPU usage"):
        system_hv.storage.volume_create_encrypted(
            system_pool, name, capacity_bytes=MIB, passphrase=b"x" * 16
        )
    assert len(attempts) >= 2
    assert not system_hv.storage.volume_exists(system_pool, name)
    path = os.path.join(system_hv.storage.pool_info(system_pool).path, name)
    assert system_hv.storage.secret_lookup_usage(path) is None


@pytest.mark.parametrize("base_mib", [16, 4096])
def test_linked_clone_costs_the_same_whatever_the_base(
    system_hv, system_pool, system_reaper, base_mib
):
    base = system_reaper.volume(system_pool, f"{unique_name()}-base.qcow2")
    clone = system_reaper.volume(system_pool, f"{unique_name()}-clone.qcow2")
    base_info = system_hv.storage.volume_create(system_pool, base, capacity_bytes=base_mib * MIB)
    info = system_hv.storage.volume_create_linked_clone(
        system_pool, clone, base_path=base_info.path
    )
    assert info.backing_path == base_info.path and info.backing_format == "qcow2"
    assert info.capacity_bytes == base_mib * MIB  # inherited from the base
    details = qemu_img_info(info.path)
    assert details["backing-filename"] == base_info.path
    assert details["backing-filename-format"] == "qcow2"
    assert os.stat(info.path).st_size < MIB  # only a header, whatever the base's size
    assert system_hv.storage.volume_delete(system_pool, clone)
    assert os.path.exists(base_info.path)  # the base is untouched


def test_linked_clone_of_an_image_outside_any_pool(
    system_hv, system_pool, system_reaper, world_readable_dir
):
    base = world_readable_dir / "outside.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "32M"], check=True)
    clone = system_reaper.volume(system_pool, f"{unique_name()}.qcow2")
    info = system_hv.storage.volume_create_linked_clone(system_pool, clone, base_path=str(base))
    assert info.backing_path == str(base) and info.capacity_bytes == 32 * MIB


def test_volume_errors(system_hv, system_pool):
    with pytest.raises(NotFound):
        system_hv.storage.volume_info(system_pool, "pt-none.qcow2")
    with pytest.raises(InvalidSpec):
        system_hv.storage.volume_create(system_pool, "pt bad", capacity_bytes=MIB)
    assert system_hv.storage.volume_delete(system_pool, "pt-none.qcow2", missing_ok=True) is False
