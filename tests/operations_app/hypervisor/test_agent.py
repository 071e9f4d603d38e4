"""Guest-agent protocol handling against a simulated agent (the real one: integration)."""

from __future__ import annotations

import base64
import json

import libvirt
import pytest

from operations_app.hypervisor import (
    AgentCommandFailed,
    AgentUnavailable,
    GuestAgent,
    GuestOsInfo,
    InvalidSpec,
    Unsupported,
)
from operations_app.hypervisor.agent import CHUNK, agent_error


class FakeGuest:
    """Speaks the subset of the QEMU guest agent protocol the boundary uses."""

    def __init__(self) -> None:
        self.files: dict[str, bytearray] = {"/etc/hostname": bytearray(b"tiny\n")}
        self.handles: dict[int, tuple[str, int]] = {}
        self.processes: dict[int, dict] = {}
        self.log: list[dict] = []
        self.available = True
        self.next_id = 100

    def __call__(self, domain: str, payload: str, timeout: int) -> str:
        assert domain == "pt-guest" and timeout >= 1
        request = json.loads(payload)
        self.log.append(request)
        if not self.available:
            raise AgentUnavailable("The guest agent of 'pt-guest' is not available")
        handler = getattr(self, request["execute"].replace("-", "_"))
        try:
            return json.dumps({"return": handler(**request.get("arguments", {}))})
        except LookupError as exc:
            return json.dumps({"error": {"class": "GenericError", "desc": str(exc.args[0])}})

    def guest_ping(self):
        return {}

    def guest_exec(self, path, arg=(), env=(), **kw):
        assert kw.pop("capture-output") is True
        stdin = base64.b64decode(kw.pop("input-data", ""))
        pid = self.next_id = self.next_id + 1
        argv = [path, *arg]
        if argv[0] == "cat":
            proc = {"exited": True, "exitcode": 0, "out-data": base64.b64encode(stdin).decode()}
        elif argv[0] == "env":
            out = "\n".join(env).encode()
            proc = {"exited": True, "exitcode": 0, "out-data": base64.b64encode(out).decode()}
        elif argv[0] == "false":
            err = base64.b64encode(b"it failed\n").decode()
            proc = {"exited": True, "exitcode": 1, "err-data": err}
        elif argv[0] == "sleep":
            proc = {"exited": False}
        elif argv[0] == "chmod":
            proc = {"exited": True, "exitcode": 0}
        else:
            raise LookupError(
                f"Failed to execute child process “{path}” (No such file or directory)"
            )
        self.processes[pid] = proc
        return {"pid": pid}

    def guest_exec_status(self, pid):
        return self.processes[pid]

    def guest_file_open(self, path, mode):
        if path.startswith("/missing/"):
            raise LookupError(
                f"failed to open file '{path}' (mode: '{mode}'): No such file or directory"
            )
        if mode == "w":
            self.files[path] = bytearray()
        elif mode == "a":
            self.files.setdefault(path, bytearray())
        elif path not in self.files:
            raise LookupError(f"failed to open file '{path}'")
        self.next_id += 1
        self.handles[self.next_id] = (path, 0)
        return self.next_id

    def guest_file_write(self, handle, **kw):
        path, _ = self.handles[handle]
        data = base64.b64decode(kw["buf-b64"])
        self.files[path] += data
        return {"count": len(data), "eof": False}

    def guest_file_read(self, handle, count):
        path, pos = self.handles[handle]
        data = bytes(self.files[path][pos : pos + count])
        self.handles[handle] = (path, pos + len(data))
        return {
            "count": len(data),
            "buf-b64": base64.b64encode(data).decode(),
            "eof": pos + len(data) >= len(self.files[path]),
        }

    def guest_file_flush(self, handle):
        return {}

    def guest_file_close(self, handle):
        del self.handles[handle]
        return {}

    def guest_get_users(self):
        return [{"user": "root", "login-time": 1700000000.5}]

    def guest_network_get_interfaces(self):
        return [
            {
                "name": "eth0",
                "hardware-address": "52:54:00:12:34:56",
                "ip-addresses": [
                    {"ip-address-type": "ipv4", "ip-address": "10.231.0.10", "prefix": 24},
                    {"ip-address-type": "ipv6", "ip-address": "fe80::1", "prefix": 64},
                ],
            },
            {"name": "lo", "hardware-address": "00:00:00:00:00:00"},
        ]

    def guest_get_osinfo(self):
        return {
            "id": "tiny",
            "name": "Tiny Linux",
            "kernel-release": "6.1.0-56-cloud-amd64",
            "machine": "x86_64",
        }

    def guest_get_fsinfo(self):
        return [
            {
                "name": "vda",
                "mountpoint": "/",
                "type": "ext4",
                "total-bytes": 100,
                "used-bytes": 40,
                "disk": [{"serial": "root0", "dev": "/dev/vda"}],
            }
        ]


@pytest.fixture
def guest() -> FakeGuest:
    return FakeGuest()


@pytest.fixture
def agent(guest) -> GuestAgent:
    return GuestAgent(None, transport=guest)


def test_exec_captures_output_and_exit_code(agent, guest):
    result = agent.exec("pt-guest", ["cat"], input=b"hello \x00 world")
    assert result.ok and result.exit_code == 0 and result.stdout == b"hello \x00 world"
    failed = agent.exec("pt-guest", ["false"])
    assert failed.exit_code == 1 and failed.stderr_text == "it failed\n" and not failed.ok
    env = agent.exec("pt-guest", ["env"], env={"A": "1", "B": "x y"})
    assert env.stdout_text.splitlines() == ["A=1", "B=x y"]


def test_exec_times_out_without_exit_code(agent):
    result = agent.exec("pt-guest", ["sleep", "100"], timeout=0.3, poll_interval=0.05)
    assert result.timed_out and result.exit_code is None and not result.ok


def test_exec_refuses_bad_argv(agent):
    for argv in ([], "ls -l", ["ls", 3]):
        with pytest.raises(InvalidSpec):
            agent.exec("pt-guest", argv)


def test_agent_error_carries_description(agent):
    with pytest.raises(AgentCommandFailed) as info:
        agent.exec("pt-guest", ["/no/such/binary"])
    assert info.value.command == "guest-exec"
    assert "No such file or directory" in info.value.description


def test_file_write_and_read_round_trip(agent, guest):
    data = bytes(range(256)) * (CHUNK // 256 + 3)  # more than one chunk
    assert agent.file_write("pt-guest", "/tmp/blob", data) == len(data)
    assert guest.files["/tmp/blob"] == data
    assert agent.file_read("pt-guest", "/tmp/blob") == data
    writes = [r for r in guest.log if r["execute"] == "guest-file-write"]
    assert len(writes) == 2
    agent.file_write("pt-guest", "/tmp/blob", b"tail", append=True)
    assert agent.file_read("pt-guest", "/tmp/blob").endswith(b"tail")
    assert guest.handles == {}  # every handle closed


def test_file_write_permissions_use_chmod(agent, guest):
    agent.file_write(
        "pt-guest", "/root/.ssh/authorized_keys", b"ssh-ed25519 AAAA", permissions=0o600
    )
    chmod = [r for r in guest.log if r["execute"] == "guest-exec"][-1]["arguments"]
    assert chmod["path"] == "chmod" and chmod["arg"] == ["600", "/root/.ssh/authorized_keys"]


def test_file_errors(agent, guest):
    with pytest.raises(AgentCommandFailed, match="No such file"):
        agent.file_write("pt-guest", "/missing/x", b"x")
    with pytest.raises(AgentCommandFailed):
        agent.file_read("pt-guest", "/etc/nope")
    guest.files["/big"] = bytearray(b"x" * 5000)
    with pytest.raises(Exception, match="larger than 100 bytes"):
        agent.file_read("pt-guest", "/big", max_bytes=100)
    assert guest.handles == {}


def test_inventory(agent):
    [user] = agent.users("pt-guest")
    assert user.name == "root" and user.login_time == 1700000000.5
    eth0, lo = agent.network_interfaces("pt-guest")
    assert eth0.mac == "52:54:00:12:34:56"
    assert [(a.type, a.address, a.prefix) for a in eth0.addresses] == [
        ("ipv4", "10.231.0.10", 24),
        ("ipv6", "fe80::1", 64),
    ]
    assert lo.addresses == []
    assert agent.os_info("pt-guest") == GuestOsInfo(
        id="tiny", name="Tiny Linux", kernel_release="6.1.0-56-cloud-amd64", machine="x86_64"
    )
    [fs] = agent.filesystems("pt-guest")
    assert (fs.mountpoint, fs.type, fs.total_bytes, fs.disks) == ("/", "ext4", 100, ["root0"])


def test_ping_and_wait(agent, guest):
    assert agent.ping("pt-guest")
    guest.available = False
    assert not agent.ping("pt-guest")
    with pytest.raises(AgentUnavailable, match="did not answer within 0.5s"):
        agent.wait_for_agent("pt-guest", timeout=0.5, interval=0.1)
    guest.available = True
    assert agent.wait_for_agent("pt-guest", timeout=5) >= 0


def _libvirt_error(code: int, message: str) -> libvirt.libvirtError:
    exc = libvirt.libvirtError(message)
    exc.err = (code, libvirt.VIR_FROM_QEMU, message, 2, None, None, None, 0, 0)
    return exc


def test_libvirt_agent_errors_mapped():
    failed = agent_error(
        _libvirt_error(
            libvirt.VIR_ERR_INTERNAL_ERROR,
            "internal error: unable to execute QEMU agent command 'guest-file-open': "
            "Failed to open file '/x': No such file or directory",
        ),
        domain="d",
        command="guest-file-open",
    )
    assert isinstance(failed, AgentCommandFailed)
    assert failed.description == "Failed to open file '/x': No such file or directory"
    for code in (
        libvirt.VIR_ERR_AGENT_UNRESPONSIVE,
        libvirt.VIR_ERR_OPERATION_INVALID,
        libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
    ):
        assert isinstance(
            agent_error(_libvirt_error(code, "x"), domain="d", command="c"), AgentUnavailable
        )
    assert isinstance(
        agent_error(_libvirt_error(libvirt.VIR_ERR_NO_SUPPORT, "x"), domain="d", command="c"),
        Unsupported,
    )


def test_test_driver_has_no_agent(test_hv):
    with pytest.raises(Unsupported):
        test_hv.agent.ping("test")
