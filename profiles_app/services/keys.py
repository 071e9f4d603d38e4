"""Volume keys: encryption at rest with the key-encryption key (KEK), and its rotation.

The KEK is a list of Fernet keys, newest first: ``VMPERSONA_KEK`` in the environment,
or the instance folder's ``kek`` file (generated on first use). The newest key
encrypts; every listed key decrypts, which is what makes rotation safe to interrupt.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from profiles_app.models import VolumeKey
from vmpersona.errors import DomainError
from vmpersona.history import attribute_change

logger = logging.getLogger(__name__)


class KeyError_(DomainError):
    """A volume key cannot be used (unknown, or not decryptable with the KEK)."""


def _kek_file() -> Path:
    return Path(settings.VMPERSONA_KEK_FILE)


def _parse_keys(raw: str) -> list[bytes]:
    keys = [k.strip().encode() for k in raw.replace("\n", ",").split(",") if k.strip()]
    for k in keys:
        Fernet(k)  # raises ValueError on a malformed key
    return keys


def kek_keys() -> list[bytes]:
    """The KEK list, newest first; generates the instance file when nothing is set."""
    if settings.VMPERSONA_KEK:
        return _parse_keys(settings.VMPERSONA_KEK)
    path = _kek_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(Fernet.generate_key().decode() + "\n")
    return _parse_keys(path.read_text())


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in kek_keys()])


def encrypt_secret(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_secret(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise KeyError_(
            "A volume key cannot be decrypted with the configured key-encryption key."
        ) from exc


def key_fingerprint(plain: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), plain.encode(), hashlib.sha256).hexdigest()
    return digest[:12]


def _unique_key_name(base: str) -> str:
    stem = slugify(base)[:80] or "key"
    while True:
        name = f"{stem}-{secrets.token_hex(3)}"
        if not VolumeKey.objects.filter(name=name).exists():
            return name


@transaction.atomic
def volume_key_create(*, user=None, plain: str, name_hint: str, description: str = "") -> VolumeKey:
    """Store a volume key (encrypted) and return its row; its ``name`` is the key_ref."""
    key = VolumeKey(
        name=_unique_key_name(name_hint),
        ciphertext=encrypt_secret(plain),
        fingerprint=key_fingerprint(plain),
        description=description[:200],
        created_by=user if user is not None and user.is_authenticated else None,
    )
    attribute_change(key, user=user, reason="volume key stored")
    key.save()
    logger.info("volume key %s stored (fingerprint %s)", key.name, key.fingerprint)
    return key


def volume_key_generate(
    *, user=None, name_hint: str, description: str = ""
) -> tuple[VolumeKey, str]:
    """A new random key, stored; returns the row and the plain key for immediate use."""
    plain = secrets.token_urlsafe(32)
    return volume_key_create(
        user=user, plain=plain, name_hint=name_hint, description=description
    ), plain


def volume_key_reveal(*, name: str) -> str:
    """The plain key named by a key_ref; only for handing to the hypervisor."""
    try:
        key = VolumeKey.objects.get(name=name)
    except VolumeKey.DoesNotExist as exc:
        raise KeyError_(f"No volume key named '{name}' is held.") from exc
    return decrypt_secret(key.ciphertext)


def kek_rotate(*, new_key: str | None = None) -> dict:
    """Re-encrypt every volume key under a new KEK.

    File-held KEK: the new key is written first as primary beside the old ones, every
    row is re-encrypted in one transaction, then the old keys are dropped from the
    file. A crash at any point leaves every row decryptable.
    Environment-held KEK: the caller must pass the new key and then set
    ``VMPERSONA_KEK`` to it (keeping the old one after it until every process has
    restarted).
    """
    new = (new_key or Fernet.generate_key().decode()).strip()
    Fernet(new.encode())  # validate
    old_keys = [k.decode() for k in kek_keys()]
    from_env = bool(settings.VMPERSONA_KEK)
    if not from_env:
        _write_kek_file([new, *old_keys])
    multi = MultiFernet([Fernet(k.encode()) for k in [new, *old_keys]])
    count = 0
    with transaction.atomic():
        now = timezone.now()
        for key in VolumeKey.objects.select_for_update().order_by("pk"):
            try:
                key.ciphertext = multi.rotate(key.ciphertext.encode()).decode()
            except InvalidToken as exc:
                raise KeyError_(
                    f"Volume key '{key.name}' cannot be decrypted with the current KEK; nothing was rotated."
                ) from exc
            key.rotated_at = now
            attribute_change(key, reason="key-encryption key rotated")
            key.save(update_fields=["ciphertext", "rotated_at"])
            count += 1
    if from_env:
        settings.VMPERSONA_KEK = ",".join([new, *old_keys])
    else:
        _write_kek_file([new])
    logger.info("key-encryption key rotated; %d volume keys re-encrypted", count)
    return {
        "rotated": count,
        "kek_source": "environment" if from_env else str(_kek_file()),
        "new_key": new if from_env else None,
    }


def _write_kek_file(keys: list[str]) -> None:
    path = _kek_file()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(",".join(keys) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
