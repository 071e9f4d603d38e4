"""The instance folder: per-installation state that never goes into git.

Holds the SQLite database, the generated Django secret key, the key-encryption key
for volume keys (when none is given in the environment), the demo credentials and
logs. ``VMPERSONA_INSTANCE_DIR`` moves it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def instance_dir() -> Path:
    path = Path(os.environ.get("VMPERSONA_INSTANCE_DIR", BASE_DIR / "instance"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_or_create_secret(filename: str, factory) -> str:
    """Return the content of a secret file in the instance folder, creating it once."""
    path = instance_dir() / filename
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = factory()
    # O_EXCL: two processes starting together must agree on one value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def random_token(nbytes: int = 48) -> str:
    return secrets.token_urlsafe(nbytes)
