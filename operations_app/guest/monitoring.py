"""Monitoring agents: install, configuration file, started now and at every boot."""

from __future__ import annotations

import json
import posixpath
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import guestfiles as gf
from . import validation as v
from .boot import Boot
from .components import Components, file_specs, process_ids
from .errors import GuestStepError
from .results import CheckResult
from .session import FileSpec, GuestSession, tail

START_WAIT = 10.0


def config_path(name: str) -> str:
    return f"/etc/{name}/config.json"


def config_text(config: Mapping[str, Any]) -> str:
    return json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def agent_conf(exe: str, process: str, config: str) -> str:
    return f"exec={exe}\nprocess={process}\nconfig={config}\n"


@dataclass
class AgentSpec:
    index: int
    name: str
    version: str
    config: dict
    install: Mapping[str, Any] | None
    verify: Mapping[str, Any]

    @property
    def pointer(self) -> str:
        return f"/monitoring_agents/{self.index}"

    @property
    def process(self) -> str | None:
        return self.verify.get("process")


def agent_specs(agents: Sequence[Mapping[str, Any]]) -> list[AgentSpec]:
    specs = []
    for i, agent in enumerate(agents):
        here = f"/monitoring_agents/{i}"
        if not isinstance(agent, Mapping):
            raise GuestStepError("an agent must be an object", pointer=here)
        config = agent.get("config") or {}
        if not isinstance(config, Mapping):
            raise GuestStepError("config must be an object", pointer=f"{here}/config")
        verify = agent.get("verify")
        if not isinstance(verify, Mapping):
            raise GuestStepError("verify is required", pointer=f"{here}/verify")
        if verify.get("process") is not None:
            v.process_name(verify["process"], f"{here}/verify/process")
        specs.append(
            AgentSpec(
                index=i,
                name=v.component_name(agent.get("name"), f"{here}/name"),
                version=v.version(agent.get("version"), f"{here}/version"),
                config=dict(config),
                install=agent.get("install"),
                verify=verify,
            )
        )
    return specs


def executable_candidates(spec: AgentSpec) -> list[str]:
    """Executable files the agent's own ``files`` install writes, named like the agent or
    its process: the program to keep running."""
    names = {spec.name, *([spec.process] if spec.process else [])}
    install = spec.install or {}
    if install.get("method") != "files":
        return []
    out = []
    for f in file_specs(install.get("files") or [], f"{spec.pointer}/install/files"):
        if int(f.mode, 8) & 0o111 and posixpath.basename(f.path) in names:
            out.append(f.path)
    return out


class Monitoring:
    def __init__(self, session: GuestSession, boot: Boot, components: Components) -> None:
        self.s = session
        self.boot = boot
        self.components = components

    def program(self, spec: AgentSpec) -> str | None:
        for path in executable_candidates(spec):
            return path
        for name in filter(None, [spec.process, spec.name]):
            found = self.s.command_path(name)
            if found:
                return found
        return None

    def deploy(self, agents: Sequence[Mapping[str, Any]]) -> None:
        specs = agent_specs(agents)
        for spec in specs:
            self.s.check_cancelled(spec.pointer)
            label = f"agent {spec.name} {spec.version}"
            if spec.install is not None:
                self.components.install(
                    spec.install, pointer=f"{spec.pointer}/install", label=label
                )
            cfg = config_path(spec.name)
            before = self.s.read_text(cfg)
            text = config_text(spec.config)
            if before != text:
                self.s.write_files(
                    [FileSpec(cfg, text.encode(), mode="0640", pointer=f"{spec.pointer}/config")],
                    what=f"{label}: configuration",
                )
            exe = self.program(spec)
            if exe is None:
                if spec.process:
                    raise GuestStepError(
                        f"{label}: cannot tell what to run: no executable named {spec.process} "
                        "among its files or on the guest's PATH",
                        pointer=spec.pointer,
                    )
                self.s.log(
                    f"{label}: no program named {spec.name} to keep running; its verify command checks it"
                )
                continue
            self.boot.require(f"Starting agent {spec.name}", spec.pointer)
            conf_path = f"{gf.AGENTS_DIR}/{spec.name}.conf"
            conf = agent_conf(exe, spec.process or posixpath.basename(exe), cfg)
            old_conf = self.s.read_text(conf_path)
            if old_conf != conf:
                self.s.write_files(
                    [FileSpec(conf_path, conf.encode(), pointer=spec.pointer)],
                    what=f"{label}: boot registration",
                )
            self.boot.install(
                gf.AGENTS_SCRIPT, gf.AGENTS, pointer=spec.pointer, what="agents boot script"
            )
            changed = (before is not None and before != text) or (
                old_conf is not None and old_conf != conf
            )
            action = "restart-one" if changed else "start-one"
            self.s.run(
                [gf.AGENTS_SCRIPT, action, spec.name],
                what=f"{label}: {action.replace('-one', '')}",
                pointer=spec.pointer,
            )
            if spec.process:
                self.wait_running(spec, label)

    def wait_running(self, spec: AgentSpec, label: str) -> None:
        timeout = v.timeout(
            spec.verify.get("timeout"), START_WAIT, f"{spec.pointer}/verify/timeout"
        )
        deadline = time.monotonic() + timeout
        while True:
            pids = process_ids(self.s, spec.process or spec.name)
            if pids:
                self.s.log(f"{label}: running (pid {', '.join(pids)})")
                return
            if time.monotonic() >= deadline:
                log = self.s.run(
                    ["tail", "-n", "5", f"/var/log/vmpersona/{spec.name}.log"],
                    what="agent log",
                    check=False,
                    quiet=True,
                )
                raise GuestStepError(
                    f"{label}: process {spec.process} is not running {timeout:g} s after the start"
                    + (
                        f"; its log ends: {tail(log.stdout_text, lines=5)}"
                        if log.stdout_text.strip()
                        else ""
                    ),
                    pointer=f"{spec.pointer}/verify/process",
                )
            time.sleep(0.5)

    # ------------------------------------------------------------------ verify

    def verify(self, agents: Sequence[Mapping[str, Any]]) -> list[CheckResult]:
        checks: list[CheckResult] = []
        try:
            specs = agent_specs(agents)
        except GuestStepError as exc:
            return [
                CheckResult(
                    "monitoring",
                    exc.pointer,
                    "monitoring agents",
                    "guest",
                    "valid",
                    "invalid",
                    False,
                    str(exc),
                )
            ]
        for spec in specs:
            label = f"agent {spec.name} {spec.version}"
            checks.append(
                self.components.verify(
                    spec.verify,
                    pointer=f"{spec.pointer}/verify",
                    name=f"{label} verify",
                    section="monitoring",
                )
            )
            cfg = config_path(spec.name)
            text = self.s.read_text(cfg)
            try:
                have = json.loads(text) if text is not None else None
            except ValueError:
                have = "invalid JSON"
            checks.append(
                CheckResult(
                    "monitoring",
                    f"{spec.pointer}/config",
                    f"{label} configuration",
                    "guest",
                    f"{cfg} with {len(spec.config)} setting(s)",
                    "missing" if text is None else f"{cfg} ({len(text)} bytes)",
                    have == spec.config,
                    "" if have == spec.config else "content differs from the profile",
                )
            )
            conf = self.s.read_text(f"{gf.AGENTS_DIR}/{spec.name}.conf")
            if conf is not None or spec.process:
                script = self.s.exists(gf.AGENTS_SCRIPT)
                ok = conf is not None and script
                checks.append(
                    CheckResult(
                        "monitoring",
                        spec.pointer,
                        f"{label} started at boot",
                        "guest",
                        f"registered in {gf.AGENTS_DIR} and started by {gf.AGENTS_SCRIPT}",
                        ("registered" if conf is not None else "not registered")
                        + (", boot script present" if script else ", boot script missing"),
                        ok,
                    )
                )
        return checks
