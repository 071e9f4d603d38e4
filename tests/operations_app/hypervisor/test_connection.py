"""Connection handling and the mapping of libvirt errors to domain errors."""

from __future__ import annotations

import socket
import threading
import time

import libvirt
import pytest

from operations_app.hypervisor import (
    AlreadyExists,
    ConnectionFailed,
    Hypervisor,
    HypervisorError,
    InvalidSpec,
    InvalidState,
    NotFound,
    OperationFailed,
    OperationTimeout,
    Unsupported,
    redact_uri,
)
from operations_app.hypervisor.errors import is_connection_error, translate_libvirt_error
from vmpersona.errors import DomainError


def _error(code: int, message: str, source: int = libvirt.VIR_FROM_QEMU) -> libvirt.libvirtError:
    exc = libvirt.libvirtError(message)
    exc.err = (code, source, message, 2, None, None, None, 0, 0)
    return exc


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (libvirt.VIR_ERR_NO_DOMAIN, "Domain not found: no domain with matching name 'x'", NotFound),
        (libvirt.VIR_ERR_NO_STORAGE_VOL, "Storage volume not found", NotFound),
        (libvirt.VIR_ERR_NO_NWFILTER, "Network filter not found", NotFound),
        (libvirt.VIR_ERR_NO_SECRET, "Secret not found", NotFound),
        (libvirt.VIR_ERR_STORAGE_VOL_EXIST, "storage volume 'x' exists already", AlreadyExists),
        (
            libvirt.VIR_ERR_OPERATION_FAILED,
            "operation failed: domain 'x' already exists with uuid u",
            AlreadyExists,
        ),
        (libvirt.VIR_ERR_XML_ERROR, "XML error: bad\n<domain>...", InvalidSpec),
        (libvirt.VIR_ERR_CONFIG_UNSUPPORTED, "unsupported configuration: x", Unsupported),
        (libvirt.VIR_ERR_NO_SUPPORT, "this function is not supported", Unsupported),
        (libvirt.VIR_ERR_INVALID_ARG, "unsupported flags (0x4) in function f", Unsupported),
        (libvirt.VIR_ERR_OPERATION_TIMEOUT, "Timed out during operation", OperationTimeout),
        (
            libvirt.VIR_ERR_OPERATION_INVALID,
            "Requested operation is not valid: domain is not running",
            InvalidState,
        ),
        (libvirt.VIR_ERR_NO_CONNECT, "no connection driver available", ConnectionFailed),
        (libvirt.VIR_ERR_AUTH_FAILED, "authentication failed", ConnectionFailed),
        (libvirt.VIR_ERR_INTERNAL_ERROR, "internal error: something", OperationFailed),
    ],
)
def test_error_mapping(code, message, expected):
    error = translate_libvirt_error(_error(code, message), "do thing to 'x'")
    assert type(error) is expected
    assert isinstance(error, HypervisorError) and isinstance(error, DomainError)
    assert str(error).startswith("Cannot do thing to 'x': ")
    assert "\n" not in str(error)  # XML parser context is dropped
    assert error.code == code


def test_connection_errors_recognised():
    assert is_connection_error(
        _error(libvirt.VIR_ERR_SYSTEM_ERROR, "Cannot recv data", libvirt.VIR_FROM_RPC)
    )
    assert is_connection_error(
        _error(libvirt.VIR_ERR_INTERNAL_ERROR, "client socket is closed", libvirt.VIR_FROM_QEMU)
    )
    assert is_connection_error(_error(libvirt.VIR_ERR_NO_CONNECT, "x"))
    # an I/O error about a file is not a dropped connection
    assert not is_connection_error(
        _error(
            libvirt.VIR_ERR_SYSTEM_ERROR,
            "cannot open file '/x': Permission denied",
            libvirt.VIR_FROM_STORAGE,
        )
    )


def test_context_manager_closes(test_hv):
    with Hypervisor.connect("test:///default") as hv:
        assert hv.is_alive()
    assert not hv.is_alive()
    with pytest.raises(ConnectionFailed, match="closed"):
        hv.domains.list()


def test_reconnects_once_when_the_connection_is_gone():
    hv = Hypervisor.connect("test:///default")
    try:
        hv._conn.close()  # what a daemon restart looks like from here: a dead handle
        assert not hv.is_alive()
        assert "test" in {d.name for d in hv.domains.list()}
        assert hv.reconnects == 1 and hv.is_alive()
    finally:
        hv.close()


def test_unknown_driver_fails_cleanly():
    with pytest.raises(ConnectionFailed) as info:
        Hypervisor.connect("nosuchdriver:///system", timeout=5)
    assert "nosuchdriver:///system" in str(info.value)


def test_missing_socket_fails_cleanly(tmp_path):
    uri = f"qemu+unix:///system?socket={tmp_path}/absent.sock"
    with pytest.raises(ConnectionFailed, match="Cannot connect"):
        Hypervisor.connect(uri, timeout=5, keepalive_interval=None)


def test_silent_daemon_times_out(tmp_path):
    """A socket that accepts but never answers must not hang the caller."""
    path = str(tmp_path / "silent.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(ConnectionFailed, match="no answer within 1s"):
            Hypervisor.connect(
                f"qemu+unix:///system?socket={path}", timeout=1, keepalive_interval=None
            )
        assert time.monotonic() - started < 5
    finally:
        for conn in held:
            conn.close()
        server.close()


def test_redact_uri():
    assert redact_uri("qemu+ssh://root:s3cret@host-b/system") == "qemu+ssh://root:***@host-b/system"
    assert redact_uri("qemu:///system") == "qemu:///system"
