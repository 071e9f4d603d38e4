"""The command layer: argv only, values as arguments, errors with pointers."""

from __future__ import annotations

import pytest

from operations_app.guest import GuestCancelled, GuestStepError
from operations_app.guest.session import _KILL_TREE, _RUN_SCRIPT, STD_PATH, FileSpec, GuestSession

from .fakes import FakeAgent

HOSTILE = "a b'\"$(touch /tmp/pwned)`id`;rm -rf / #\\"


def make(agent: FakeAgent, **kwargs) -> tuple[GuestSession, list[str]]:
    logs: list[str] = []
    return GuestSession(agent, "gt-unit", log=logs.append, **kwargs), logs  # type: ignore[arg-type]


def test_relative_programs_are_resolved_by_a_constant_wrapper_with_the_standard_path(agent):
    s, _ = make(agent)
    s.run(["hostname", HOSTILE], what="hostname")
    raw = agent.raw[-1]
    assert raw["argv"] == ["/bin/sh", "-c", 'exec "$@"', "sh", "hostname", HOSTILE]
    assert raw["env"]["PATH"] == STD_PATH
    # absolute programs run directly
    s.run(["/opt/app/bin/app", HOSTILE], what="app")
    assert agent.raw[-1]["argv"] == ["/opt/app/bin/app", HOSTILE]


def test_failure_carries_exit_code_stderr_tail_and_pointer(agent):
    s, logs = make(agent)
    agent.on("false", exit_code=3, stderr="line 1\nsomething broke\n")
    with pytest.raises(GuestStepError) as err:
        s.run(["false"], what="step", pointer="/application_manifest/1/install")
    assert err.value.pointer == "/application_manifest/1/install"
    assert "exit code 3" in str(err.value) and "something broke" in str(err.value)
    assert any("exit 3" in line for line in logs)


def test_timeout_stops_the_process_tree_and_fails(agent):
    s, logs = make(agent)
    agent.on("sleep", exit_code=None, timed_out=True)
    with pytest.raises(GuestStepError, match="timed out after 5 s") as err:
        s.run(["sleep", "100"], what="slow", pointer="/x", timeout=5)
    assert err.value.pointer == "/x"
    kills = agent.sh_calls(_KILL_TREE)
    assert len(kills) == 1 and kills[0][0].isdigit()


def test_program_that_cannot_start_is_exit_127_not_an_agent_error(agent):
    s, _ = make(agent)
    agent.on("/opt/missing", exit_code=127, stderr="spawn")
    result = s.run(["/opt/missing"], what="missing", check=False)
    assert result.exit_code == 127
    assert result.stderr_text == "cannot run /opt/missing: No such file or directory"


def test_script_content_travels_as_file_data_never_in_argv(agent):
    s, logs = make(agent)
    script = f"echo {HOSTILE}\n"
    agent.on(["script", script], stdout="out line\n", stderr="")
    result = s.run_script(script, shell="/bin/sh", timeout=60, what="install", pointer="/p")
    assert result.stdout_text == "out line\n"
    run = agent.sh_calls(_RUN_SCRIPT)
    assert len(run) == 1
    shell, path, out, err = run[0]
    assert shell == "/bin/sh" and path.startswith("/run/vmpersona/work/") and path.endswith(".sh")
    for call in agent.raw:
        assert all(HOSTILE not in arg for arg in call["argv"])
    assert any("out line" in line for line in logs)
    # the script file and its output files are removed afterwards
    assert path not in agent.files and out not in agent.files and err not in agent.files


def test_failed_script_reports_exit_code_and_error_tail(agent):
    s, _ = make(agent)
    agent.on(["script", "exit 4\n"], exit_code=4, stderr="cannot frobnicate\n")
    with pytest.raises(GuestStepError) as err:
        s.run_script(
            "exit 4\n",
            timeout=60,
            what="app x: install script",
            pointer="/application_manifest/0/install",
        )
    assert err.value.pointer == "/application_manifest/0/install"
    assert "exit code 4" in str(err.value) and "cannot frobnicate" in str(err.value)


def test_write_files_hostile_paths_and_contents_are_single_arguments(agent):
    s, _ = make(agent)
    path = f"/opt/{HOSTILE.replace('/', '_')}/file"
    s.write_files(
        [
            FileSpec(
                path, HOSTILE.encode(), mode="0750", owner="www-data", group="33", pointer="/f/0"
            )
        ],
        what="t",
    )
    assert agent.files[path] == HOSTILE.encode()
    assert agent.meta[path].owner == "www-data:33" and agent.meta[path].mode == "0750"
    mkdir = agent.ran("mkdir", "-p")[-1]
    assert mkdir == ["mkdir", "-p", path.rsplit("/", 1)[0]]


def test_write_files_failure_points_at_the_failing_entry(agent):
    s, _ = make(agent)
    from operations_app.guest.session import _INSTALL_FILES

    agent.on(
        ["/bin/sh", "-c", _INSTALL_FILES],
        exit_code=1,
        stderr="chown: unknown user nobody2\nvmp-failed-index 1\n",
    )
    files = [
        FileSpec("/etc/a", b"a", pointer="/application_manifest/0/install/files/0"),
        FileSpec(
            "/etc/b", b"b", owner="nobody2", pointer="/application_manifest/0/install/files/1"
        ),
    ]
    with pytest.raises(GuestStepError) as err:
        s.write_files(files, what="files")
    assert err.value.pointer == "/application_manifest/0/install/files/1"
    assert "/etc/b" in str(err.value) and "unknown user nobody2" in str(err.value)
    assert "vmp-failed-index" not in str(err.value)


def test_heartbeat_after_every_call_and_cancel_between_items(agent):
    beats = []
    flag = {"cancel": False}
    s, _ = make(agent, heartbeat=lambda: beats.append(1), cancelled=lambda: flag["cancel"])
    s.run(["true"], what="t")
    s.read("/etc/passwd")
    assert len(beats) == 2
    flag["cancel"] = True
    with pytest.raises(GuestCancelled) as err:
        s.check_cancelled("/application_manifest/2")
    assert err.value.pointer == "/application_manifest/2"
    assert isinstance(err.value, GuestStepError)


def test_read_of_a_missing_file_is_none(agent):
    s, _ = make(agent)
    assert s.read_text("/nope") is None
    assert s.read_text("/etc/passwd").startswith("root:")
