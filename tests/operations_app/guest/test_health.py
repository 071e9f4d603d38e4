"""Health-watch rounds: the agent, the applications' verify and the declared tcp and
http checks, each a CheckResult of section "health", against the scripted agent."""

from __future__ import annotations

from typing import Any

import pytest

from operations_app.guest import SECTIONS, GuestCancelled, GuestProvisioner
from operations_app.guest import health as health_mod
from operations_app.guest.health import _HTTP_PROBE, _TCP_PROBE, BODY_LIMIT, GUARD, NO_TOOL, Health
from operations_app.guest.session import _KILL_TREE, GuestSession
from operations_app.hypervisor import AgentCommandFailed

from .fakes import FakeAgent, FakeHypervisor


def probe(script: str):
    return lambda argv: argv[:3] == ["/bin/sh", "-c", script]


def probe_calls(agent: FakeAgent, script: str) -> list[list[str]]:
    return [c for c in agent.calls if c[:3] == ["/bin/sh", "-c", script]]


def app(name: str, verify: dict) -> dict:
    return {
        "name": name,
        "version": "1.0",
        "install": {"method": "script", "script": "true"},
        "verify": verify,
    }


def document(*checks: dict, apps: list | None = None, **watch: Any) -> dict:
    doc: dict = {"name": "web", "application_manifest": apps or []}
    doc["health_watch"] = {**watch, "checks": list(checks)}
    return doc


def tcp(name: str = "web port", *, timeout_s: int | None = None, **fields: Any) -> dict:
    check: dict = {"name": name, "tcp": {"port": 80, **fields}}
    if timeout_s is not None:
        check["timeout_s"] = timeout_s
    return check


def http(
    name: str = "front page",
    url: str = "http://127.0.0.1/",
    *,
    timeout_s: int | None = None,
    **fields: Any,
) -> dict:
    check: dict = {"name": name, "http": {"url": url, **fields}}
    if timeout_s is not None:
        check["timeout_s"] = timeout_s
    return check


@pytest.fixture
def health(agent: FakeAgent) -> Health:
    return Health(GuestSession(agent, "gt-unit"))  # type: ignore[arg-type]


def by_pointer(results) -> dict:
    return {r.pointer: r for r in results}


# --------------------------------------------------------------------------- the round


def test_health_is_a_section():
    assert "health" in SECTIONS


def test_round_order_pointers_and_section(health, agent):
    agent.processes["nginx"] = "42"
    agent.on(probe(_TCP_PROBE), stdout="nc\n")
    agent.on(probe(_HTTP_PROBE), stdout="It works\n", stderr="vmp-tool wget\n")
    apps = [
        app("nginx", {"process": "nginx"}),
        {"name": "no-verify", "version": "1"},  # nothing to check
        app("api", {"command": ["/opt/api/check"]}),
    ]
    results = health.round(document(tcp(), http(expect_body_contains="It works"), apps=apps))
    assert [r.pointer for r in results] == [
        "/health_watch",
        "/application_manifest/0/verify",
        "/application_manifest/2/verify",
        "/health_watch/checks/0",
        "/health_watch/checks/1",
    ]
    assert [r.name for r in results] == [
        "guest agent answers",
        "app nginx 1.0 process",
        "app api 1.0 verify command",
        "web port",
        "front page",
    ]
    assert all(r.section == "health" and r.source == "guest" for r in results)
    assert all(r.passed for r in results), [str(r) for r in results]


def test_without_a_health_watch_the_agent_and_the_applications_are_probed(health, agent):
    agent.processes["nginx"] = "42"
    results = health.round({"application_manifest": [app("nginx", {"process": "nginx"})]})
    assert [(r.pointer, r.passed) for r in results] == [
        ("/health_watch", True),
        ("/application_manifest/0/verify", True),
    ]
    assert [r.pointer for r in health.round({})] == ["/health_watch"]


def test_application_checks_can_be_turned_off(health, agent):
    doc = document(apps=[app("nginx", {"process": "nginx"})], application_checks=False)
    results = health.round(doc)
    assert [r.pointer for r in results] == ["/health_watch"]
    assert agent.calls == []


def test_application_verify_pass_and_fail(health, agent):
    agent.on("/opt/api/check", exit_code=3, stderr="database unreachable\n")
    apps = [
        app("nginx", {"process": "nginx"}),  # not running
        app("api", {"command": ["/opt/api/check"], "expect_output_contains": "ok"}),
        app("cli", {"command": ["/opt/cli", "--version"]}),  # exit 0 by default
    ]
    results = by_pointer(health.round(document(apps=apps)))
    nginx = results["/application_manifest/0/verify"]
    assert not nginx.passed and nginx.actual == "not running"
    assert nginx.expected == "process nginx running"
    api = results["/application_manifest/1/verify"]
    assert not api.passed and "exit code 3, not 0" in api.detail and "lacks 'ok'" in api.detail
    assert results["/application_manifest/2/verify"].passed
    assert results["/health_watch"].passed


# --------------------------------------------------------------------------- the agent


def test_agent_down_fails_the_round_without_running_the_other_probes(health, agent):
    agent.ping = lambda domain, timeout=5.0: False  # type: ignore[method-assign]
    doc = document(tcp(), http(), apps=[app("nginx", {"process": "nginx"})])
    results = health.round(doc)
    first, *rest = results
    assert first.pointer == "/health_watch" and first.name == "guest agent answers"
    assert not first.passed and first.actual == "no answer"
    assert first.expected == "an answer within 5 s"
    assert [r.pointer for r in rest] == [
        "/application_manifest/0/verify",
        "/health_watch/checks/0",
        "/health_watch/checks/1",
    ]
    assert all(not r.passed and r.actual.startswith("not run") for r in rest)
    assert rest[1].expected == "tcp 127.0.0.1:80 accepts connections"
    assert agent.calls == []


def test_an_agent_error_is_a_failed_check_not_an_exception(health, agent):
    def broken(domain, timeout=5.0):
        raise AgentCommandFailed("boom", command="guest-ping", description="agent is wedged")

    agent.ping = broken  # type: ignore[method-assign]
    [result] = health.round({})
    assert not result.passed and "boom" in result.detail


def test_agent_answers_reports_the_time(health):
    result = health.agent_answers()
    assert result.passed and result.actual.startswith("answered in ")


# --------------------------------------------------------------------------- tcp


def test_tcp_accepted(health, agent):
    agent.on(probe(_TCP_PROBE), stdout="nc\n")
    [_, result] = health.round(document(tcp(port=8080, timeout_s=3)))
    assert result.passed
    assert result.expected == "tcp 127.0.0.1:8080 accepts connections"
    assert result.actual == "accepted (nc)"
    [call] = probe_calls(agent, _TCP_PROBE)
    assert call == ["/bin/sh", "-c", _TCP_PROBE, "probe", "127.0.0.1", "8080", "3"]
    assert agent.raw[-1]["timeout"] == 3 + GUARD


def test_tcp_refused(health, agent):
    agent.on(
        probe(_TCP_PROBE),
        exit_code=1,
        stdout="nc\n",
        stderr="nc: can't connect to remote host (127.0.0.1): Connection refused\n",
    )
    [_, result] = health.round(document(tcp()))
    assert not result.passed
    assert result.actual == "refused (exit 1 from nc)"
    assert "Connection refused" in result.detail


def test_tcp_connect_timeout_and_bash(health, agent):
    agent.on(probe(_TCP_PROBE), exit_code=1, stdout="bash\n", stderr="nc: timed out\n")
    [_, result] = health.round(document(tcp(host="db.internal", port=5432, timeout_s=2)))
    assert not result.passed and result.actual == "no connection within 2 s (exit 1 from bash)"
    assert result.expected == "tcp db.internal:5432 accepts connections"


def test_tcp_without_a_tool(health, agent):
    agent.on(probe(_TCP_PROBE), exit_code=NO_TOOL)
    [_, result] = health.round(document(tcp()))
    assert not result.passed and result.actual == "no nc or bash in the guest"


def test_tcp_probe_that_hangs_is_stopped_by_the_host_guard(health, agent):
    agent.on(probe(_TCP_PROBE), exit_code=None, timed_out=True)
    [_, result] = health.round(document(tcp(timeout_s=1)))
    assert not result.passed and result.actual == f"no answer within {1 + GUARD:g} s"
    assert agent.sh_calls(_KILL_TREE)  # the probe's processes were stopped


def test_tcp_ipv6_host(health, agent):
    agent.on(probe(_TCP_PROBE), stdout="nc\n")
    [_, result] = health.round(document(tcp(host="::1", port=22)))
    assert result.passed
    assert probe_calls(agent, _TCP_PROBE)[0][4:6] == ["::1", "22"]


@pytest.mark.parametrize(
    ("check", "fragment"),
    [
        (tcp(host="-e"), "host must be an IP address or a DNS name"),
        (tcp(host="a;reboot"), "host must be an IP address or a DNS name"),
        ({"name": "p", "tcp": {"port": 0}}, "port must be an integer from 1 to 65535"),
        (tcp(timeout_s=600), "timeout_s must be an integer from 1 to 60"),
        (http(url="ftp://x/"), "URL 'ftp://x/' is not allowed here"),
        (http(url="http://x/a b"), "is not allowed here"),
        (http(expect_body_contains="a\nb"), "expected text"),
        ({"name": "both", "tcp": {"port": 1}, "http": {"url": "http://x/"}}, "exactly one"),
        ({"name": "none"}, "exactly one"),
    ],
)
def test_values_are_checked_again_before_they_reach_the_guest(health, agent, check, fragment):
    [_, result] = health.round(document(check))
    assert not result.passed and result.actual == "could not run"
    assert fragment in result.detail
    assert result.pointer == "/health_watch/checks/0"
    assert not probe_calls(agent, _TCP_PROBE) and not probe_calls(agent, _HTTP_PROBE)


# --------------------------------------------------------------------------- http


def test_http_answers_with_the_expected_text(health, agent):
    agent.on(probe(_HTTP_PROBE), stdout="<h1>It works</h1>\n", stderr="vmp-tool wget\n")
    check = http(url="http://127.0.0.1:8080/health", expect_body_contains="It works", timeout_s=7)
    [_, result] = health.round(document(check))
    assert result.passed
    assert result.expected == "http://127.0.0.1:8080/health answers 2xx containing 'It works'"
    assert result.actual == "answered 2xx containing 'It works' (wget)"
    [call] = probe_calls(agent, _HTTP_PROBE)
    assert call == [
        "/bin/sh",
        "-c",
        _HTTP_PROBE,
        "probe",
        "http://127.0.0.1:8080/health",
        "7",
        str(BODY_LIMIT),
    ]
    assert agent.raw[-1]["timeout"] == 7 + GUARD


def test_http_without_expected_text_passes_on_success(health, agent):
    agent.on(probe(_HTTP_PROBE), stdout="", stderr="vmp-tool curl\n")
    [_, result] = health.round(document(http()))
    assert result.passed and result.actual == "answered 2xx (curl)"
    assert result.expected == "http://127.0.0.1/ answers 2xx"


def test_http_body_without_the_expected_text(health, agent):
    agent.on(probe(_HTTP_PROBE), stdout="maintenance\n", stderr="vmp-tool wget\n")
    [_, result] = health.round(document(http(expect_body_contains="It works")))
    assert not result.passed
    assert result.actual == "answered (12 bytes), but the body lacks 'It works'"
    assert "maintenance" in result.detail


def test_http_failure_from_busybox_wget(health, agent):
    agent.on(
        probe(_HTTP_PROBE),
        exit_code=1,
        stderr="vmp-tool wget\nwget: server returned error: HTTP/1.1 500 Internal Server Error\n",
    )
    [_, result] = health.round(document(http()))
    assert not result.passed
    assert result.actual == (
        "wget: server returned error: HTTP/1.1 500 Internal Server Error (exit 1 from wget)"
    )
    assert "vmp-tool" not in result.detail


@pytest.mark.parametrize(
    ("tool", "code", "reason"),
    [
        ("curl", 22, "HTTP error"),
        ("curl", 7, "cannot connect"),
        ("curl", 28, "timed out"),
        ("wget", 8, "HTTP error"),
        ("wget", 143, "timed out"),
        ("wget", 124, "timed out"),
    ],
)
def test_http_failure_codes_read_as_words(health, agent, tool, code, reason):
    agent.on(probe(_HTTP_PROBE), exit_code=code, stderr=f"vmp-tool {tool}\n")
    [_, result] = health.round(document(http()))
    assert not result.passed and result.actual == f"{reason} (exit {code} from {tool})"


def test_http_without_a_tool(health, agent):
    agent.on(probe(_HTTP_PROBE), exit_code=NO_TOOL)
    [_, result] = health.round(document(http()))
    assert not result.passed and result.actual == "no wget or curl in the guest"


def test_http_probe_that_hangs(health, agent):
    agent.on(probe(_HTTP_PROBE), exit_code=None, timed_out=True)
    [_, result] = health.round(document(http(timeout_s=2)))
    assert not result.passed and result.actual == f"no answer within {2 + GUARD:g} s"


def test_http_long_body_is_reported_as_cut(health, agent):
    agent.on(probe(_HTTP_PROBE), stdout="x" * BODY_LIMIT, stderr="vmp-tool wget\n")
    [_, result] = health.round(document(http(expect_body_contains="It works")))
    assert not result.passed and f"{BODY_LIMIT} bytes or more" in result.actual


# --------------------------------------------------------------------------- safety


def test_values_are_arguments_never_script_text(health, agent):
    agent.on(probe(_TCP_PROBE), stdout="nc\n")
    agent.on(probe(_HTTP_PROBE), stderr="vmp-tool wget\n", stdout="ok")
    url = "http://127.0.0.1/$(reboot)?a=`id`&b='\"x\"'"
    host = "db-1.internal.example"
    health.round(document(tcp(host=host, port=5432), http(url=url, expect_body_contains="o'k")))
    calls = probe_calls(agent, _TCP_PROBE) + probe_calls(agent, _HTTP_PROBE)
    assert len(calls) == 2
    for call in calls:
        script = call[2]
        assert script in (_TCP_PROBE, _HTTP_PROBE)
        for value in (url, host, "5432", "o'k"):
            assert value not in script
        assert call[3] == "probe"
    assert probe_calls(agent, _TCP_PROBE)[0][4:] == [host, "5432", "5"]
    assert probe_calls(agent, _HTTP_PROBE)[0][4] == url
    # the expected text is looked for on the host, never sent to the guest
    assert all("o'k" not in arg for call in calls for arg in call)


def test_the_scripts_are_constants():
    assert f"exit {NO_TOOL}" in _TCP_PROBE and f"return {NO_TOOL}" in _HTTP_PROBE
    assert "-S" not in _HTTP_PROBE.split() and "-T" not in _HTTP_PROBE.split()
    assert "nc -w" in _TCP_PROBE and "/dev/tcp/" in _TCP_PROBE
    assert "curl -fsSL -m" in _HTTP_PROBE
    assert health_mod.SECTION == "health"


def test_cancellation_stops_between_probes(agent):
    session = GuestSession(agent, "gt-unit", cancelled=lambda: True)  # type: ignore[arg-type]
    with pytest.raises(GuestCancelled) as err:
        Health(session).round(document(tcp()))
    assert err.value.pointer == "/health_watch/checks/0"


# --------------------------------------------------------------------------- provisioner


def test_the_provisioner_runs_a_round(guest: GuestProvisioner, agent, logs):
    agent.processes["nginx"] = "42"
    agent.on(probe(_TCP_PROBE), stdout="nc\n")
    results = guest.health_round(
        document(tcp(), apps=[app("nginx", {"process": "nginx"})], period_s=60)
    )
    assert [(r.pointer, r.passed) for r in results] == [
        ("/health_watch", True),
        ("/application_manifest/0/verify", True),
        ("/health_watch/checks/0", True),
    ]
    assert isinstance(guest.health, Health) and guest.health.s is guest.session


def test_web_server_example_round(guest, agent, example):
    doc = example("web-server")
    agent.on("/opt/nginx/bin/nginx", stderr="nginx version: nginx/1.24.0\n")
    agent.on(["/bin/sh", "-c", "cat /var/www/html/VERSION"], stdout="2024.06.1\n")
    results = guest.health_round(doc)
    assert [(r.pointer, r.passed) for r in results] == [
        ("/health_watch", True),
        ("/application_manifest/0/verify", True),
        ("/application_manifest/1/verify", True),
    ]
    agent.on("/opt/nginx/bin/nginx", exit_code=127, stderr="not found\n")
    results = guest.health_round(doc)
    assert [r.passed for r in results] == [True, False, True]


def test_fake_hypervisor_is_what_the_provisioner_uses(agent):
    guest = GuestProvisioner(FakeHypervisor(agent), "gt-unit")  # type: ignore[arg-type]
    assert guest.health_round({})[0].passed
