"""Storage operations: dir pools, volumes, linked clones, LUKS volumes and their secrets.

Secret values are passed to ``virSecretSetValue`` and nowhere else: they are not logged,
not put in XML and not part of any error message.
"""

from __future__ import annotations

import logging
import posixpath
import random
import time
from collections.abc import Callable

import libvirt

from . import qcow2
from ._facet import Facet
from .errors import (
    AlreadyExists,
    HypervisorError,
    InvalidSpec,
    NotFound,
    OperationAborted,
    translate_libvirt_error,
)
from .storagexml import (
    dir_pool_xml,
    parse_pool_xml,
    parse_secret_xml,
    parse_volume_xml,
    secret_xml,
    volume_xml,
)
from .types import PoolInfo, VolumeInfo
from .validation import check_name, check_path, check_uuid

logger = logging.getLogger(__name__)

# How long creating an encrypted volume keeps retrying a failed LUKS calibration.
LUKS_CALIBRATION_PATIENCE_S = 120.0


def _pool_info(pool: libvirt.virStoragePool) -> PoolInfo:
    if pool.isActive():
        try:
            pool.refresh(0)
        except libvirt.libvirtError:
            pass
    try:
        autostart = bool(pool.autostart())
    except libvirt.libvirtError:
        autostart = False
    return parse_pool_xml(
        pool.XMLDesc(0),
        active=bool(pool.isActive()),
        autostart=autostart,
        persistent=bool(pool.isPersistent()),
    )


def _volume_info(vol: libvirt.virStorageVol, pool: str | None) -> VolumeInfo:
    return parse_volume_xml(vol.XMLDesc(0), pool=pool)


class Storage(Facet):
    """``hv.storage``: pools, volumes and volume secrets."""

    # ------------------------------------------------------------------ pools

    def pool_list(self) -> list[PoolInfo]:
        return self._call(
            "list storage pools",
            lambda c: sorted(
                (_pool_info(p) for p in c.listAllStoragePools(0)), key=lambda p: p.name
            ),
        )

    def pool_info(self, name: str) -> PoolInfo:
        return self._call(
            f"look up storage pool {name!r}", lambda c: _pool_info(c.storagePoolLookupByName(name))
        )

    def pool_ensure_dir(self, name: str, path: str, *, autostart: bool = False) -> PoolInfo:
        """A running ``dir`` pool ``name`` at ``path``: defined, built and started as needed.

        Raises ``AlreadyExists`` when a pool of that name exists elsewhere or of another type.
        """
        xml = dir_pool_xml(name, path)
        wanted = posixpath.normpath(path)

        def run(conn: libvirt.virConnect) -> PoolInfo:
            try:
                pool = conn.storagePoolLookupByName(name)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                    raise
                pool = conn.storagePoolDefineXML(xml, 0)
                try:
                    pool.build(0)
                except libvirt.libvirtError as build_exc:
                    # an existing directory is fine; anything else undoes the define
                    if "exists" not in str(build_exc).lower():
                        pool.undefine()
                        raise
            info = _pool_info(pool)
            if info.type != "dir" or posixpath.normpath(info.path or "") != wanted:
                raise AlreadyExists(
                    f"Storage pool {name!r} already exists as a {info.type} pool at {info.path}"
                )
            if not pool.isActive():
                try:
                    pool.build(0)  # the directory may have gone while the pool was stopped
                except libvirt.libvirtError as exc:
                    logger.debug("building pool %s: %s", name, exc)
                pool.create(0)
            if autostart and pool.isPersistent():
                pool.setAutostart(1)
            return _pool_info(pool)

        return self._call(f"ensure storage pool {name!r}", run)

    def pool_delete(self, name: str, *, missing_ok: bool = True) -> bool:
        """Stop and undefine a pool; its directory and files stay. False when absent."""

        def run(conn: libvirt.virConnect) -> bool:
            try:
                pool = conn.storagePoolLookupByName(name)
            except libvirt.libvirtError as exc:
                if missing_ok and exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
                    return False
                raise
            if pool.isActive():
                pool.destroy()
            if pool.isPersistent():
                pool.undefine()
            return True

        return self._call(f"delete storage pool {name!r}", run)

    # ------------------------------------------------------------------ volumes

    def volume_list(self, pool: str) -> list[VolumeInfo]:
        def run(conn: libvirt.virConnect) -> list[VolumeInfo]:
            p = conn.storagePoolLookupByName(pool)
            return sorted(
                (_volume_info(v, pool) for v in p.listAllVolumes(0)), key=lambda v: v.name
            )

        return self._call(f"list volumes of pool {pool!r}", run)

    def volume_info(self, pool: str, name: str) -> VolumeInfo:
        return self._call(
            f"look up volume {name!r} in pool {pool!r}",
            lambda c: _volume_info(
                c.storagePoolLookupByName(pool).storageVolLookupByName(name), pool
            ),
        )

    def volume_info_by_path(self, path: str) -> VolumeInfo:
        check_path(path, what="volume path")

        def run(conn: libvirt.virConnect) -> VolumeInfo:
            vol = conn.storageVolLookupByPath(path)
            return _volume_info(vol, vol.storagePoolLookupByVolume().name())

        return self._call(f"look up volume {path!r}", run)

    def volume_exists(self, pool: str, name: str) -> bool:
        try:
            self.volume_info(pool, name)
        except NotFound:
            return False
        return True

    def _create(self, pool: str, name: str, xml: str, what: str) -> VolumeInfo:
        def run(conn: libvirt.virConnect) -> VolumeInfo:
            p = conn.storagePoolLookupByName(pool)
            return _volume_info(p.createXML(xml, 0), pool)

        return self._call(f"create {what} {name!r} in pool {pool!r}", run)

    def volume_create(
        self, pool: str, name: str, *, capacity_bytes: int, format: str = "qcow2"
    ) -> VolumeInfo:
        """An empty volume of ``capacity_bytes`` (sparse where the format allows)."""
        xml = volume_xml(name, capacity_bytes=capacity_bytes, format=format)
        return self._create(pool, name, xml, "volume")

    def volume_create_linked_clone(
        self,
        pool: str,
        name: str,
        *,
        base_path: str,
        base_format: str = "qcow2",
        capacity_bytes: int | None = None,
    ) -> VolumeInfo:
        """A qcow2 overlay on ``base_path``: writes go to the overlay, the base is only read,
        and creating it costs the same whatever the base's size. Without
        ``capacity_bytes`` the clone has the base's virtual size."""
        xml = volume_xml(
            name,
            capacity_bytes=capacity_bytes,
            format="qcow2",
            backing_path=base_path,
            backing_format=base_format,
        )
        return self._create(pool, name, xml, "linked clone")

    def volume_create_encrypted(
        self,
        pool: str,
        name: str,
        *,
        capacity_bytes: int,
        passphrase: bytes,
        format: str = "qcow2",
        description: str | None = None,
    ) -> VolumeInfo:
        """A LUKS-encrypted volume whose passphrase is a new ephemeral, private libvirt
        secret (usage: the volume's path). ``volume_delete`` removes both. Raises ``AlreadyExists`` when a
        secret for that path already exists."""
        check_name(name, what="volume name", max_len=255)
        pool_path = self.pool_info(pool).path
        if not pool_path:
            raise InvalidSpec(f"Storage pool {pool!r} has no target path for encrypted volumes")
        path = posixpath.join(pool_path, name)
        secret_uuid = self.secret_define(
            path, passphrase, description=description or f"passphrase of volume {name}"
        )
        try:
            xml = volume_xml(
                name,
                capacity_bytes=capacity_bytes,
                format=format,
                encryption_secret_uuid=secret_uuid,
            )
            # qemu-img times the LUKS key derivation to choose its iteration count; on a
            # starved host the measurement can come back empty ("Unable to get accurate
            # CPU usage"). Remove any partial file and try again with the same secret,
            # backing off, for as long as LUKS_CALIBRATION_PATIENCE_S allows: a busy host
            # delays the volume rather than failing it.
            deadline = time.monotonic() + LUKS_CALIBRATION_PATIENCE_S
            attempt = 0
            while True:
                try:
                    return self._create(pool, name, xml, "encrypted volume")
                except HypervisorError as exc:
                    if "accurate CPU usage" not in str(exc):
                        raise
                    self.volume_delete(pool, name, delete_secret=False, missing_ok=True)
                    pause = min(8.0, 0.5 * 2**attempt) * (1 + random.random() / 2)
                    if time.monotonic() + pause > deadline:
                        raise
                    attempt += 1
                    logger.warning(
                        "LUKS calibration failed for %s (attempt %d); retrying in %.1f s",
                        name,
                        attempt,
                        pause,
                    )
                    time.sleep(pause)
        except BaseException:
            self.secret_undefine(secret_uuid, missing_ok=True)
            raise

    def volume_delete(
        self, pool: str, name: str, *, delete_secret: bool = True, missing_ok: bool = False
    ) -> bool:
        """Delete a volume and (``delete_secret``) the secret of its encryption, if any.
        Returns False when it did not exist and ``missing_ok``."""

        def run(conn: libvirt.virConnect) -> VolumeInfo:
            vol = conn.storagePoolLookupByName(pool).storageVolLookupByName(name)
            info = _volume_info(vol, pool)
            vol.delete(0)
            return info

        try:
            info = self._call(f"delete volume {name!r} from pool {pool!r}", run)
        except NotFound:
            if missing_ok:
                return False
            raise
        if delete_secret and info.encrypted:
            uuid = info.secret_uuid or self.secret_lookup_usage(info.path)
            if uuid:
                self.secret_undefine(uuid, missing_ok=True)
        return True

    def volume_copy_to(
        self,
        pool: str,
        name: str,
        dest: Storage,
        dest_pool: str,
        dest_name: str,
        *,
        backing_path: str | None = None,
        progress: Callable[[int, int], bool | None] | None = None,
        chunk_bytes: int = 4 << 20,
    ) -> int:
        """Copy volume ``pool/name`` as stored (a qcow2 file stays qcow2, a LUKS volume
        stays encrypted under the same passphrase) into the existing volume
        ``dest_pool/dest_name`` of another host, through libvirt streams (works between
        remote hosts). ``backing_path`` re-points a qcow2 overlay at the target's copy of
        its base. ``progress(done, total)`` runs after each chunk; returning True stops
        the copy (``OperationAborted``). Returns the bytes copied."""
        operation = f"copy volume {name!r} to {dest_name!r}"
        src_conn = self._hv._connection()
        dst_conn = dest._hv._connection()
        try:
            src_vol = src_conn.storagePoolLookupByName(pool).storageVolLookupByName(name)
            dst_vol = dst_conn.storagePoolLookupByName(dest_pool).storageVolLookupByName(dest_name)
            total = int(src_vol.info()[2]) or int(src_vol.info()[1])
            down, up = src_conn.newStream(0), dst_conn.newStream(0)
        except libvirt.libvirtError as exc:
            raise translate_libvirt_error(exc, operation) from None
        done = 0
        try:
            src_vol.download(down, 0, 0, 0)
            dst_vol.upload(up, 0, 0, 0)
            head = b""
            header_done = backing_path is None
            while True:
                data = down.recv(chunk_bytes)
                if isinstance(data, int):  # -2: would block (not on a blocking stream)
                    continue
                if not header_done:
                    head += data
                    need = qcow2.header_needed(head) if len(head) >= 24 else None
                    if data and (need is None or len(head) < need):
                        continue
                    if need:
                        head = qcow2.rewrite_backing(head, backing_path or "")
                    data, head, header_done = head, b"", True
                if not data:
                    break
                up.send(data)
                done += len(data)
                if progress is not None and progress(done, total):
                    raise OperationAborted(f"Copy of volume {name!r} was aborted on request")
            down.finish()
            up.finish()
        except libvirt.libvirtError as exc:
            for stream in (down, up):
                try:
                    stream.abort()
                except libvirt.libvirtError:
                    pass
            raise translate_libvirt_error(exc, operation) from None
        except BaseException:
            for stream in (down, up):
                try:
                    stream.abort()
                except libvirt.libvirtError:
                    pass
            raise
        return done

    # ------------------------------------------------------------------ secrets

    def secret_define(
        self,
        usage_id: str,
        value: bytes,
        *,
        description: str | None = None,
        usage_type: str = "volume",
        uuid: str | None = None,
    ) -> str:
        """Define an ephemeral, private secret for ``usage_id`` (a volume path) holding
        ``value`` (with ``uuid`` when given); returns its UUID. Raises ``AlreadyExists``
        if one exists for that usage."""
        if not isinstance(value, bytes | bytearray) or not value:
            raise InvalidSpec("a secret value must be non-empty bytes")
        xml = secret_xml(
            usage_id=usage_id, usage_type=usage_type, description=description, uuid=uuid
        )
        if self.secret_lookup_usage(usage_id) is not None:
            raise AlreadyExists(f"A secret for volume {usage_id!r} already exists")

        def run(conn: libvirt.virConnect) -> str:
            secret = conn.secretDefineXML(xml, 0)
            try:
                secret.setValue(bytes(value), 0)
            except libvirt.libvirtError:
                secret.undefine()
                raise
            return secret.UUIDString()

        # the operation text names the usage only, never the value
        return self._call(f"define the secret for {usage_id!r}", run)

    def secret_ensure(
        self, uuid: str, usage_id: str, value: bytes, *, description: str | None = None
    ) -> bool:
        """Make sure secret ``uuid`` (for the volume at ``usage_id``) is defined and holds
        ``value``, as a domain's disk names it. Ephemeral secrets are gone after the daemon
        restarts: this puts one back under the same UUID. Returns True when it had to."""
        uuid = check_uuid(uuid, what="secret uuid")
        if self.secret_exists(uuid):
            return False  # our secrets get their value before anyone can use them
        self.secret_define(usage_id, value, description=description, uuid=uuid)
        return True

    def secret_list(self) -> list[str]:
        """UUIDs of every secret on the host (values are never read)."""
        return self._call(
            "list secrets", lambda c: sorted(s.UUIDString() for s in c.listAllSecrets(0))
        )

    def secret_lookup_usage(self, usage_id: str, *, usage_type: str = "volume") -> str | None:
        """UUID of the secret for ``usage_id``, or None."""
        kind = {"volume": libvirt.VIR_SECRET_USAGE_TYPE_VOLUME}[usage_type]
        try:
            return self._call(
                f"look up the secret for {usage_id!r}",
                lambda c: c.secretLookupByUsage(kind, usage_id).UUIDString(),
            )
        except NotFound:
            return None

    def secret_info(self, uuid: str) -> dict[str, str | None]:
        """UUID, description and usage of a secret (never its value)."""
        uuid = check_uuid(uuid, what="secret uuid")
        return self._call(
            f"look up secret {uuid}",
            lambda c: parse_secret_xml(c.secretLookupByUUIDString(uuid).XMLDesc(0)),
        )

    def secret_exists(self, uuid: str) -> bool:
        try:
            self.secret_info(uuid)
        except NotFound:
            return False
        return True

    def secret_undefine(self, uuid: str, *, missing_ok: bool = True) -> bool:
        uuid = check_uuid(uuid, what="secret uuid")
        try:
            self._call(
                f"undefine secret {uuid}", lambda c: c.secretLookupByUUIDString(uuid).undefine()
            )
        except NotFound:
            if not missing_ok:
                raise
            return False
        return True
