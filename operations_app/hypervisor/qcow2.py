"""Just enough of the qcow2 header to re-point an overlay at another backing file.

A linked clone copied to another host as a file still names the source host's copy of
the base image. ``rewrite_backing`` changes that name in the header (what ``qemu-img
rebase -u`` does, for a file that is being streamed rather than one on a local disk).
The name sits in the first cluster after the header and its extensions; the new one
must fit there too.
"""

from __future__ import annotations

import struct

from .errors import InvalidSpec

MAGIC = b"QFI\xfb"
HEADER_BYTES = 72  # version 2 header; version 3 adds fields after byte 72


def header_needed(first: bytes) -> int:
    """How many leading bytes ``rewrite_backing`` needs (the first cluster), from at
    least the first 24 bytes of the file; 0 when it is not a qcow2 file."""
    if len(first) < 24 or first[:4] != MAGIC:
        return 0
    cluster_bits = struct.unpack(">I", first[20:24])[0]
    if not 9 <= cluster_bits <= 21:
        raise InvalidSpec(f"qcow2 header: cluster_bits {cluster_bits} out of range")
    return 1 << cluster_bits


def backing_file(data: bytes) -> str | None:
    """The backing file named in a qcow2 header (None when there is none)."""
    if len(data) < HEADER_BYTES or data[:4] != MAGIC:
        return None
    offset, size = struct.unpack(">QI", data[8:20])
    if not offset or not size:
        return None
    return data[offset : offset + size].decode("utf-8", errors="replace")


def rewrite_backing(data: bytes, new_path: str) -> bytes:
    """``data`` (at least the first cluster of a qcow2 file) with its backing file name
    replaced by ``new_path``. Unchanged when the file names no backing file."""
    need = header_needed(data)
    if not need or len(data) < min(need, HEADER_BYTES):
        raise InvalidSpec("not the start of a qcow2 file")
    offset, size = struct.unpack(">QI", data[8:20])
    if not offset or not size:
        return data
    name = new_path.encode()
    if not name or b"\x00" in name or len(name) > 1023:
        raise InvalidSpec("backing file path must be 1 to 1023 bytes without NUL")
    if offset + max(size, len(name)) > need or len(data) < offset + max(size, len(name)):
        raise InvalidSpec("the new backing file name does not fit in the qcow2 header cluster")
    out = bytearray(data)
    out[offset : offset + size] = b"\x00" * size
    out[offset : offset + len(name)] = name
    out[16:20] = struct.pack(">I", len(name))
    return bytes(out)
