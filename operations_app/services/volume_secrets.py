"""Volume secrets on the hypervisor: supplied from the key store when a domain needs them.

An encrypted volume's libvirt secret is *ephemeral* and *private*: the daemon holds the
passphrase in memory only and never hands it back, so a copy of the host's disk holds no
key. The price: after the daemon (or the host) restarts, the secret is gone and the domain
cannot start until someone supplies it again. The domain's own metadata names, for each
encrypted disk (by serial), the stored key that unlocks it (a key_ref, never the key);
``volume_secrets_supply`` reads that and defines each missing secret under the UUID the
disk names. Whatever starts a domain calls it first (migration rollback, snapshot revert),
and the inventory calls it for every managed domain it sees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from operations_app import hypervisor as hv
from profiles_app.services.keys import KeyError_, volume_key_reveal
from vmpersona.errors import DomainError

logger = logging.getLogger(__name__)


class SecretSupplyError(DomainError):
    """A domain's volume secret cannot be supplied (no key recorded, or not held)."""


@dataclass
class SupplyResult:
    supplied: list[str] = field(default_factory=list)  # volume paths whose secret was put back
    problems: list[str] = field(default_factory=list)


def volume_secrets_supply(conn: hv.Hypervisor, name: str) -> SupplyResult:
    """Define every missing secret of domain ``name``'s encrypted disks from the key store.

    Disks the product did not encrypt (no key recorded in the metadata) are reported as
    problems, not guessed at. Never raises for one disk: the result says what was done."""
    result = SupplyResult()
    spec = conn.domains.spec(name, inactive=True)
    keys = spec.metadata.volume_keys if spec.metadata else {}
    for disk in spec.disks:
        uuid = disk.encryption_secret_uuid
        if not uuid or conn.storage.secret_exists(uuid):
            continue
        path = disk.path
        if not path and disk.pool and disk.volume:
            try:
                path = conn.storage.volume_info(disk.pool, disk.volume).path
            except hv.HypervisorError:
                path = None
        ref = keys.get(disk.serial or "")
        if not path or not ref:
            result.problems.append(
                f"{name}: disk {disk.target} needs secret {uuid}, and no stored key is "
                "recorded for it"
            )
            continue
        try:
            value = volume_key_reveal(name=ref).encode()
            conn.storage.secret_ensure(
                uuid, path, value, description=f"passphrase of {disk.target} of {name}"
            )
        except (KeyError_, hv.HypervisorError) as exc:
            result.problems.append(f"{name}: disk {disk.target}: {exc}")
            continue
        result.supplied.append(path)
        logger.info("secret of %s (%s) supplied again from key %s", path, name, ref)
    return result


def volume_secrets_require(conn: hv.Hypervisor, name: str) -> list[str]:
    """``volume_secrets_supply`` for a caller about to start ``name``: raises
    ``SecretSupplyError`` if a secret is still missing. Returns the paths supplied."""
    result = volume_secrets_supply(conn, name)
    if result.problems:
        raise SecretSupplyError("; ".join(result.problems))
    return result.supplied
