"""Listings used by audits and leak checks."""

from __future__ import annotations


def secret_uuids(hv) -> list[str]:
    """UUIDs of every secret the host holds (values are never read)."""
    return hv._call("list secrets", lambda c: [s.UUIDString() for s in c.listAllSecrets(0)])
