"""A scripted stand-in for the guest agent: records every command, keeps written files
in memory, emulates the few helpers the library relies on, and answers everything else
from rules a test sets (exit 0 and no output by default)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from operations_app.guest import components
from operations_app.guest import session as session_mod
from operations_app.hypervisor import (
    AgentCommandFailed,
    ExecResult,
    GuestAddress,
    GuestInterface,
    GuestOsInfo,
)

SHELL_WRAP = ["/bin/sh", "-c", session_mod._EXEC_ARGS, "sh"]


def effective(argv: Sequence[str]) -> list[str]:
    """The command as the guest runs it (without the PATH-resolving wrapper)."""
    argv = list(argv)
    if argv[:4] == SHELL_WRAP:
        return argv[4:]
    return argv


@dataclass
class Rule:
    match: Callable[[list[str]], bool]
    result: ExecResult
    effect: Callable[[list[str]], None] | None = None
    times: int | None = None


@dataclass
class Meta:
    owner: str = "root:"
    mode: str = "0644"


@dataclass
class FakeAgent:
    files: dict[str, bytes] = field(default_factory=dict)
    meta: dict[str, Meta] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=lambda: {"/", "/etc", "/etc/init.d", "/run"})
    commands: dict[str, str] = field(default_factory=dict)  # name -> path, for "command -v"
    calls: list[list[str]] = field(default_factory=list)
    raw: list[dict] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    nics: list[GuestInterface] = field(default_factory=list)
    os: GuestOsInfo = field(
        default_factory=lambda: GuestOsInfo(
            id="tiny-linux",
            name="VM Persona tiny Linux",
            pretty_name="VM Persona tiny Linux",
            version_id="1.0",
        )
    )
    writes: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)  # texts of document scripts run
    processes: dict[str, str] = field(default_factory=dict)  # name -> "pid pid", for pidof
    next_pid: int = 100

    # ------------------------------------------------------------------ test helpers

    def on(
        self,
        match: str | Sequence[str] | Callable[[list[str]], bool],
        *,
        exit_code: int | None = 0,
        stdout: str | bytes = b"",
        stderr: str | bytes = b"",
        timed_out: bool = False,
        effect: Callable[[list[str]], None] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer commands that match: a callable, an argv prefix (list), or the name of
        the program (with or without its folder)."""
        if callable(match):
            pred = match
        elif isinstance(match, str):
            pred = lambda argv, m=match: bool(argv) and m in (argv[0], posixpath.basename(argv[0]))  # noqa: E731
        else:
            prefix = list(match)
            pred = lambda argv, p=prefix: argv[: len(p)] == p  # noqa: E731
        out = stdout.encode() if isinstance(stdout, str) else stdout
        err = stderr.encode() if isinstance(stderr, str) else stderr
        self.rules.append(
            Rule(
                pred,
                ExecResult(exit_code=exit_code, stdout=out, stderr=err, timed_out=timed_out),
                effect,
                times,
            )
        )

    def has_command(self, *names: str) -> None:
        for name in names:
            self.commands[name] = f"/usr/bin/{name}"

    def nic(self, name: str, mac: str, *addresses: str) -> None:
        addrs = []
        for a in addresses:
            ip, _, prefix = a.partition("/")
            addrs.append(GuestAddress(type="ipv4", address=ip, prefix=int(prefix or 32)))
        self.nics.append(GuestInterface(name=name, mac=mac, addresses=addrs))

    def ran(self, *words: str) -> list[list[str]]:
        """Recorded commands whose argv starts with ``words``."""
        return [c for c in self.calls if c[: len(words)] == list(words)]

    def sh_calls(self, script: str) -> list[list[str]]:
        """Arguments ($1...) of recorded ``/bin/sh -c script`` calls."""
        return [c[4:] for c in self.calls if c[:3] == ["/bin/sh", "-c", script]]

    def text(self, path: str) -> str:
        return self.files[path].decode()

    # ------------------------------------------------------------------ agent API

    def exec(
        self, domain, argv, *, input=None, env=None, timeout=60.0, poll_interval=0.1
    ) -> ExecResult:
        argv = list(argv)
        eff = effective(argv)
        self.calls.append(eff)
        self.raw.append({"argv": argv, "input": input, "env": dict(env or {}), "timeout": timeout})
        self.next_pid += 1
        for rule in reversed(self.rules):
            if rule.times == 0:
                continue
            if rule.match(eff):
                if rule.times is not None:
                    rule.times -= 1
                if rule.effect:
                    rule.effect(eff)
                if rule.result.exit_code == 127 and rule.result.stderr == b"spawn":
                    raise AgentCommandFailed(
                        "guest-exec failed",
                        command="guest-exec",
                        description=f"Failed to execute child process “{eff[0]}” (No such file or directory)",
                    )
                r = rule.result
                return ExecResult(r.exit_code, r.stdout, r.stderr, r.timed_out, pid=self.next_pid)
        return self.emulate(eff)

    def emulate(self, argv: list[str]) -> ExecResult:
        ok = ExecResult(exit_code=0, stdout=b"", stderr=b"", pid=self.next_pid)
        if argv[:3] == ["/bin/sh", "-c", session_mod._COMMAND_PATH]:
            path = self.commands.get(argv[4])
            return ExecResult(
                0 if path else 1, (path + "\n").encode() if path else b"", b"", pid=self.next_pid
            )
        if argv[:3] == ["/bin/sh", "-c", components._PIDOF]:
            pids = self.processes.get(argv[4])
            return ExecResult(
                0 if pids else 1, f"{pids}\n".encode() if pids else b"", b"", pid=self.next_pid
            )
        if argv[:2] == ["test", "-e"]:
            exists = argv[2] in self.files or argv[2] in self.dirs
            return ExecResult(0 if exists else 1, b"", b"", pid=self.next_pid)
        if argv[:2] == ["mkdir", "-p"]:
            self.dirs.update(argv[2:])
            return ok
        if argv[:2] == ["/bin/sh", "-c"] and argv[2].startswith('mkdir -p "$1"'):
            self.dirs.add(argv[4])
            return ok
        if argv[:3] == ["/bin/sh", "-c", session_mod._INSTALL_FILES]:
            args = argv[4:]
            for i in range(0, len(args), 4):
                owner, mode, tmp, final = args[i : i + 4]
                self.files[final] = self.files.pop(tmp)
                self.meta[final] = Meta(owner, mode)
                self.writes.append(final)
            return ok
        if argv[:3] == ["/bin/sh", "-c", session_mod._RUN_SCRIPT]:
            shell, script, out, err = argv[4:8]
            result = self._script(shell, self.files.get(script, b"").decode())
            self.files[out] = result.stdout
            self.files[err] = result.stderr
            return ExecResult(result.exit_code, b"", b"", result.timed_out, pid=self.next_pid)
        if argv[:3] == ["/bin/sh", "-c", session_mod._COLLECT]:
            out, err, script = argv[4:7]
            stdout, stderr = self.files.pop(out, b""), self.files.pop(err, b"")
            self.files.pop(script, None)
            return ExecResult(0, stdout, stderr, pid=self.next_pid)
        return ok

    def _script(self, shell: str, text: str) -> ExecResult:
        """Scripts the document runs: rules match ["script", text]."""
        self.scripts.append(text)
        for rule in reversed(self.rules):
            if rule.times != 0 and rule.match(["script", text]):
                if rule.times is not None:
                    rule.times -= 1
                return rule.result
        return ExecResult(0, b"", b"")

    def file_write(
        self, domain, path, data, *, append=False, permissions=None, timeout=30.0
    ) -> int:
        parent = posixpath.dirname(path)
        if parent not in self.dirs and not any(d == parent for d in self.dirs):
            raise AgentCommandFailed(
                "open failed",
                command="guest-file-open",
                description=f"failed to open file '{path}': No such file or directory",
            )
        self.files[path] = bytes(data)
        return len(data)

    def file_read(self, domain, path, *, max_bytes=16 * 1024 * 1024, timeout=30.0) -> bytes:
        if path not in self.files:
            raise AgentCommandFailed(
                "open failed",
                command="guest-file-open",
                description=f"failed to open file '{path}' (mode: 'r'): No such file or directory",
            )
        return self.files[path]

    def network_interfaces(self, domain, *, timeout=10.0):
        return list(self.nics)

    def os_info(self, domain, *, timeout=10.0):
        return self.os

    def wait_for_agent(self, domain, *, timeout=None, interval=1.0) -> float:
        return 0.0

    def ping(self, domain, *, timeout=5.0) -> bool:
        return True

    def shutdown(self, domain, *, reboot=False) -> None:
        self.calls.append(["<guest-shutdown>", "reboot" if reboot else "poweroff"])


class FakeHypervisor:
    def __init__(self, agent: FakeAgent) -> None:
        self.agent = agent
