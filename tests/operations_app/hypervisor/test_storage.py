"""Storage: volume and secret XML, and volumes in the test driver's default pool."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from operations_app.hypervisor import (
    AlreadyExists,
    InvalidSpec,
    NotFound,
    Unsupported,
    dir_pool_xml,
    secret_xml,
    volume_xml,
)
from operations_app.hypervisor.storagexml import parse_secret_xml, parse_volume_xml

POOL = "default-pool"


def test_volume_xml_plain():
    root = ET.fromstring(volume_xml("pt-a.qcow2", capacity_bytes=1 << 30))
    assert root.findtext("name") == "pt-a.qcow2"
    assert root.find("capacity").attrib == {"unit": "bytes"}
    assert root.findtext("capacity") == str(1 << 30)
    assert root.find("target/format").get("type") == "qcow2"
    assert root.find("backingStore") is None and root.find("target/encryption") is None


def test_volume_xml_linked_clone_without_capacity():
    root = ET.fromstring(
        volume_xml("pt-c.qcow2", capacity_bytes=None, backing_path="/images/base.qcow2")
    )
    assert root.find("capacity") is None
    assert root.findtext("backingStore/path") == "/images/base.qcow2"
    assert root.find("backingStore/format").get("type") == "qcow2"


def test_volume_xml_encrypted():
    uuid = "5e0f3c6a-3f1e-4a38-8bbd-2ad0ef1c5b01"
    xml = volume_xml("pt-e.qcow2", capacity_bytes=1 << 20, encryption_secret_uuid=uuid)
    info = parse_volume_xml(xml)
    assert info.encrypted and info.encryption_format == "luks" and info.secret_uuid == uuid
    secret = ET.fromstring(xml).find("target/encryption/secret")
    assert secret.attrib == {"type": "passphrase", "uuid": uuid}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "pt a", "capacity_bytes": 1}, "volume name"),
        ({"name": "../x", "capacity_bytes": 1}, "volume name"),
        ({"name": "pt", "capacity_bytes": 0}, "capacity"),
        ({"name": "pt", "capacity_bytes": None}, "needs a capacity"),
        ({"name": "pt", "capacity_bytes": 1, "format": "vmdk"}, "format"),
        ({"name": "pt", "capacity_bytes": 1, "format": "raw", "backing_path": "/b"}, "qcow2"),
        ({"name": "pt", "capacity_bytes": 1, "backing_path": "b.qcow2"}, "absolute"),
        ({"name": "pt", "capacity_bytes": 1, "encryption_secret_uuid": "x"}, "UUID"),
    ],
)
def test_volume_xml_refuses(kwargs, message):
    name = kwargs.pop("name")
    with pytest.raises(InvalidSpec, match=message):
        volume_xml(name, **kwargs)


def test_secret_xml_is_ephemeral_private_and_holds_no_value():
    xml = secret_xml(usage_id="/pool/pt-e.qcow2", description="key of pt-e")
    root = ET.fromstring(xml)
    # ephemeral: libvirt writes neither the definition nor the value to its disk
    assert root.attrib == {"ephemeral": "yes", "private": "yes"}
    assert root.find("usage").get("type") == "volume"
    assert parse_secret_xml(xml) == {
        "uuid": None,
        "ephemeral": "yes",
        "private": "yes",
        "description": "key of pt-e",
        "usage_type": "volume",
        "usage_id": "/pool/pt-e.qcow2",
    }
    assert root.find("value") is None


def test_dir_pool_xml():
    root = ET.fromstring(dir_pool_xml("pt-pool", "/var/tmp/pt-pool"))
    assert root.get("type") == "dir" and root.findtext("target/path") == "/var/tmp/pt-pool"
    with pytest.raises(InvalidSpec):
        dir_pool_xml("pt-pool", "relative")


def test_volumes_in_default_pool(test_hv, reaper, name):
    vol = reaper.volume(POOL, f"{name()}.qcow2")
    info = test_hv.storage.volume_create(POOL, vol, capacity_bytes=8 * 1024 * 1024)
    assert info.name == vol and info.pool == POOL
    assert info.path == f"/default-pool/{vol}"
    assert info.capacity_bytes == 8 * 1024 * 1024 and info.format == "qcow2"
    assert not info.encrypted
    assert vol in {v.name for v in test_hv.storage.volume_list(POOL)}
    assert test_hv.storage.volume_info(POOL, vol) == info
    assert test_hv.storage.volume_info_by_path(info.path).name == vol
    with pytest.raises(AlreadyExists):
        test_hv.storage.volume_create(POOL, vol, capacity_bytes=1024)
    assert test_hv.storage.volume_delete(POOL, vol)
    assert not test_hv.storage.volume_exists(POOL, vol)
    with pytest.raises(NotFound):
        test_hv.storage.volume_delete(POOL, vol)
    assert test_hv.storage.volume_delete(POOL, vol, missing_ok=True) is False


def test_linked_clone_records_its_base(test_hv, reaper, name):
    base = reaper.volume(POOL, f"{name()}-base.qcow2")
    clone = reaper.volume(POOL, f"{name()}-clone.qcow2")
    base_info = test_hv.storage.volume_create(POOL, base, capacity_bytes=64 * 1024 * 1024)
    info = test_hv.storage.volume_create_linked_clone(
        POOL, clone, base_path=base_info.path, capacity_bytes=base_info.capacity_bytes
    )
    assert info.backing_path == base_info.path and info.backing_format == "qcow2"
    assert info.format == "qcow2"


def test_pool_info_and_missing_pool(test_hv):
    pool = test_hv.storage.pool_info(POOL)
    assert pool.type == "dir" and pool.active and pool.path == "/default-pool"
    assert pool.capacity_bytes > 0
    with pytest.raises(NotFound, match="pt-no-pool"):
        test_hv.storage.pool_info("pt-no-pool")
    assert test_hv.storage.pool_delete("pt-no-pool") is False


def test_secrets_unsupported_on_test_driver_without_leaking_value(test_hv):
    with pytest.raises(Unsupported) as info:
        test_hv.storage.secret_define("/default-pool/x.qcow2", b"hunter2-passphrase")
    assert "hunter2" not in str(info.value)
    with pytest.raises(InvalidSpec):
        test_hv.storage.secret_define("/default-pool/x.qcow2", b"")
