"""Domain errors of the hypervisor boundary, and the one place libvirt errors become them.

Callers catch these, never ``libvirt.libvirtError``. Every error carries a message meant
for a person (no XML dumps, no tracebacks, never a secret's value), plus the libvirt error
code when there was one, for logs and for tests.
"""

from __future__ import annotations

import logging

import libvirt

from vmpersona.errors import DomainError

logger = logging.getLogger(__name__)

__all__ = [
    "AgentCommandFailed",
    "AgentUnavailable",
    "AlreadyExists",
    "ConnectionFailed",
    "HypervisorError",
    "InvalidSpec",
    "InvalidState",
    "NotFound",
    "OperationFailed",
    "OperationTimeout",
    "Unsupported",
    "translate_libvirt_error",
]


class HypervisorError(DomainError):
    """Base of every error raised by the hypervisor boundary."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.operation = operation

    def __str__(self) -> str:
        return self.message


class ConnectionFailed(HypervisorError):
    """The libvirt daemon could not be reached, or the connection dropped for good."""


class NotFound(HypervisorError):
    """The named domain, volume, pool, network, filter, secret or snapshot does not exist."""


class AlreadyExists(HypervisorError):
    """An object with that name (or usage) already exists."""


class OperationTimeout(HypervisorError):
    """The operation did not finish within its deadline."""

    def __init__(self, message: str, *, timeout: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.timeout = timeout


class OperationAborted(HypervisorError):
    """The operation was stopped on request (a cancelled job) before it finished."""


class AgentUnavailable(HypervisorError):
    """The guest agent does not answer (not running, not connected, or the domain is off)."""


class AgentCommandFailed(HypervisorError):
    """The guest agent answered with an error."""

    def __init__(self, message: str, *, command: str, description: str, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.command = command
        self.description = description


class InvalidSpec(HypervisorError):
    """A spec, name or value was refused before (or by) libvirt: fix the input."""


class Unsupported(HypervisorError):
    """This host, driver or configuration cannot do what was asked."""


class InvalidState(HypervisorError):
    """The object is not in a state that allows the operation (e.g. domain not running)."""


class OperationFailed(HypervisorError):
    """libvirt refused or failed the operation for another reason."""


_NOT_FOUND = {
    libvirt.VIR_ERR_NO_DOMAIN,
    libvirt.VIR_ERR_NO_NETWORK,
    libvirt.VIR_ERR_NO_STORAGE_POOL,
    libvirt.VIR_ERR_NO_STORAGE_VOL,
    libvirt.VIR_ERR_NO_SECRET,
    libvirt.VIR_ERR_NO_NWFILTER,
    libvirt.VIR_ERR_NO_NWFILTER_BINDING,
    libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT,
    libvirt.VIR_ERR_NO_DOMAIN_CHECKPOINT,
    libvirt.VIR_ERR_NO_DOMAIN_METADATA,
    libvirt.VIR_ERR_NO_INTERFACE,
    libvirt.VIR_ERR_NO_NODE_DEVICE,
    libvirt.VIR_ERR_NO_NETWORK_PORT,
    libvirt.VIR_ERR_DEVICE_MISSING,
}
_EXISTS = {
    libvirt.VIR_ERR_DOM_EXIST,
    libvirt.VIR_ERR_NETWORK_EXIST,
    libvirt.VIR_ERR_STORAGE_VOL_EXIST,
    libvirt.VIR_ERR_NETWORK_PORT_EXIST,
}
_INVALID_SPEC = {
    libvirt.VIR_ERR_XML_ERROR,
    libvirt.VIR_ERR_XML_DETAIL,
    libvirt.VIR_ERR_INVALID_ARG,
    libvirt.VIR_ERR_INVALID_SECRET,
}
_UNSUPPORTED = {
    libvirt.VIR_ERR_NO_SUPPORT,
    libvirt.VIR_ERR_CONFIG_UNSUPPORTED,
    libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
    libvirt.VIR_ERR_OPERATION_UNSUPPORTED,
    libvirt.VIR_ERR_MIGRATE_UNSAFE,
}
_CONNECTION = {
    libvirt.VIR_ERR_NO_CONNECT,
    libvirt.VIR_ERR_INVALID_CONN,
    libvirt.VIR_ERR_AUTH_FAILED,
    libvirt.VIR_ERR_AUTH_UNAVAILABLE,
    libvirt.VIR_ERR_RPC,
}
_AGENT = {libvirt.VIR_ERR_AGENT_UNRESPONSIVE, libvirt.VIR_ERR_AGENT_UNSYNCED}
# libvirt reports a dropped or unreachable daemon with these codes from these sources.
_CONNECTION_SOURCES = {libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE}


def libvirt_message(exc: libvirt.libvirtError) -> str:
    """libvirt's own message, first line only (XML parser errors append the document)."""
    text = exc.get_error_message() or str(exc) or "unknown libvirt error"
    return text.strip().splitlines()[0] if text.strip() else "unknown libvirt error"


def is_connection_error(exc: libvirt.libvirtError) -> bool:
    """True when the error says the connection itself is gone (worth one reconnect)."""
    code = exc.get_error_code()
    if code in (libvirt.VIR_ERR_NO_CONNECT, libvirt.VIR_ERR_INVALID_CONN):
        return True
    if code in (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_RPC, libvirt.VIR_ERR_INTERNAL_ERROR):
        if exc.get_error_domain() in _CONNECTION_SOURCES:
            return True
        text = (exc.get_error_message() or "").lower()
        return "client socket is closed" in text or ("connection" in text and "closed" in text)
    return False


def translate_libvirt_error(exc: libvirt.libvirtError, operation: str) -> HypervisorError:
    """Map a libvirt error to the matching domain error, with ``operation`` as context.

    ``operation`` reads like "start domain 'web1'"; it must never hold a secret value.
    """
    code = exc.get_error_code()
    detail = libvirt_message(exc)
    message = f"Cannot {operation}: {detail}"
    kwargs = {"code": code, "operation": operation}
    logger.debug("libvirt error %s (domain %s) during %s", code, exc.get_error_domain(), operation)
    if code in _NOT_FOUND:
        return NotFound(message, **kwargs)
    if code in _EXISTS or (
        code in (libvirt.VIR_ERR_OPERATION_FAILED, libvirt.VIR_ERR_INTERNAL_ERROR)
        and "already" in detail.lower()
        and ("exists" in detail.lower() or "defined" in detail.lower())
    ):
        return AlreadyExists(message, **kwargs)
    if code == libvirt.VIR_ERR_OPERATION_TIMEOUT:
        return OperationTimeout(message, **kwargs)
    if code in _AGENT:
        return AgentUnavailable(message, **kwargs)
    if code in _UNSUPPORTED or (
        code == libvirt.VIR_ERR_INVALID_ARG and "unsupported flags" in detail.lower()
    ):
        return Unsupported(message, **kwargs)
    if code in _INVALID_SPEC:
        return InvalidSpec(message, **kwargs)
    if code in _CONNECTION or is_connection_error(exc):
        return ConnectionFailed(message, **kwargs)
    lowered = detail.lower()
    if code == libvirt.VIR_ERR_OPERATION_INVALID or (
        "already running" in lowered or "not running" in lowered or "is not active" in lowered
    ):
        return InvalidState(message, **kwargs)
    return OperationFailed(message, **kwargs)
