"""Applications, runtimes and monitoring agents share one install and one verify format."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import validation as v
from .errors import GuestStepError
from .results import CheckResult
from .session import FileSpec, GuestSession, tail

PACKAGE_TOOLS = {"apt": "apt-get", "dnf": "dnf", "apk": "apk", "zypper": "zypper"}
DEFAULT_SCRIPT_TIMEOUT = 600.0
DEFAULT_PACKAGE_TIMEOUT = 900.0
DEFAULT_VERIFY_TIMEOUT = 30.0
_PIDOF = 'if command -v pidof >/dev/null 2>&1; then exec pidof "$1"; fi; exec pgrep -x "$1"'


def file_specs(entries: Any, pointer: str) -> list[FileSpec]:
    """File entries of a ``files`` install or a ``config`` list, validated."""
    if not isinstance(entries, list):
        raise GuestStepError("files must be a list", pointer=pointer)
    specs = []
    for j, entry in enumerate(entries):
        here = f"{pointer}/{j}"
        if not isinstance(entry, Mapping):
            raise GuestStepError("a file entry must be an object", pointer=here)
        group = entry.get("group")
        specs.append(
            FileSpec(
                path=v.file_path(entry.get("path"), f"{here}/path"),
                data=v.file_content(entry, here),
                mode=v.mode(entry.get("mode", "0644"), f"{here}/mode"),
                owner=v.owner(entry.get("owner", "root"), f"{here}/owner"),
                group=None if group is None else v.owner(group, f"{here}/group"),
                pointer=here,
            )
        )
    return specs


def package_commands(manager: str, package: str, version: str | None) -> list[list[str]]:
    """The commands that install ``package`` (``version`` exact or a glob) with ``manager``."""
    if manager == "apt":
        spec = f"{package}={version}" if version else package
        return [
            ["apt-get", "-q", "update"],
            ["apt-get", "-q", "-y", "-o", "Dpkg::Options::=--force-confold", "install", spec],
        ]
    if manager == "dnf":
        spec = f"{package}-{version}" if version else package
        return [["dnf", "-y", "-q", "install", spec]]
    if manager == "apk":
        if version and "*" in version:
            prefix = version.rstrip("*").rstrip(".")
            if "*" in prefix or not prefix:
                raise ValueError("apk understands a version glob only as a trailing '*'")
            spec = f"{package}~{prefix}"
        else:
            spec = f"{package}={version}" if version else package
        return [["apk", "add", "--no-progress", "--update-cache", spec]]
    if manager == "zypper":
        spec = f"{package}={version}" if version else package
        return [["zypper", "--non-interactive", "install", "--auto-agree-with-licenses", spec]]
    raise ValueError(f"unknown package manager {manager!r}")


def process_ids(session: GuestSession, process: str, *, timeout: float = 10.0) -> list[str]:
    """Pids of the processes named ``process`` (pidof, else pgrep -x)."""
    r = session.sh(
        _PIDOF, process, what=f"pidof {process}", timeout=timeout, check=False, quiet=True
    )
    return r.stdout_text.split() if r.exit_code == 0 else []


class Components:
    """Installs and verifies components through a session."""

    def __init__(self, session: GuestSession) -> None:
        self.s = session
        self._refreshed: set[str] = set()

    # ------------------------------------------------------------------ install

    def install(self, install: Mapping[str, Any], *, pointer: str, label: str) -> None:
        """Run one ``install`` object; ``pointer`` is the install's own pointer."""
        if not isinstance(install, Mapping):
            raise GuestStepError("install must be an object", pointer=pointer)
        method = install.get("method")
        if method == "script":
            script = install.get("script")
            if not isinstance(script, str) or not script:
                raise GuestStepError(
                    "script must be a non-empty string", pointer=f"{pointer}/script"
                )
            self.s.run_script(
                script,
                shell=v.absolute_path(install.get("shell", "/bin/sh"), f"{pointer}/shell"),
                timeout=v.timeout(
                    install.get("timeout"), DEFAULT_SCRIPT_TIMEOUT, f"{pointer}/timeout"
                ),
                what=f"{label}: install script",
                pointer=pointer,
            )
        elif method == "files":
            specs = file_specs(install.get("files"), f"{pointer}/files")
            if not specs:
                raise GuestStepError(
                    "files must list at least one file", pointer=f"{pointer}/files"
                )
            self.s.write_files(specs, what=f"{label}: files")
            then = install.get("then")
            if then is not None:
                if not isinstance(then, str) or not then:
                    raise GuestStepError(
                        "then must be a non-empty script", pointer=f"{pointer}/then"
                    )
                self.s.run_script(
                    then,
                    shell=v.absolute_path(install.get("shell", "/bin/sh"), f"{pointer}/shell"),
                    timeout=v.timeout(
                        install.get("timeout"), DEFAULT_SCRIPT_TIMEOUT, f"{pointer}/timeout"
                    ),
                    what=f"{label}: 'then' script",
                    pointer=f"{pointer}/then",
                )
        elif method == "package":
            self.install_package(install, pointer=pointer, label=label)
        else:
            raise GuestStepError(
                f"unknown install method {method!r} (script, package or files)",
                pointer=f"{pointer}/method",
            )

    def install_package(self, install: Mapping[str, Any], *, pointer: str, label: str) -> None:
        manager = v.choice(install.get("manager"), v.MANAGERS, f"{pointer}/manager", "manager")
        package = v.match(
            v.PACKAGE_RE, install.get("package"), f"{pointer}/package", "package name"
        )
        version = install.get("version")
        if version is not None:
            version = v.match(
                v.PACKAGE_VERSION_RE, version, f"{pointer}/version", "package version"
            )
        timeout = v.timeout(install.get("timeout"), DEFAULT_PACKAGE_TIMEOUT, f"{pointer}/timeout")
        tool = PACKAGE_TOOLS[manager]
        if self.s.command_path(tool) is None:
            raise GuestStepError(
                f"package manager {manager} not available in the guest (no {tool} on its PATH); "
                "this image needs the script or files install method",
                pointer=f"{pointer}/manager",
            )
        try:
            commands = package_commands(manager, package, version)
        except ValueError as exc:
            raise GuestStepError(str(exc), pointer=f"{pointer}/version") from None
        env = {"DEBIAN_FRONTEND": "noninteractive"} if manager == "apt" else None
        for argv in commands:
            if argv[-1] == "update":
                if manager in self._refreshed:
                    continue
                self._refreshed.add(manager)
            self.s.check_cancelled(pointer)
            self.s.run(
                argv,
                what=f"{label}: {' '.join(argv[:1] + argv[-1:])}",
                pointer=pointer,
                timeout=timeout,
                env=env,
            )

    # ------------------------------------------------------------------ verify

    def verify(
        self, verify: Mapping[str, Any], *, pointer: str, name: str, section: str
    ) -> CheckResult:
        """Run one ``verify`` object; never raises for a failed check."""

        def result(expected: str, actual: str, passed: bool, detail: str = "") -> CheckResult:
            return CheckResult(section, pointer, name, "guest", expected, actual, passed, detail)

        try:
            timeout = v.timeout(verify.get("timeout"), DEFAULT_VERIFY_TIMEOUT, f"{pointer}/timeout")
            if "process" in verify:
                process = v.process_name(verify["process"], f"{pointer}/process")
                expected = f"process {process} running"
                pids = process_ids(self.s, process, timeout=timeout)
                if pids:
                    return result(expected, f"running (pid {', '.join(pids)})", True)
                return result(expected, "not running", False)
            argv = v.command(verify.get("command"), f"{pointer}/command")
            want_code = verify.get("expect_exit_code", 0)
            contains = verify.get("expect_output_contains")
            regex = verify.get("expect_output_regex")
            parts = [f"exit {want_code}"]
            if contains is not None:
                parts.append(f"output contains {contains!r}")
            if regex is not None:
                parts.append(f"output matches /{regex}/")
            expected = ", ".join(parts)
            r = self.s.run(argv, what=f"{name}: {argv[0]}", timeout=timeout, check=False)
            if r.timed_out:
                return result(expected, f"no answer within {timeout:g} s", False, "timed out")
            output = r.stdout_text + r.stderr_text
            shown = tail(output, lines=4, chars=300)
            actual = f"exit {r.exit_code}, output {shown!r}"
            problems = []
            if r.exit_code != want_code:
                problems.append(f"exit code {r.exit_code}, not {want_code}")
            if contains is not None and contains not in output:
                problems.append(f"output lacks {contains!r}")
            if regex is not None:
                try:
                    if not re.search(regex, output):
                        problems.append(f"output does not match /{regex}/")
                except re.error as exc:
                    problems.append(f"invalid regular expression: {exc}")
            return result(expected, actual, not problems, "; ".join(problems))
        except GuestStepError as exc:
            return result("a check that runs", "could not run", False, str(exc))
