"""verify(): one CheckResult per element, for matching and mismatching guests."""

from __future__ import annotations

import pytest

from operations_app.guest import SECTIONS, CheckResult
from operations_app.guest.provisioner import base_image_matches, hosts_updated
from operations_app.guest.security import _STAT
from operations_app.hypervisor import AgentUnavailable, GuestOsInfo

NGINX_VERIFY = {
    "command": ["/opt/nginx/bin/nginx", "-v"],
    "expect_exit_code": 0,
    "expect_output_contains": "nginx/1.24.0",
    "timeout": 10,
}


def check(guest, verify) -> CheckResult:
    return guest.components.verify(
        verify, pointer="/application_manifest/0/verify", name="app nginx", section="applications"
    )


def test_command_check_passes_on_matching_output_from_stderr_too(guest, agent):
    agent.on("/opt/nginx/bin/nginx", stderr="nginx version: nginx/1.24.0\n")
    c = check(guest, NGINX_VERIFY)
    assert c.passed and c.pointer == "/application_manifest/0/verify" and c.source == "guest"
    assert c.expected == "exit 0, output contains 'nginx/1.24.0'"
    assert agent.raw[-1]["timeout"] == 10


def test_command_check_fails_on_other_version_exit_code_regex(guest, agent):
    agent.on("/opt/nginx/bin/nginx", stdout="nginx version: nginx/1.22.1\n")
    c = check(guest, NGINX_VERIFY)
    assert not c.passed and "output lacks 'nginx/1.24.0'" in c.detail and "1.22.1" in c.actual
    agent.on("/opt/nginx/bin/nginx", exit_code=2, stdout="nginx/1.24.0")
    c = check(guest, NGINX_VERIFY)
    assert not c.passed and c.detail == "exit code 2, not 0"
    c = check(
        guest,
        {
            "command": ["/opt/nginx/bin/nginx"],
            "expect_exit_code": 2,
            "expect_output_regex": r"nginx/1\.2[0-9]\.0$",
        },
    )
    assert c.passed
    c = check(
        guest,
        {
            "command": ["/opt/nginx/bin/nginx"],
            "expect_exit_code": 2,
            "expect_output_regex": r"nginx/9",
        },
    )
    assert not c.passed and "does not match" in c.detail


def test_command_check_timeout_and_missing_program(guest, agent):
    agent.on("/opt/slow", exit_code=None, timed_out=True)
    c = check(guest, {"command": ["/opt/slow"], "timeout": 2})
    assert not c.passed and c.detail == "timed out" and c.actual == "no answer within 2 s"
    agent.on("/opt/none", exit_code=127, stderr="spawn")
    c = check(guest, {"command": ["/opt/none"]})
    assert not c.passed and "No such file or directory" in c.actual


def test_process_check(guest, agent):
    agent.processes["node_exporter"] = "41 42"
    c = check(guest, {"process": "node_exporter"})
    assert c.passed and c.actual == "running (pid 41, 42)"
    c = check(guest, {"process": "postgres"})
    assert not c.passed and c.actual == "not running"


def test_whole_document_every_section_and_pointer(guest, agent, example):
    doc = example("web-server")
    mac = "52:54:00:0a:00:14"
    agent.files["/etc/vmpersona/image"] = b"tiny-linux 1.0 kernel 6.1\n"
    agent.on("/opt/nginx/bin/nginx", stdout="nginx version: nginx/1.24.0\n")
    agent.on(
        lambda a: a[:3] == ["/bin/sh", "-c", "cat /var/www/html/VERSION"], stdout="2024.06.1\n"
    )
    checks = guest.verify(doc, devices={}, macs=[mac], hostname="web1")
    assert all(c.section in SECTIONS for c in checks)
    pointers = [c.pointer for c in checks]
    for expected in [
        "/base_image_id",
        "/name",
        "/application_manifest/0/verify",
        "/application_manifest/0/config/0",
        "/application_manifest/1/verify",
        "/network_configuration/interfaces",
        "/security_profile/groups/0",
        "/security_profile/users/0",
        "/security_profile/permissions/0",
        "/security_profile/permissions/1",
        "/security_profile/intrusion_detection",
        "/security_profile/intrusion_detection/settings/schedule",
        "/monitoring_agents/0/verify",
        "/monitoring_agents/0/config",
    ]:
        assert expected in pointers, expected
    by = {c.pointer: c for c in checks}
    assert by["/base_image_id"].passed
    assert (
        by["/application_manifest/0/verify"].passed and by["/application_manifest/1/verify"].passed
    )
    # nothing was provisioned in this fake guest: the rest fails, each with a reason
    assert not by["/name"].passed
    assert not by["/application_manifest/0/config/0"].passed
    assert (
        not by["/security_profile/users/0"].passed
        and by["/security_profile/users/0"].actual == "missing"
    )
    assert not by["/monitoring_agents/0/verify"].passed


def test_config_file_owner_follows_a_later_permission(guest, agent, example):
    doc = example("database")
    app = doc["application_manifest"][0]
    agent.files["/etc/passwd"] += b"postgres:x:999:999::/var/lib/postgresql:/bin/sh\n"
    agent.files["/etc/group"] += b"postgres:x:999:\n"
    for entry in app["config"]:
        agent.files[entry["path"]] = entry["content"].encode()
    agent.on(
        lambda a: a[:3] == ["/bin/sh", "-c", _STAT] and a[4].endswith("postgresql.conf"),
        stdout="0:0:644:regular file\n",
    )
    agent.on(
        lambda a: a[:3] == ["/bin/sh", "-c", _STAT] and a[4].endswith("pg_hba.conf"),
        stdout="999:999:640:regular file\n",
    )
    checks = guest._verify_config(
        app["config"], "/application_manifest/0/config", "app postgresql", doc
    )
    assert [c.passed for c in checks] == [True, True], [str(c) for c in checks]
    agent.files["/etc/postgresql/15/main/pg_hba.conf"] = b"host all all 0.0.0.0/0 trust\n"
    checks = guest._verify_config(
        app["config"], "/application_manifest/0/config", "app postgresql", doc
    )
    assert not checks[1].passed and checks[1].detail == "content differs"


def test_a_section_that_cannot_be_checked_fails_without_hiding_the_others(
    guest, agent, example, monkeypatch
):
    def broken(*a, **k):
        raise AgentUnavailable("agent gone")

    monkeypatch.setattr(guest.volumes, "verify", broken)
    doc = example("dev-workstation")
    checks = guest.verify(doc, devices={"projects": "/dev/vdb"}, macs=["52:54:00:00:00:01"])
    failed = [c for c in checks if c.pointer == "/data_volume_definitions"]
    assert len(failed) == 1 and not failed[0].passed and "agent gone" in failed[0].detail
    assert any(c.section == "runtime" for c in checks)


@pytest.mark.parametrize(
    ("image", "os_id", "version", "marker", "ok"),
    [
        ("tiny-linux", "tiny-linux", "1.0", None, True),
        ("debian-12", "debian", "12", None, True),
        ("ubuntu-24.04", "ubuntu", "24.04", None, True),
        ("debian-12", "ubuntu", "24.04", None, False),
        ("golden-web", "debian", "12", "golden-web 3", True),
        ("golden-web", "debian", "12", None, False),
    ],
)
def test_base_image_matching(image, os_id, version, marker, ok):
    assert base_image_matches(image, GuestOsInfo(id=os_id, version_id=version), marker) is ok


def test_os_release_expectations_are_compared_exactly(guest, agent):
    checks = guest._verify_base(
        {"base_image_id": "debian-12"}, None, {"ID": "debian", "VERSION_ID": "12"}
    )
    assert not checks[0].passed and "ID is 'tiny-linux'" in checks[0].detail


def test_hosts_file_gets_one_line_for_the_name():
    text = "127.0.0.1\tlocalhost\n127.0.1.1\told\n"
    assert hosts_updated(text, "web1") == "127.0.0.1\tlocalhost\n127.0.1.1\tweb1\n"
    assert hosts_updated(hosts_updated(text, "web1.example.test"), "web1.example.test").endswith(
        "127.0.1.1\tweb1.example.test web1\n"
    )


def test_set_hostname_validates_and_persists(guest, agent):
    guest.set_hostname("web-1")
    assert agent.text("/etc/hostname") == "web-1\n"
    assert agent.ran("hostname", "web-1")
    with pytest.raises(Exception) as err:
        guest.set_hostname("web;reboot")
    assert "host name" in str(err.value)
