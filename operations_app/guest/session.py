"""Every action in the guest goes through one ``GuestSession``.

It runs argv lists through the guest agent (never a shell string built from document
values: where a shell is needed the script is a constant and the values are its
positional arguments), writes files atomically, logs each action with the tail of its
output, beats the heartbeat after each call and turns agent failures into
``GuestStepError`` with the pointer of the element being worked on.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from operations_app.hypervisor import (
    AgentCommandFailed,
    ExecResult,
    GuestAgent,
    HypervisorError,
)

from .errors import GuestCancelled, GuestStepError

logger = logging.getLogger(__name__)

STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_ENV = {"PATH": STD_PATH, "HOME": "/root", "LANG": "C.UTF-8"}
WORK_DIR = "/run/vmpersona/work"
TAIL_CHARS = 2000
TAIL_LINES = 12
MAX_READ = 16 * 1024 * 1024

# Constant shell snippets; document values only ever arrive as "$1", "$2", ...
_RUN_SCRIPT = 'exec "$1" "$2" </dev/null >"$3" 2>"$4"'
_COLLECT = 'tail -c 8192 "$1" 2>/dev/null; tail -c 8192 "$2" >&2 2>/dev/null; rm -f "$1" "$2" "$3"'
_EXEC_ARGS = 'exec "$@"'
_KILL_TREE = r"""
tree() {
	echo "$1"
	for f in $(grep -l "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null); do
		c=${f#/proc/}
		tree "${c%/status}"
	done
}
kill -KILL $(tree "$1") 2>/dev/null
true
"""
# Arguments: quadruples OWNER[:GROUP] MODE TMP FINAL.
_INSTALL_FILES = r"""
i=0
while [ $# -ge 4 ]; do
	if ! chown "$1" "$3" || ! chmod "$2" "$3" || ! mv -f "$3" "$4"; then
		echo "vmp-failed-index $i" >&2
		shift 4
		while [ $# -ge 4 ]; do rm -f "$3"; shift 4; done
		exit 1
	fi
	i=$((i + 1))
	shift 4
done
"""
_COMMAND_PATH = 'command -v "$1"'
_SPAWN_FAILED = re.compile(r"Failed to execute child process .(.+?). \((.+?)\)")


def tail(text: str, *, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    """The last lines of ``text`` (at most ``chars`` characters), stripped."""
    kept = text.strip().splitlines()[-lines:]
    out = "\n".join(kept)
    return out[-chars:]


@dataclass
class FileSpec:
    """A file to put in the guest. ``group`` None means the owner's primary group."""

    path: str
    data: bytes
    mode: str = "0644"
    owner: str = "root"
    group: str | None = None
    pointer: str = ""

    @property
    def owner_spec(self) -> str:
        return f"{self.owner}:{self.group}" if self.group else f"{self.owner}:"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class GuestSession:
    def __init__(
        self,
        agent: GuestAgent,
        domain: str,
        *,
        log: Callable[[str], None] = lambda m: None,
        heartbeat: Callable[[], None] = lambda: None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        self.agent = agent
        self.domain = domain
        self._log = log
        self._heartbeat = heartbeat
        self._cancelled = cancelled
        self._commands: dict[str, str | None] = {}
        self._work_ready = False

    # ------------------------------------------------------------------ plumbing

    def log(self, message: str) -> None:
        logger.debug("%s: %s", self.domain, message)
        self._log(message)

    def beat(self) -> None:
        self._heartbeat()

    def check_cancelled(self, pointer: str = "") -> None:
        if self._cancelled():
            raise GuestCancelled("cancelled", pointer=pointer)

    def _agent_call(self, what: str, pointer: str, fn: Callable[[], object]) -> object:
        try:
            return fn()
        except HypervisorError as exc:
            raise GuestStepError(f"{what}: {exc}", pointer=pointer) from exc
        finally:
            self.beat()

    # ------------------------------------------------------------------ commands

    def run(
        self,
        argv: Sequence[str],
        *,
        what: str,
        pointer: str = "",
        timeout: float = 60.0,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        quiet: bool = False,
    ) -> ExecResult:
        """Run ``argv`` (no shell) and wait up to ``timeout``.

        With ``check``, a non-zero exit, a timeout or a program that cannot be started
        raise ``GuestStepError``; without it they come back as an ``ExecResult``
        (exit code 127 for a program that could not be started).
        """
        argv = list(argv)
        if "/" not in argv[0]:
            # resolve the program on the guest's standard PATH, like a shell would
            argv = ["/bin/sh", "-c", _EXEC_ARGS, "sh", *argv]
        started = time.monotonic()
        try:
            result = self.agent.exec(
                self.domain,
                argv,
                input=input,
                env={**BASE_ENV, **(env or {})},
                timeout=timeout,
            )
        except AgentCommandFailed as exc:
            # guest-exec itself refused: the program does not exist or cannot run
            self.beat()
            found = _SPAWN_FAILED.search(exc.description)
            reason = f"cannot run {found.group(1)}: {found.group(2)}" if found else exc.description
            result = ExecResult(exit_code=127, stdout=b"", stderr=reason.encode())
        except HypervisorError as exc:
            self.beat()
            raise GuestStepError(f"{what}: the guest agent failed: {exc}", pointer=pointer) from exc
        else:
            self.beat()
        elapsed = time.monotonic() - started
        if result.timed_out:
            self.log(f"{what}: timed out after {timeout:g} s; stopping it")
            if result.pid:
                self.kill_tree(result.pid)
            if check:
                raise GuestStepError(f"{what} timed out after {timeout:g} s", pointer=pointer)
            return result
        output = tail(result.stdout_text + ("\n" if result.stdout else "") + result.stderr_text)
        if not quiet:
            self.log(
                f"{what}: exit {result.exit_code} ({elapsed:.1f} s)"
                + (f"\n{output}" if output else "")
            )
        if check and result.exit_code != 0:
            raise GuestStepError(
                f"{what} failed with exit code {result.exit_code}"
                + (
                    f": {tail(result.stderr_text or result.stdout_text, lines=6)}" if output else ""
                ),
                pointer=pointer,
            )
        return result

    def sh(self, script: str, *args: str, what: str, **kwargs) -> ExecResult:
        """Run a constant ``script`` with ``/bin/sh -c``; values go in as ``$1``, ``$2``..."""
        return self.run(["/bin/sh", "-c", script, "sh", *args], what=what, **kwargs)

    def kill_tree(self, pid: int) -> None:
        try:
            self.agent.exec(self.domain, ["/bin/sh", "-c", _KILL_TREE, "sh", str(int(pid))])
        except HypervisorError as exc:
            self.log(f"could not stop process {pid}: {exc}")
        finally:
            self.beat()

    def run_script(
        self,
        text: str,
        *,
        shell: str = "/bin/sh",
        timeout: float,
        what: str,
        pointer: str,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run a document's script: written to a root-only file, run by ``shell`` with
        its output going to files (so a daemon the script starts in the background does
        not hold the call open), then the output tails are collected."""
        self.ensure_work_dir()
        token = uuid.uuid4().hex
        script = f"{WORK_DIR}/{token}.sh"
        out, err = f"{WORK_DIR}/{token}.out", f"{WORK_DIR}/{token}.err"
        self.write_raw(script, text.encode("utf-8"), what=f"{what} (upload)", pointer=pointer)
        result = self.sh(
            _RUN_SCRIPT,
            shell,
            script,
            out,
            err,
            what=what,
            pointer=pointer,
            timeout=timeout,
            env=env,
            check=False,
            quiet=True,
        )
        collected = self.sh(
            _COLLECT,
            out,
            err,
            script,
            what=f"{what} (output)",
            pointer=pointer,
            check=False,
            quiet=True,
        )
        merged = ExecResult(
            exit_code=result.exit_code,
            stdout=collected.stdout,
            stderr=collected.stderr if result.exit_code != 127 else result.stderr,
            timed_out=result.timed_out,
            pid=result.pid,
        )
        output = tail(merged.stdout_text + "\n" + merged.stderr_text)
        if merged.timed_out:
            raise GuestStepError(f"{what} timed out after {timeout:g} s", pointer=pointer)
        self.log(f"{what}: exit {merged.exit_code}" + (f"\n{output}" if output else ""))
        if merged.exit_code != 0:
            detail = tail(merged.stderr_text or merged.stdout_text, lines=6)
            raise GuestStepError(
                f"{what} failed with exit code {merged.exit_code}"
                + (f": {detail}" if detail else ""),
                pointer=pointer,
            )
        return merged

    def command_path(self, name: str) -> str | None:
        """Where ``name`` is on the guest's PATH, or None (cached per session)."""
        if name not in self._commands:
            result = self.sh(_COMMAND_PATH, name, what=f"look for {name}", check=False, quiet=True)
            path = result.stdout_text.strip().splitlines()
            self._commands[name] = path[0] if result.exit_code == 0 and path else None
        return self._commands[name]

    def forget_commands(self) -> None:
        self._commands.clear()

    # ------------------------------------------------------------------ files

    def ensure_work_dir(self) -> None:
        if not self._work_ready:
            self.run(
                ["/bin/sh", "-c", 'mkdir -p "$1" && chmod 0700 "$1"', "sh", WORK_DIR],
                what="prepare the work folder",
                quiet=True,
            )
            self._work_ready = True

    def write_raw(self, path: str, data: bytes, *, what: str, pointer: str = "") -> None:
        """Write ``data`` to ``path`` as is (the parent folder must exist)."""
        self._agent_call(
            what, pointer, lambda: self.agent.file_write(self.domain, path, bytes(data))
        )

    def write_files(self, files: Sequence[FileSpec], *, what: str) -> None:
        """Write each file next to its destination, then set owner and mode and rename it
        into place, so a running program never sees a half-written file."""
        if not files:
            return
        parents = sorted({posixpath.dirname(f.path) for f in files})
        self.run(
            ["mkdir", "-p", *parents],
            what=f"{what}: create folders",
            pointer=files[0].pointer,
            quiet=True,
        )
        args: list[str] = []
        for spec in files:
            self.check_cancelled(spec.pointer)
            base = posixpath.basename(spec.path)[:100]
            tmp = posixpath.join(
                posixpath.dirname(spec.path), f".{base}.vmp-{uuid.uuid4().hex[:12]}"
            )
            self.write_raw(tmp, spec.data, what=f"{what}: write {spec.path}", pointer=spec.pointer)
            args += [spec.owner_spec, spec.mode, tmp, spec.path]
        result = self.sh(
            _INSTALL_FILES,
            *args,
            what=f"{what}: install {len(files)} file(s)",
            check=False,
            quiet=True,
        )
        if result.exit_code != 0:
            index = 0
            for line in result.stderr_text.splitlines():
                if line.startswith("vmp-failed-index "):
                    index = int(line.split()[1])
            spec = files[min(index, len(files) - 1)]
            detail = tail(
                "\n".join(
                    ln
                    for ln in result.stderr_text.splitlines()
                    if not ln.startswith("vmp-failed-index")
                ),
                lines=4,
            )
            raise GuestStepError(
                f"{what}: cannot install {spec.path} (owner {spec.owner_spec.rstrip(':')}, mode "
                f"{spec.mode}), exit code {result.exit_code}" + (f": {detail}" if detail else ""),
                pointer=spec.pointer,
            )
        for spec in files:
            self.log(
                f"{what}: wrote {spec.path} ({len(spec.data)} bytes, {spec.mode}, {spec.owner_spec.rstrip(':')})"
            )

    def read(
        self, path: str, *, what: str = "", pointer: str = "", max_bytes: int = MAX_READ
    ) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        try:
            return self.agent.file_read(self.domain, path, max_bytes=max_bytes)
        except AgentCommandFailed as exc:
            if "no such file or directory" in exc.description.lower():
                return None
            raise GuestStepError(f"{what or 'read ' + path}: {exc}", pointer=pointer) from exc
        except HypervisorError as exc:
            raise GuestStepError(f"{what or 'read ' + path}: {exc}", pointer=pointer) from exc
        finally:
            self.beat()

    def read_text(self, path: str, **kwargs) -> str | None:
        data = self.read(path, **kwargs)
        return None if data is None else data.decode("utf-8", "replace")

    def exists(self, path: str) -> bool:
        result = self.run(["test", "-e", path], what=f"test {path}", check=False, quiet=True)
        return result.exit_code == 0
