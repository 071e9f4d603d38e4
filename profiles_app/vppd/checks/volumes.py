"""Data volumes: unique names and mount points, encryption keys that are held."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from profiles_app.jsondoc.errors import DocumentError, pointer, show
from profiles_app.vppd.checks.common import as_dict, as_list, unique


def check_volumes(
    doc: dict, *, key_ref_exists: Callable[[str], bool] | None = None, **_: Any
) -> Iterator[DocumentError]:
    volumes = as_list(doc.get("data_volume_definitions"))
    base = ("data_volume_definitions",)
    yield from unique(volumes, "name", base, "volume name")
    yield from unique(volumes, "mount_point", base, "mount point")
    if key_ref_exists is None:
        return
    for index, volume in enumerate(volumes):
        encryption = as_dict(as_dict(volume).get("encryption"))
        key_ref = encryption.get("key_ref")
        if (
            encryption.get("enabled") is True
            and isinstance(key_ref, str)
            and not key_ref_exists(key_ref)
        ):
            yield DocumentError(
                pointer((*base, index, "encryption", "key_ref")),
                f"no key named {show(key_ref)} is held",
            )
