"""Volume keys never appear in plain text anywhere the product stores or shows."""

from __future__ import annotations

import json
import logging

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection

from profiles_app.models import VolumeKey
from profiles_app.services import keys as key_services
from profiles_app.services import versions as svc

pytestmark = pytest.mark.django_db

KNOWN_KEY = "Zebra-Quartz-Key-9f8e7d6c5b4a"


def _all_rows_text() -> str:
    """Every row of every table, as text."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                chunks.append(" ".join(str(col) for col in row))
    return "\n".join(chunks)


@pytest.fixture
def sealed_version(users, make_document, caplog):
    caplog.set_level(logging.DEBUG)
    doc = make_document(
        "vault",
        data_volume_definitions=[
            {
                "name": "data",
                "size_gib": 2,
                "mount_point": "/srv/data",
                "encryption": {"enabled": True, "key": KNOWN_KEY},
            }
        ],
    )
    v = svc.policy_create(user=users["author"], document=doc)
    svc.version_submit(user=users["author"], version=v)
    svc.version_approve(user=users["approver"], version=v, comment="ok")
    v2 = svc.version_create_draft(user=users["author"], policy=v.policy, parent=v)
    doc2 = json.loads(json.dumps(doc))
    doc2["data_volume_definitions"][0]["encryption"]["key"] = KNOWN_KEY + "-new"
    svc.version_update_draft(user=users["author"], version=v2, document=doc2)
    return v


def test_known_key_is_in_no_table_and_no_log(sealed_version, caplog):
    text = _all_rows_text()
    assert "vault-data" in text  # the key_ref names are there
    assert KNOWN_KEY not in text
    assert KNOWN_KEY not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_raw_sqlite_file_holds_no_key(sealed_version, settings):
    if connection.vendor != "sqlite":
        pytest.skip("raw file check applies to SQLite")
    name = connection.settings_dict["NAME"]
    if connection.is_in_memory_db():
        pytest.skip("in-memory test database")
    connection.cursor().execute("PRAGMA wal_checkpoint(FULL)")
    for suffix in ("", "-wal"):
        try:
            with open(name + suffix, "rb") as fh:
                assert KNOWN_KEY.encode() not in fh.read()
        except FileNotFoundError:
            pass


def _reseal(switch) -> None:
    """Re-encrypt every stored key under the KEK that ``switch()`` configures."""
    plains = {k.name: key_services.volume_key_reveal(name=k.name) for k in VolumeKey.objects.all()}
    switch()
    for name, plain in plains.items():
        VolumeKey.objects.filter(name=name).update(ciphertext=key_services.encrypt_secret(plain))


def test_kek_rotation_reencrypts_every_key(sealed_version, settings, tmp_path):
    def use_file():
        settings.VMPERSONA_KEK = ""
        settings.VMPERSONA_KEK_FILE = tmp_path / "kek"

    _reseal(use_file)
    ref = sealed_version.document["data_volume_definitions"][0]["encryption"]["key_ref"]
    before = VolumeKey.objects.get(name=ref).ciphertext
    old_kek = (tmp_path / "kek").read_text().strip()
    result = key_services.kek_rotate()
    assert result["rotated"] >= 1
    new_kek = (tmp_path / "kek").read_text().strip()
    assert new_kek != old_kek and "," not in new_kek
    after = VolumeKey.objects.get(name=ref).ciphertext
    assert after != before
    assert key_services.volume_key_reveal(name=ref) == KNOWN_KEY
    # The old KEK alone can no longer read it.
    with pytest.raises(InvalidToken):
        Fernet(old_kek.encode()).decrypt(after.encode())


def test_rotate_command_prints_no_key(sealed_version, settings, tmp_path, capsys):
    def use_env():
        settings.VMPERSONA_KEK = Fernet.generate_key().decode()

    _reseal(use_env)
    ref = sealed_version.document["data_volume_definitions"][0]["encryption"]["key_ref"]
    new = Fernet.generate_key().decode()
    call_command("rotate_kek", f"--new-key={new}")
    out = capsys.readouterr().out
    assert KNOWN_KEY not in out
    assert key_services.volume_key_reveal(name=ref) == KNOWN_KEY
