"""The instance folder: per-installation state that never goes into git.

Holds the SQLite database, the generated Django secret key, the key-encryption key
for volume keys (when none is given in the environment), the demo credentials,
the Redis password ``make run`` generates, and logs. ``VMPERSONA_INSTANCE_DIR``
moves it.

Everything in it is private to the user running VM Persona: the folder (and the
``logs`` folder) are 0700 and the files this code creates in it are 0600, set where
each file is created (``os.open`` with a mode, or a chmod right after a library made
the file) rather than by a process-wide umask, which would also apply to files other
users must read (e.g. the disk images the local testbed hands to QEMU).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

DIR_MODE = 0o700
FILE_MODE = 0o600
# SQLite keeps a write-ahead log and a shared-memory index beside the database.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner can enter (created if missing)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _chmod_if_owned(path, DIR_MODE)
    return path


def instance_dir() -> Path:
    return private_dir(Path(os.environ.get("VMPERSONA_INSTANCE_DIR", BASE_DIR / "instance")))


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if missing; make an existing one 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _chmod_if_owned(path, FILE_MODE)
    else:
        os.close(fd)
    return path


def restrict_sqlite_files(database: str | Path) -> None:
    """Make an SQLite database and its WAL/SHM/journal files 0600.

    SQLite gives the files it creates beside a database the database's own mode, so once
    the database is 0600 they follow; this also repairs files an older version left 0644.
    """
    name = str(database)
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    for suffix in ("", *SQLITE_SIDE_FILES):
        _chmod_if_owned(Path(name + suffix), FILE_MODE)


def _chmod_if_owned(path: Path, mode: int) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_uid == os.geteuid() and (st.st_mode & 0o777) != mode:
        os.chmod(path, mode)


def read_or_create_secret(filename: str, factory) -> str:
    """Return the content of a secret file in the instance folder, creating it once (0600)."""
    path = instance_dir() / filename
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        pass
    else:
        _chmod_if_owned(path, FILE_MODE)
        return value
    value = factory()
    # O_EXCL: two processes starting together must agree on one value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def random_token(nbytes: int = 48) -> str:
    return secrets.token_urlsafe(nbytes)
