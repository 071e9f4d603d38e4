"""Keeps SQLite's files private (0600) whichever process opens the database first.

SQLite creates the database file with the process umask (usually 0644) and gives its
``-wal``/``-shm`` files the database's mode. The handler below runs on every new
connection, after Django's ``init_command`` switched the database to WAL (which makes
both side files), so the database and its side files are 0600 before any row is read.
The test database Django creates and deletes is covered the same way.
"""

from __future__ import annotations

from vmpersona.instance import restrict_sqlite_files


def restrict_new_sqlite_connection(sender, connection, **kwargs) -> None:
    if connection.vendor != "sqlite":
        return
    restrict_sqlite_files(connection.settings_dict.get("NAME") or "")
