"""Applications, runtimes: install methods, order, failures, verification items."""

from __future__ import annotations

import pytest

from operations_app.guest import GuestCancelled, GuestProvisioner, GuestStepError
from operations_app.guest.components import package_commands
from operations_app.guest.provisioner import install_order
from operations_app.guest.session import _RUN_SCRIPT

from .fakes import FakeHypervisor


def app(name, install, **extra):
    return {
        "name": name,
        "version": "1.0",
        "install": install,
        "verify": {"command": ["true"]},
        **extra,
    }


def test_web_server_apps_files_then_config(guest, agent, example):
    apps = example("web-server")["application_manifest"]
    guest.install_applications(apps)
    assert agent.meta["/opt/nginx/bin/nginx"].mode == "0755"
    assert agent.meta["/opt/nginx/VERSION"].mode == "0644"
    assert agent.text("/opt/nginx/VERSION") == "1.24.0\n"
    assert agent.meta["/etc/nginx/nginx.conf"].owner == "root:"
    # the files were written before the 'then' script ran, the config after it
    writes = agent.writes
    assert writes.index("/opt/nginx/bin/nginx") < writes.index("/etc/nginx/nginx.conf")


def test_dependencies_first_even_when_listed_later():
    apps = [
        {"name": "b", "depends_on": ["a"]},
        {"name": "a"},
        {"name": "c", "depends_on": ["b", "a"]},
    ]
    assert install_order(apps) == [1, 0, 2]


@pytest.mark.parametrize(
    ("apps", "pointer"),
    [
        ([{"name": "a", "depends_on": ["ghost"]}], "/application_manifest/0/depends_on/0"),
        (
            [{"name": "a", "depends_on": ["b"]}, {"name": "b", "depends_on": ["a"]}],
            "/application_manifest/0/depends_on",
        ),
        ([{"name": "Bad;rm"}], "/application_manifest/0/name"),
    ],
)
def test_bad_dependencies_and_names_point_at_the_element(apps, pointer):
    with pytest.raises(GuestStepError) as err:
        install_order(apps)
    assert err.value.pointer == pointer


def test_script_failure_names_the_install_pointer_and_stops(guest, agent):
    agent.on(["script", "exit 7\n"], exit_code=7, stderr="no space left on device\n")
    apps = [
        app("one", {"method": "script", "script": "echo ok\n"}),
        app("two", {"method": "script", "script": "exit 7\n"}),
        app("three", {"method": "script", "script": "echo never\n"}),
    ]
    with pytest.raises(GuestStepError) as err:
        guest.install_applications(apps)
    assert err.value.pointer == "/application_manifest/1/install"
    assert "exit code 7" in str(err.value) and "no space left on device" in str(err.value)
    assert agent.scripts == ["echo ok\n", "exit 7\n"]


def test_script_shell_and_timeout_come_from_the_document(guest, agent):
    guest.install_applications(
        [app("one", {"method": "script", "script": "x", "shell": "/bin/bash", "timeout": 12.5})]
    )
    run = [c for c in agent.raw if c["argv"][:3] == ["/bin/sh", "-c", _RUN_SCRIPT]][0]
    assert run["argv"][4] == "/bin/bash"
    assert run["timeout"] == 12.5


def test_then_script_failure_points_at_then(guest, agent):
    agent.on(["script", "false\n"], exit_code=1, stderr="boom\n")
    with pytest.raises(GuestStepError) as err:
        guest.install_applications(
            [
                app(
                    "one",
                    {
                        "method": "files",
                        "files": [{"path": "/opt/x", "content": "x"}],
                        "then": "false\n",
                    },
                )
            ]
        )
    assert err.value.pointer == "/application_manifest/0/install/then"


@pytest.mark.parametrize(
    ("entry", "pointer"),
    [
        (
            {"path": "/opt/../etc/shadow", "content": "x"},
            "/application_manifest/0/install/files/0/path",
        ),
        (
            {"path": "/opt/x", "content": "x", "mode": "99"},
            "/application_manifest/0/install/files/0/mode",
        ),
        (
            {"path": "/opt/x", "content": "x", "owner": "root;id"},
            "/application_manifest/0/install/files/0/owner",
        ),
        (
            {"path": "/opt/x", "content": "%%%", "encoding": "base64"},
            "/application_manifest/0/install/files/0/content",
        ),
        ({"path": "relative", "content": "x"}, "/application_manifest/0/install/files/0/path"),
    ],
)
def test_hostile_file_entries_are_refused_before_anything_runs(guest, agent, entry, pointer):
    with pytest.raises(GuestStepError) as err:
        guest.install_applications([app("one", {"method": "files", "files": [entry]})])
    assert err.value.pointer == pointer
    assert agent.writes == []


def test_base64_content_is_written_as_bytes(guest, agent):
    guest.install_applications(
        [
            app(
                "bin",
                {
                    "method": "files",
                    "files": [{"path": "/opt/blob", "content": "AAEC/w==", "encoding": "base64"}],
                },
            )
        ]
    )
    assert agent.files["/opt/blob"] == b"\x00\x01\x02\xff"


def test_package_method_without_the_manager_fails_clearly(guest, agent):
    with pytest.raises(GuestStepError) as err:
        guest.install_applications(
            [
                app(
                    "nginx",
                    {
                        "method": "package",
                        "manager": "apt",
                        "package": "nginx",
                        "version": "1.22.*",
                    },
                )
            ]
        )
    assert err.value.pointer == "/application_manifest/0/install/manager"
    assert "package manager apt not available in the guest" in str(err.value)


def test_package_method_with_apt(guest, agent):
    agent.has_command("apt-get")
    guest.install_applications(
        [
            app(
                "nginx",
                {
                    "method": "package",
                    "manager": "apt",
                    "package": "nginx",
                    "version": "1.22.*",
                    "timeout": 100,
                },
            ),
            app("curl", {"method": "package", "manager": "apt", "package": "curl"}),
        ]
    )
    apt = agent.ran("apt-get")
    assert apt[0] == ["apt-get", "-q", "update"]
    assert apt[1][-2:] == ["install", "nginx=1.22.*"]
    assert apt[2][-2:] == ["install", "curl"]  # the index is refreshed once
    assert len(apt) == 3
    installs = [c for c in agent.raw if c["argv"][4:6] == ["apt-get", "-q"]]
    assert all(c["env"]["DEBIAN_FRONTEND"] == "noninteractive" for c in installs)
    assert installs[1]["timeout"] == 100


def test_package_commands_per_manager():
    assert package_commands("dnf", "nginx", "1.24.0") == [
        ["dnf", "-y", "-q", "install", "nginx-1.24.0"]
    ]
    assert package_commands("apk", "nginx", "1.24.*")[0][-1] == "nginx~1.24"
    assert package_commands("apk", "nginx", "1.24.0-r1")[0][-1] == "nginx=1.24.0-r1"
    assert package_commands("zypper", "nginx", None)[0][-1] == "nginx"
    with pytest.raises(ValueError):
        package_commands("apk", "nginx", "1.*.3")


def test_package_name_injection_is_refused(guest, agent):
    agent.has_command("apt-get")
    with pytest.raises(GuestStepError) as err:
        guest.install_applications(
            [app("x", {"method": "package", "manager": "apt", "package": "-oAPT::x=1"})]
        )
    assert err.value.pointer == "/application_manifest/0/install/package"
    assert agent.ran("apt-get") == []


def test_cancel_between_applications(agent, logs):
    calls = {"n": 0}

    def cancelled():
        calls["n"] += 1
        return calls["n"] > 1

    guest = GuestProvisioner(FakeHypervisor(agent), "gt-unit", cancelled=cancelled)  # type: ignore[arg-type]
    with pytest.raises(GuestCancelled) as err:
        guest.install_applications(
            [
                app("one", {"method": "script", "script": "a"}),
                app("two", {"method": "script", "script": "b"}),
            ]
        )
    assert err.value.pointer.startswith("/application_manifest/")
    assert agent.scripts == ["a"]


def test_runtime_without_install_is_left_to_the_image(guest, agent, logs):
    guest.install_runtime([{"name": "python", "version": "3.11"}])
    assert agent.writes == []
    assert any("nothing to install" in line for line in logs)


def test_install_twice_gives_the_same_files(guest, agent, example):
    apps = example("dev-workstation")["application_manifest"]
    guest.install_applications(apps)
    first = dict(agent.files)
    guest.install_applications(apps)
    assert {k: v for k, v in agent.files.items() if not k.startswith("/run/")} == {
        k: v for k, v in first.items() if not k.startswith("/run/")
    }
