"""What the guest agent (``hv.agent``) reports: command results, users, addresses,
interfaces, the OS and filesystems."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._serde import JsonMixin


@dataclass
class ExecResult:
    """Outcome of ``guest-exec``. ``exit_code`` is None when the command timed out."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    signal: int | None = None
    pid: int | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


@dataclass
class GuestUser(JsonMixin):
    name: str
    domain: str | None = None
    login_time: float | None = None


@dataclass
class GuestAddress(JsonMixin):
    type: str
    address: str
    prefix: int | None = None


@dataclass
class GuestInterface(JsonMixin):
    name: str
    mac: str | None = None
    addresses: list[GuestAddress] = field(default_factory=list)


@dataclass
class GuestOsInfo(JsonMixin):
    id: str | None = None
    name: str | None = None
    pretty_name: str | None = None
    version: str | None = None
    version_id: str | None = None
    kernel_release: str | None = None
    kernel_version: str | None = None
    machine: str | None = None


@dataclass
class GuestFilesystem(JsonMixin):
    mountpoint: str
    name: str | None = None
    type: str | None = None
    total_bytes: int | None = None
    used_bytes: int | None = None
    disks: list[str] = field(default_factory=list)
