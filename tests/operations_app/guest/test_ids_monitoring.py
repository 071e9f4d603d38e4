"""Intrusion detection and monitoring agents."""

from __future__ import annotations

import json

import pytest

from operations_app.guest import GuestStepError
from operations_app.guest import guestfiles as gf
from operations_app.guest.ids import BEGIN, CRONTAB, END, crontab_updated, ids_spec
from operations_app.guest.monitoring import agent_conf, agent_specs, executable_candidates

BUILTIN = {
    "enabled": True,
    "engine": "builtin",
    "settings": {"watch": ["/etc/nginx", "/opt/nginx/bin"], "schedule": "*/15 * * * *"},
}


def test_builtin_records_a_baseline_checks_it_and_schedules_it(guest, agent):
    agent.has_command("crond")
    guest.ids.apply(BUILTIN)
    assert agent.text(gf.IDS_PROGRAM) == gf.IDS and agent.meta[gf.IDS_PROGRAM].mode == "0755"
    assert agent.text(f"{gf.IDS_DIR}/paths") == "/etc/nginx\n/opt/nginx/bin\n"
    assert agent.text(f"{gf.IDS_DIR}/exclude") == "/etc/resolv.conf\n/etc/mtab\n/etc/adjtime\n"
    assert [c[1] for c in agent.ran(gf.IDS_PROGRAM)] == ["init", "check"]
    assert agent.text(CRONTAB).splitlines() == [
        BEGIN,
        f"*/15 * * * * {gf.IDS_PROGRAM} check >>{gf.IDS_LOG} 2>&1",
        END,
    ]
    assert agent.meta[CRONTAB].mode == "0600"
    assert agent.ran(gf.CRON_SCRIPT, "start")


def test_missing_watched_path_fails_at_settings(guest, agent):
    agent.on(
        [gf.IDS_PROGRAM, "init"],
        exit_code=3,
        stderr="vmp-ids: watched path /etc/nginx does not exist\n",
    )
    with pytest.raises(GuestStepError) as err:
        guest.ids.apply(BUILTIN)
    assert err.value.pointer == "/security_profile/intrusion_detection/settings"
    assert "/etc/nginx does not exist" in str(err.value)


def aide_settings(example) -> dict:
    """The database example's intrusion detection, run by aide as on a real distribution."""
    return {**example("database")["security_profile"]["intrusion_detection"], "engine": "aide"}


def test_aide_without_aide_or_a_package_manager_is_an_honest_failure(guest, agent, example):
    ids = aide_settings(example)
    with pytest.raises(GuestStepError) as err:
        guest.ids.apply(ids)
    assert err.value.pointer == "/security_profile/intrusion_detection/engine"
    assert "aide is not installed" in str(err.value)
    assert CRONTAB not in agent.files  # nothing scheduled that cannot run


def test_aide_is_installed_configured_and_initialised_where_possible(guest, agent, example):
    agent.has_command("apt-get", "crond")
    agent.on(["apt-get", "-q", "-y"], effect=lambda a: agent.has_command("aide"))
    ids = aide_settings(example)
    guest.ids.apply(ids)
    conf = agent.text("/etc/vmpersona/aide.conf")
    assert "database_in=file:/var/lib/aide/aide.db" in conf
    assert "/etc/postgresql R" in conf and "/opt/postgresql/bin R" in conf
    assert agent.ran("aide", "--config=/etc/vmpersona/aide.conf", "--init")
    assert agent.ran("mv", "-f", "/var/lib/aide/aide.db.new", "/var/lib/aide/aide.db")
    assert "0 3 * * * aide --config=/etc/vmpersona/aide.conf --check" in agent.text(CRONTAB)


@pytest.mark.parametrize("engine", ["ossec", "wazuh", "tripwire"])
def test_external_engines_must_exist(guest, agent, engine):
    with pytest.raises(GuestStepError, match=f"{engine} is not installed") as err:
        guest.ids.apply({"enabled": True, "engine": engine})
    assert err.value.pointer == "/security_profile/intrusion_detection/engine"


@pytest.mark.parametrize(
    "schedule", ["* * * * * root /bin/sh", "*/5 * * * *;id", "@reboot", "$(id) * * * *"]
)
def test_schedule_injection_is_refused(schedule):
    with pytest.raises(GuestStepError) as err:
        ids_spec({"enabled": True, "engine": "builtin", "settings": {"schedule": schedule}})
    assert err.value.pointer == "/security_profile/intrusion_detection/settings/schedule"


def test_disabled_removes_our_schedule_only(guest, agent):
    agent.files[CRONTAB] = f"0 1 * * * /usr/bin/backup\n{BEGIN}\n* * * * * x\n{END}\n".encode()
    agent.has_command("crond")
    guest.ids.apply({"enabled": False})
    assert agent.text(CRONTAB) == "0 1 * * * /usr/bin/backup\n"


def test_crontab_block_is_replaced_in_place():
    once = crontab_updated("MAILTO=\n", "* * * * * a")
    assert crontab_updated(once, "* * * * * a") == once
    assert crontab_updated(once, "*/5 * * * * b").count(BEGIN) == 1


def test_verify_builtin_reports_changes(guest, agent):
    agent.files[f"{gf.IDS_DIR}/paths"] = b"/etc/nginx\n/opt/nginx/bin\n"
    agent.files[f"{gf.IDS_DIR}/baseline"] = b"a 644 0 0 /etc/nginx/nginx.conf\n"
    agent.on(
        [gf.IDS_PROGRAM, "check"],
        exit_code=1,
        stdout="vmp-ids: 1 change(s) since the baseline:\nchanged (content) /etc/nginx/nginx.conf\n",
    )
    agent.files[CRONTAB] = (
        f"{BEGIN}\n*/15 * * * * {gf.IDS_PROGRAM} check >>{gf.IDS_LOG} 2>&1\n{END}\n".encode()
    )
    agent.has_command("crond")
    agent.processes["crond"] = "12"
    checks = guest.ids.verify(BUILTIN)
    assert [c.pointer for c in checks] == [
        "/security_profile/intrusion_detection",
        "/security_profile/intrusion_detection/settings/schedule",
    ]
    assert not checks[0].passed and "changed (content) /etc/nginx/nginx.conf" in checks[0].detail
    assert checks[1].passed
    agent.on([gf.IDS_PROGRAM, "check"], stdout="vmp-ids: no changes in 1 file(s)\n")
    assert guest.ids.verify(BUILTIN)[0].passed


# ---------------------------------------------------------------------- monitoring

NODE = {
    "name": "node_exporter",
    "version": "1.8.2",
    "config": {"listen_address": ":9100"},
    "install": {
        "method": "files",
        "files": [
            {"path": "/opt/node_exporter/VERSION", "content": "1.8.2\n"},
            {"path": "/opt/node_exporter/node_exporter", "mode": "0755", "content": "#!/bin/sh\n"},
        ],
    },
    "verify": {"process": "node_exporter", "timeout": 1},
}


def test_agent_is_installed_configured_registered_and_started(guest, agent):
    agent.processes["node_exporter"] = "321"
    guest.deploy_monitoring([NODE])
    assert json.loads(agent.text("/etc/node_exporter/config.json")) == {"listen_address": ":9100"}
    assert agent.meta["/etc/node_exporter/config.json"].mode == "0640"
    assert agent.text(f"{gf.AGENTS_DIR}/node_exporter.conf") == agent_conf(
        "/opt/node_exporter/node_exporter", "node_exporter", "/etc/node_exporter/config.json"
    )
    assert agent.text(gf.AGENTS_SCRIPT) == gf.AGENTS
    assert agent.ran(gf.AGENTS_SCRIPT, "start-one", "node_exporter")
    # deployed again with another configuration: restarted
    guest.deploy_monitoring([{**NODE, "config": {"listen_address": ":9200"}}])
    assert agent.ran(gf.AGENTS_SCRIPT, "restart-one", "node_exporter")


def test_agent_that_does_not_start_fails_with_its_log(guest, agent, monkeypatch):
    agent.on("tail", stdout="node_exporter: bind: address already in use\n")
    with pytest.raises(GuestStepError) as err:
        guest.deploy_monitoring([NODE])
    assert err.value.pointer == "/monitoring_agents/0/verify/process"
    assert "address already in use" in str(err.value)


def test_agent_without_a_program_to_run(guest, agent):
    no_exe = {
        **NODE,
        "install": {"method": "files", "files": [{"path": "/opt/x/VERSION", "content": "1"}]},
    }
    with pytest.raises(GuestStepError, match="no executable named node_exporter") as err:
        guest.deploy_monitoring([no_exe])
    assert err.value.pointer == "/monitoring_agents/0"
    # verified by a command instead: nothing to keep running, not an error
    guest.deploy_monitoring([{**no_exe, "verify": {"command": ["/bin/true"]}}])
    assert f"{gf.AGENTS_DIR}/node_exporter.conf" not in agent.files


def test_executable_candidates_and_hostile_process_names():
    spec = agent_specs([NODE])[0]
    assert executable_candidates(spec) == ["/opt/node_exporter/node_exporter"]
    with pytest.raises(GuestStepError) as err:
        agent_specs([{**NODE, "verify": {"process": "/bin/x\nrm"}}])
    assert err.value.pointer == "/monitoring_agents/0/verify/process"


def test_verify_agent(guest, agent):
    agent.processes["node_exporter"] = "321"
    guest.deploy_monitoring([NODE])
    checks = guest.monitoring.verify([NODE])
    assert [c.pointer for c in checks] == [
        "/monitoring_agents/0/verify",
        "/monitoring_agents/0/config",
        "/monitoring_agents/0",
    ]
    assert all(c.passed for c in checks)
    agent.processes.clear()
    agent.files["/etc/node_exporter/config.json"] = b'{"listen_address": ":1"}'
    checks = guest.monitoring.verify([NODE])
    assert [c.passed for c in checks] == [False, False, True]
    assert checks[0].actual == "not running"
