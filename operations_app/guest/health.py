"""The probes of one health-watch round, run inside the guest through its agent.

After a clone, a migration or a snapshot rollback the VM is watched for a while (the
VPPD's ``health_watch``); each round is ``Health(session).round(document)``:

1. the guest agent answers (``/health_watch``);
2. with ``application_checks`` (the default), each application's ``verify``, the same
   check a clone's verification runs (``/application_manifest/<i>/verify``);
3. each declared check (``/health_watch/checks/<i>``): ``tcp`` connects to host:port
   with ``nc`` (else bash's ``/dev/tcp``); ``http`` fetches the URL with ``wget`` (else
   ``curl``) and looks for ``expect_body_contains`` in the first 64 KiB of the body.

Every probe comes back as a ``CheckResult`` of section ``health``; a failed or
unrunnable probe is a failed result, never an exception. When the agent does not answer,
the round's other probes are reported as not run (each would only wait for the agent in
turn). A cancelled session raises ``GuestCancelled`` between two probes.

Values from the document reach the guest only as argv elements of constant scripts,
after their rules are checked again here.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from operations_app.hypervisor import HypervisorError

from . import validation as v
from .components import Components
from .errors import GuestStepError
from .results import CheckResult
from .session import GuestSession, tail

SECTION = "health"
AGENT_TIMEOUT = 5.0  # seconds the agent has to answer guest-ping
DEFAULT_CHECK_TIMEOUT = 5  # the schema's default timeout_s
GUARD = 5.0  # seconds the host waits beyond a probe's own timeout
BODY_LIMIT = 64 * 1024  # bytes of an HTTP body brought back and searched
NO_TOOL = 90  # exit status of the probe scripts when the guest has none of their tools

# $1 host, $2 port, $3 timeout in seconds. Prints the tool it uses; exits 0 when the
# connection was accepted, NO_TOOL when the guest has neither nc nor bash. busybox nc
# has no -z: with stdin at its end it connects, closes its side and exits 0 when the
# server closes (1 when refused or timed out).
_TCP_PROBE = r"""
if command -v nc >/dev/null 2>&1; then
	echo nc
	exec nc -w "$3" "$1" "$2" </dev/null >/dev/null
fi
if command -v bash >/dev/null 2>&1; then
	echo bash
	exec bash -c 'exec 3<>"/dev/tcp/$1/$2"' probe "$1" "$2" </dev/null
fi
exit 90
"""

# $1 URL, $2 timeout in seconds, $3 bytes of the body to print. Names the tool it uses
# on standard error ("vmp-tool NAME"), prints at most $3 bytes of the body (the rest is
# read and dropped, so the tool never dies of a closed pipe) and exits with the tool's
# status, or NO_TOOL when the guest has neither wget nor curl. wget gets no -T: the
# busybox 1.35 wget of the tiny image has no timeout option and crashes (SIGSEGV) when
# given one; the timeout program bounds it instead (exit 143 from busybox's, 124 from
# coreutils'), else only the host's guard does. "-t 1": one try (busybox ignores it).
_HTTP_PROBE = r"""
fetch() {
	if command -v wget >/dev/null 2>&1; then
		echo "vmp-tool wget" >&2
		if command -v timeout >/dev/null 2>&1; then
			timeout "$2" wget -q -t 1 -O - "$1"
		else
			wget -q -t 1 -O - "$1"
		fi
	elif command -v curl >/dev/null 2>&1; then
		echo "vmp-tool curl" >&2
		curl -fsSL -m "$2" "$1"
	else
		return 90
	fi
}
exec 4>&1
status=$( { { fetch "$1" "$2"; echo "$?" >&3; } | { head -c "$3"; cat >/dev/null; } >&4; } 3>&1 )
exit "${status:-1}"
"""

_TOOL_LINE = "vmp-tool "
_URL_RE = re.compile(r"^https?://[^\s\x00-\x1f\x7f]+\Z")
_NAME_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,64}\Z")
_FRAGMENT_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,256}\Z")

# What a tool's exit status means, where it says more than "failed".
_CURL_EXITS = {
    6: "cannot resolve the host",
    7: "cannot connect",
    22: "HTTP error",
    28: "timed out",
    35: "TLS handshake failed",
    60: "certificate not trusted",
}
_WGET_EXITS = {  # GNU wget; busybox wget exits 1 and says why on standard error
    4: "network failure",
    5: "TLS failure",
    8: "HTTP error",
    124: "timed out",  # from timeout
    143: "timed out",
}


@dataclass(frozen=True)
class _Probe:
    pointer: str
    name: str
    expected: str
    run: Callable[[], CheckResult]


def _int(value: Any, default: int, low: int, high: int, pointer: str, what: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise GuestStepError(f"{what} must be an integer from {low} to {high}", pointer=pointer)
    return value


def _timeout(check: Mapping[str, Any], pointer: str) -> int:
    return _int(
        check.get("timeout_s"), DEFAULT_CHECK_TIMEOUT, 1, 60, f"{pointer}/timeout_s", "timeout_s"
    )


def _host(value: Any, pointer: str) -> str:
    if value is None:
        return "127.0.0.1"
    if isinstance(value, str):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
        if v.HOSTNAME_RE.match(value):  # never starts with "-": not an option to nc
            return value
    raise GuestStepError("host must be an IP address or a DNS name", pointer=pointer)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


class Health:
    """The probes of a health-watch round, through one session."""

    def __init__(self, session: GuestSession, components: Components | None = None) -> None:
        self.s = session
        self.components = components or Components(session)

    # ------------------------------------------------------------------ the round

    def round(self, document: Mapping[str, Any]) -> list[CheckResult]:
        """One round: the agent answers, the applications' verify (with
        ``application_checks``, the default), then each declared check, in that order.
        Never raises for a failed probe; raises ``GuestCancelled`` when the session is
        cancelled between two probes."""
        watch = document.get("health_watch")
        watch = watch if isinstance(watch, Mapping) else {}
        probes: list[_Probe] = []
        if watch.get("application_checks", True) is not False:
            probes.extend(self._application_probes(document.get("application_manifest")))
        checks = watch.get("checks")
        for index, check in enumerate(checks if isinstance(checks, list) else []):
            probes.append(self._check_probe(check, f"/health_watch/checks/{index}"))

        agent = self.agent_answers()
        results = [agent]
        for probe in probes:
            self.s.check_cancelled(probe.pointer)
            if not agent.passed:
                results.append(
                    self._result(
                        probe.pointer,
                        probe.name,
                        probe.expected,
                        "not run: the guest agent does not answer",
                        False,
                    )
                )
                continue
            try:
                results.append(probe.run())
            except (GuestStepError, HypervisorError) as exc:
                results.append(
                    self._result(
                        probe.pointer, probe.name, probe.expected, "could not run", False, str(exc)
                    )
                )
        return results

    # ------------------------------------------------------------------ probes

    def agent_answers(self) -> CheckResult:
        """Whether the guest agent answers a ping within ``AGENT_TIMEOUT`` seconds."""
        name, expected = "guest agent answers", f"an answer within {AGENT_TIMEOUT:g} s"
        started = time.monotonic()
        try:
            answered = self.s.agent.ping(self.s.domain, timeout=AGENT_TIMEOUT)
        except HypervisorError as exc:
            return self._result("/health_watch", name, expected, "no answer", False, str(exc))
        finally:
            self.s.beat()
        elapsed = time.monotonic() - started
        if answered:
            return self._result(
                "/health_watch", name, expected, f"answered in {elapsed:.2f} s", True
            )
        return self._result("/health_watch", name, expected, "no answer", False)

    def _application_probes(self, apps: Any) -> list[_Probe]:
        probes = []
        for index, app in enumerate(apps if isinstance(apps, list) else []):
            if not isinstance(app, Mapping) or not isinstance(app.get("verify"), Mapping):
                continue
            verify = app["verify"]
            pointer = f"/application_manifest/{index}/verify"
            what = "verify command" if "command" in verify else "process"
            name = f"app {app.get('name')} {app.get('version')} {what}"

            def run(
                verify: Mapping[str, Any] = verify, pointer: str = pointer, name: str = name
            ) -> CheckResult:
                return self.components.verify(verify, pointer=pointer, name=name, section=SECTION)

            probes.append(_Probe(pointer, name, "the application's verify passes", run))
        return probes

    def _check_probe(self, check: Any, pointer: str) -> _Probe:
        check = check if isinstance(check, Mapping) else {}
        raw_name = check.get("name")
        name = raw_name if isinstance(raw_name, str) and _NAME_RE.match(raw_name) else pointer
        tcp, http = check.get("tcp"), check.get("http")
        if isinstance(tcp, Mapping) and http is None:
            host, port = tcp.get("host", "127.0.0.1"), tcp.get("port")
            expected = f"tcp {host}:{port} accepts connections"
            return _Probe(pointer, name, expected, lambda: self.tcp(check, pointer, name))
        if isinstance(http, Mapping) and tcp is None:
            fragment = http.get("expect_body_contains")
            expected = f"{http.get('url')} answers 2xx" + (
                f" containing {fragment!r}" if fragment is not None else ""
            )
            return _Probe(pointer, name, expected, lambda: self.http(check, pointer, name))

        def invalid() -> CheckResult:
            raise GuestStepError("give exactly one of tcp or http", pointer=pointer)

        return _Probe(pointer, name, "a tcp or http check", invalid)

    def tcp(self, check: Mapping[str, Any], pointer: str, name: str) -> CheckResult:
        """Connect to ``tcp.host``:``tcp.port`` from inside the guest."""
        timeout = _timeout(check, pointer)
        spec = check["tcp"]
        host = _host(spec.get("host"), f"{pointer}/tcp/host")
        port = _int(spec.get("port"), 0, 1, 65535, f"{pointer}/tcp/port", "port")
        expected = f"tcp {host}:{port} accepts connections"
        r = self.s.run(
            ["/bin/sh", "-c", _TCP_PROBE, "probe", host, str(port), str(timeout)],
            what=f"{name}: tcp {host}:{port}",
            pointer=pointer,
            timeout=timeout + GUARD,
            check=False,
            quiet=True,
        )
        tool = r.stdout_text.strip().splitlines()[-1:] or ["?"]
        detail = tail(r.stderr_text, lines=2, chars=300)
        if r.timed_out:
            return self._result(
                pointer, name, expected, f"no answer within {timeout + GUARD:g} s", False, detail
            )
        if r.exit_code == NO_TOOL:
            return self._result(pointer, name, expected, "no nc or bash in the guest", False)
        if r.exit_code == 0:
            return self._result(pointer, name, expected, f"accepted ({tool[0]})", True)
        said = detail.lower()
        if "refused" in said:
            what = "refused"
        elif "timed out" in said:
            what = f"no connection within {timeout} s"
        else:
            what = "no connection"
        return self._result(
            pointer, name, expected, f"{what} (exit {r.exit_code} from {tool[0]})", False, detail
        )

    def http(self, check: Mapping[str, Any], pointer: str, name: str) -> CheckResult:
        """GET ``http.url`` from inside the guest; the body must hold
        ``expect_body_contains`` when given."""
        timeout = _timeout(check, pointer)
        spec = check["http"]
        url = v.match(_URL_RE, spec.get("url"), f"{pointer}/http/url", "URL")
        fragment = spec.get("expect_body_contains")
        if fragment is not None:
            fragment = v.match(
                _FRAGMENT_RE, fragment, f"{pointer}/http/expect_body_contains", "expected text"
            )
        expected = f"{url} answers 2xx" + (f" containing {fragment!r}" if fragment else "")
        r = self.s.run(
            ["/bin/sh", "-c", _HTTP_PROBE, "probe", url, str(timeout), str(BODY_LIMIT)],
            what=f"{name}: GET {url}",
            pointer=pointer,
            timeout=timeout + GUARD,
            check=False,
            quiet=True,
        )
        tools = [
            ln[len(_TOOL_LINE) :] for ln in r.stderr_text.splitlines() if ln.startswith(_TOOL_LINE)
        ]
        tool = tools[-1] if tools else "?"
        said = "\n".join(ln for ln in r.stderr_text.splitlines() if not ln.startswith(_TOOL_LINE))
        detail = tail(said, lines=2, chars=300)
        if r.timed_out:
            return self._result(
                pointer, name, expected, f"no answer within {timeout + GUARD:g} s", False, detail
            )
        if r.exit_code == NO_TOOL:
            return self._result(pointer, name, expected, "no wget or curl in the guest", False)
        if r.exit_code != 0:
            known = (_CURL_EXITS if tool == "curl" else _WGET_EXITS).get(r.exit_code or 0)
            reason = known or _last_line(said) or "failed"
            return self._result(
                pointer,
                name,
                expected,
                f"{reason} (exit {r.exit_code} from {tool})",
                False,
                detail,
            )
        body = r.stdout.decode("utf-8", "replace")
        size = f"{len(r.stdout)} bytes" + (" or more" if len(r.stdout) >= BODY_LIMIT else "")
        if fragment and fragment not in body:
            excerpt = tail(body, lines=3, chars=120)
            return self._result(
                pointer,
                name,
                expected,
                f"answered ({size}), but the body lacks {fragment!r}",
                False,
                f"body ends with {excerpt!r}" if excerpt else "empty body",
            )
        shown = f"answered 2xx containing {fragment!r}" if fragment else "answered 2xx"
        return self._result(pointer, name, expected, f"{shown} ({tool})", True)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _result(
        pointer: str, name: str, expected: str, actual: str, passed: bool, detail: str = ""
    ) -> CheckResult:
        return CheckResult(SECTION, pointer, name, "guest", expected, actual, passed, detail)
