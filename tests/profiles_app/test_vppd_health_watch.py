"""The VPPD's ``health_watch`` section: schema bounds and the semantic rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from profiles_app.vppd import DocumentError, load_vppd_schema, vppd_errors
from profiles_app.vppd.checks.health import host_problem, url_problem
from profiles_app.vppd.kind import TOP_LEVEL_ORDER

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def minimal(**watch: Any) -> dict:
    return {
        "schema_version": "1.0",
        "name": "minimal",
        "base_image_id": "tiny-linux",
        "resource_allocation": {"vcpus": 1, "memory_mib": 64, "storage_gib": 0.0625},
        "execution_flags": ["Testing"],
        "health_watch": watch,
    }


def with_checks(*checks: dict, **watch: Any) -> dict:
    return minimal(**watch, checks=list(checks))


def tcp(name: str = "web port", **fields: Any) -> dict:
    return {"name": name, "tcp": {"port": 80, **fields}}


def http(
    name: str = "front page",
    url: str = "http://127.0.0.1/",
    *,
    timeout_s: Any = None,
    **fields: Any,
) -> dict:
    check: dict = {"name": name, "http": {"url": url, **fields}}
    if timeout_s is not None:
        check["timeout_s"] = timeout_s
    return check


def messages_at(errors: list[DocumentError], path: str) -> list[str]:
    return [e.message for e in errors if e.path == path]


def assert_only_error(document: dict, path: str, fragment: str) -> None:
    errors = vppd_errors(document)
    assert [e.path for e in errors] == [path], errors
    assert fragment in errors[0].message, errors


# --------------------------------------------------------------------------- valid documents


@pytest.mark.parametrize(
    "watch",
    [
        {},
        {"period_s": 0},
        {"period_s": 0, "interval_s": 3600},  # no watch: the interval does not matter
        {"period_s": 86400, "interval_s": 3600, "failures_to_revert": 20},
        {"period_s": 2, "interval_s": 2, "failures_to_revert": 1, "application_checks": False},
        {"period_s": 10},  # the default interval (10) fits
        {"interval_s": 60},  # the installation's default period: not known here
        {"period_s": 300, "interval_s": 10, "failures_to_revert": 2, "application_checks": True},
        {
            "period_s": 600,
            "checks": [
                tcp(),
                tcp("ssh", host="::1", port=22),
                tcp("db", host="db-1.internal.example", port=5432),
                tcp("peer", host="10.0.0.7", port=65535),
                http(),
                http("health", "https://api.example.com:8443/health?full=1", timeout_s=60),
                http("v6", "http://[::1]:8080/", expect_body_contains="It works"),
                {"name": "short", "tcp": {"port": 1}, "timeout_s": 1},
            ],
        },
    ],
)
def test_valid_health_watch(watch: dict) -> None:
    assert vppd_errors(minimal(**watch)) == []


def test_the_section_is_optional() -> None:
    document = minimal()
    del document["health_watch"]
    assert vppd_errors(document) == []


def test_the_web_server_example_watches_without_extra_checks() -> None:
    document = json.loads((EXAMPLES_DIR / "web-server.json").read_text(encoding="utf-8"))
    assert document["health_watch"] == {
        "period_s": 300,
        "interval_s": 10,
        "failures_to_revert": 2,
        "application_checks": True,
    }
    assert vppd_errors(document) == []


def test_the_section_is_described_and_ordered() -> None:
    schema = load_vppd_schema()
    section = schema["properties"]["health_watch"]
    assert section["additionalProperties"] is False
    props = section["properties"]
    assert set(props) == {
        "period_s",
        "interval_s",
        "failures_to_revert",
        "application_checks",
        "checks",
    }
    assert "VMPERSONA_HEALTH_WATCH_DEFAULT_S" in props["period_s"]["description"]
    assert "default" not in props["period_s"]
    assert props["interval_s"]["default"] == 10
    assert props["failures_to_revert"]["default"] == 2
    assert props["application_checks"]["default"] is True
    check = schema["$defs"]["health_check"]
    assert check["properties"]["timeout_s"]["default"] == 5
    assert schema["$defs"]["health_tcp"]["properties"]["host"]["default"] == "127.0.0.1"
    assert "health_watch" not in schema["required"]
    assert TOP_LEVEL_ORDER[-1] == "health_watch"


# --------------------------------------------------------------------------- schema bounds


@pytest.mark.parametrize(
    ("watch", "path", "fragment"),
    [
        ({"period_s": -1}, "/health_watch/period_s", "at least 0"),
        ({"period_s": 86401}, "/health_watch/period_s", "at most 86400"),
        ({"period_s": 1.5}, "/health_watch/period_s", "integer"),
        ({"period_s": "300"}, "/health_watch/period_s", "integer"),
        ({"interval_s": 1}, "/health_watch/interval_s", "at least 2"),
        ({"interval_s": 3601}, "/health_watch/interval_s", "at most 3600"),
        ({"failures_to_revert": 0}, "/health_watch/failures_to_revert", "at least 1"),
        ({"failures_to_revert": 21}, "/health_watch/failures_to_revert", "at most 20"),
        ({"application_checks": "yes"}, "/health_watch/application_checks", "boolean"),
        ({"checks": {}}, "/health_watch/checks", "array"),
        ({"period": 300}, "/health_watch/period", "did you mean 'period_s'"),
    ],
)
def test_schema_bounds_of_the_settings(watch: dict, path: str, fragment: str) -> None:
    assert_only_error(minimal(**watch), path, fragment)


def test_the_section_must_be_an_object() -> None:
    document = minimal()
    document["health_watch"] = 300
    assert_only_error(document, "/health_watch", "object")


def test_at_most_16_checks() -> None:
    checks = [tcp(f"port {i}", port=1000 + i) for i in range(17)]
    assert_only_error(with_checks(*checks), "/health_watch/checks", "at most 16")
    assert vppd_errors(with_checks(*checks[:16])) == []


@pytest.mark.parametrize(
    ("check", "path", "fragment"),
    [
        ({"tcp": {"port": 80}}, "/health_watch/checks/0", "missing required field 'name'"),
        ({"name": "", "tcp": {"port": 80}}, "/health_watch/checks/0/name", "must not be empty"),
        ({"name": "x" * 65, "tcp": {"port": 80}}, "/health_watch/checks/0/name", "at most 64"),
        ({"name": "two\nlines", "tcp": {"port": 80}}, "/health_watch/checks/0/name", "one line"),
        ({"name": "none"}, "/health_watch/checks/0", "exactly one of tcp or http"),
        (
            {"name": "both", "tcp": {"port": 80}, "http": {"url": "http://127.0.0.1/"}},
            "/health_watch/checks/0",
            "exactly one of tcp or http",
        ),
        ({"name": "t", "tcp": {}}, "/health_watch/checks/0/tcp", "missing required field 'port'"),
        ({"name": "t", "tcp": {"port": 0}}, "/health_watch/checks/0/tcp/port", "at least 1"),
        ({"name": "t", "tcp": {"port": 65536}}, "/health_watch/checks/0/tcp/port", "at most 65535"),
        (
            {"name": "t", "tcp": {"port": 80, "host": ""}},
            "/health_watch/checks/0/tcp/host",
            "empty",
        ),
        (
            {"name": "t", "tcp": {"port": 80, "host": "a" * 254}},
            "/health_watch/checks/0/tcp/host",
            "at most 253",
        ),
        (
            {"name": "t", "tcp": {"port": 80, "proto": "udp"}},
            "/health_watch/checks/0/tcp/proto",
            "unknown field",
        ),
        ({"name": "h", "http": {}}, "/health_watch/checks/0/http", "missing required field 'url'"),
        (
            {"name": "h", "http": {"url": "ftp://127.0.0.1/"}},
            "/health_watch/checks/0/http/url",
            "http:// or https://",
        ),
        (
            {"name": "h", "http": {"url": "http://h/", "expect_body_contains": ""}},
            "/health_watch/checks/0/http/expect_body_contains",
            "must not be empty",
        ),
        (
            {"name": "h", "http": {"url": "http://h/", "expect_body_contains": "x" * 257}},
            "/health_watch/checks/0/http/expect_body_contains",
            "at most 256",
        ),
        (
            {"name": "t", "tcp": {"port": 80}, "timeout_s": 0},
            "/health_watch/checks/0/timeout_s",
            "at least 1",
        ),
        (
            {"name": "t", "tcp": {"port": 80}, "timeout_s": 61},
            "/health_watch/checks/0/timeout_s",
            "at most 60",
        ),
        (
            {"name": "t", "tcp": {"port": 80}, "timeout_s": 2.5},
            "/health_watch/checks/0/timeout_s",
            "integer",
        ),
        (
            {"name": "t", "tcp": {"port": 80}, "timeout": 5},
            "/health_watch/checks/0/timeout",
            "did you mean 'timeout_s'",
        ),
    ],
)
def test_schema_bounds_of_a_check(check: dict, path: str, fragment: str) -> None:
    assert_only_error(with_checks(check), path, fragment)


# --------------------------------------------------------------------------- semantic rules


@pytest.mark.parametrize(("period", "interval"), [(5, 6), (60, 120), (2, 3)])
def test_interval_must_not_exceed_the_period(period: int, interval: int) -> None:
    assert_only_error(
        minimal(period_s=period, interval_s=interval),
        "/health_watch/interval_s",
        f"must not exceed period_s ({period})",
    )


def test_a_period_below_the_default_interval_names_the_period() -> None:
    assert_only_error(minimal(period_s=5), "/health_watch/period_s", "default interval_s of 10")
    assert vppd_errors(minimal(period_s=5, interval_s=5)) == []


def test_check_names_are_unique() -> None:
    errors = vppd_errors(
        with_checks(tcp("web"), http("other"), http("web", "http://127.0.0.1:8080/"))
    )
    assert [e.path for e in errors] == ["/health_watch/checks/2/name"]
    assert "duplicate check name" in errors[0].message
    assert "/health_watch/checks/0/name" in errors[0].message


@pytest.mark.parametrize(
    "host",
    [
        "-e",
        "bad host",
        "web_1",
        "a..b",
        ".example",
        "example-.com",
        "a" * 64 + ".com",
        "1.2.3.4/24",
    ],
)
def test_tcp_host_is_an_address_or_a_dns_name(host: str) -> None:
    assert_only_error(
        with_checks(tcp(host=host)), "/health_watch/checks/0/tcp/host", "not an IP address"
    )


def test_tcp_host_in_the_second_check_is_pointed_at() -> None:
    errors = vppd_errors(with_checks(tcp(), tcp("other", host="no such host")))
    assert [e.path for e in errors] == ["/health_watch/checks/1/tcp/host"]


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http:///path", "has no host"),
        ("http://", "has no host"),
        ("http://127.0.0.1/a b", "whitespace or control characters (U+0020)"),
        ("http://127.0.0.1/\tx", "U+0009"),
        ("http://127.0.0.1/\x7f", "U+007F"),
        ("http://127.0.0.1:99999/", "not a valid URL"),
        ("http://127.0.0.1:0/", "port 0"),
        ("http://user:secret@127.0.0.1/", "user name or password"),
        ("http://bad_host/", "the host of the URL"),
        ("http://-x/", "the host of the URL"),
    ],
)
def test_http_url(url: str, fragment: str) -> None:
    assert_only_error(with_checks(http(url=url)), "/health_watch/checks/0/http/url", fragment)


@pytest.mark.parametrize("fragment", ["two\nlines", "tab\there", "cr\r"])
def test_expect_body_contains_is_one_line(fragment: str) -> None:
    assert_only_error(
        with_checks(http(expect_body_contains=fragment)),
        "/health_watch/checks/0/http/expect_body_contains",
        "single line",
    )


def test_semantic_rules_wait_for_the_schema() -> None:
    # a schema error in the section: the semantic rules of the section do not run
    errors = vppd_errors(with_checks(tcp("web"), tcp("web", port=0), period_s=5, interval_s=6))
    assert [e.path for e in errors] == ["/health_watch/checks/1/tcp/port"]


def test_several_problems_are_all_reported() -> None:
    errors = vppd_errors(
        with_checks(
            tcp("a", host="bad host"),
            http("a", "http:///x", expect_body_contains="a\nb"),
            period_s=30,
            interval_s=60,
        )
    )
    assert [e.path for e in errors] == [
        "/health_watch/checks/0/tcp/host",
        "/health_watch/checks/1/http/expect_body_contains",
        "/health_watch/checks/1/http/url",
        "/health_watch/checks/1/name",
        "/health_watch/interval_s",
    ]


def test_helpers() -> None:
    assert host_problem("127.0.0.1") is None
    assert host_problem("fe80::1") is None
    assert host_problem("localhost") is None
    assert host_problem("x" * 63 + "." + "y" * 63) is None
    assert host_problem("") is not None
    assert url_problem("https://example.com") is None
    assert url_problem("http://[::1]/") is None
    assert url_problem("http://[zz::1]/") is not None
