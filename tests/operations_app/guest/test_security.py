"""Groups, users, SSH keys, sudo rules, permissions: create-or-modify, verification."""

from __future__ import annotations

import pytest

from operations_app.guest import GuestStepError
from operations_app.guest.permissions import _STAT_TREE
from operations_app.guest.security import _STAT, authorized_keys

KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEq25MHU198w82ePd78hJZJMBk79nmTsDlpJ/v+nW8Q4 alice@laptop"
)


def accounts(agent, passwd: str = "", group: str = ""):
    agent.files["/etc/passwd"] = ("root:x:0:0:root:/root:/bin/sh\n" + passwd).encode()
    agent.files["/etc/group"] = ("root:x:0:\nwheel:x:10:\n" + group).encode()


def useradd_creates(agent):
    """useradd/groupadd as the guest would apply them to /etc/passwd and /etc/group."""
    agent.has_command("useradd", "groupadd", "usermod", "groupmod")

    def groupadd(argv):
        gid = argv[argv.index("-g") + 1] if "-g" in argv else "1500"
        agent.files["/etc/group"] += f"{argv[-1]}:x:{gid}:\n".encode()

    def useradd(argv):
        name = argv[-1]
        uid = argv[argv.index("-u") + 1] if "-u" in argv else "1500"
        home = argv[argv.index("-d") + 1]
        shell = argv[argv.index("-s") + 1]
        agent.files["/etc/passwd"] += f"{name}:x:{uid}:{uid}::{home}:{shell}\n".encode()
        agent.dirs.add(home)
        if "-G" in argv:
            lines = agent.text("/etc/group").splitlines()
            wanted = argv[argv.index("-G") + 1].split(",")
            out = []
            for line in lines:
                parts = line.split(":")
                if parts[0] in wanted:
                    parts[3] = ",".join(filter(None, [parts[3], name]))
                out.append(":".join(parts))
            agent.files["/etc/group"] = ("\n".join(out) + "\n").encode()

    agent.on("groupadd", effect=groupadd)
    agent.on("useradd", effect=useradd)


def test_dev_workstation_users_are_created_with_keys_and_sudo(guest, agent, example):
    useradd_creates(agent)
    guest.security.apply_groups(example("dev-workstation")["security_profile"]["groups"])
    assert agent.ran("groupadd") == [["groupadd", "-g", "2000", "developers"]]
    warnings = guest.security.apply_users(example("dev-workstation")["security_profile"]["users"])
    alice = agent.ran("useradd")[0]
    assert alice == [
        "useradd",
        "-m",
        "-d",
        "/home/alice",
        "-s",
        "/bin/sh",
        "-u",
        "1001",
        "-U",
        "-G",
        "developers",
        "alice",
    ]
    keys = agent.files["/home/alice/.ssh/authorized_keys"].decode()
    assert keys == KEY + "\n"
    assert agent.meta["/home/alice/.ssh/authorized_keys"].mode == "0600"
    assert agent.meta["/home/alice/.ssh/authorized_keys"].owner == "1001:1001"
    assert agent.text("/etc/sudoers.d/alice") == "alice ALL=(ALL:ALL) NOPASSWD: ALL\n"
    assert agent.text("/etc/sudoers.d/bob") == "bob ALL=(ALL:ALL) ALL\n"
    assert agent.meta["/etc/sudoers.d/bob"].mode == "0440"
    assert len(agent.files["/home/bob/.ssh/authorized_keys"].decode().splitlines()) == 2
    assert warnings == ["sudo is not installed in the guest: the sudo rules take effect once it is"]


def test_existing_user_is_modified_not_recreated(guest, agent):
    useradd_creates(agent)
    accounts(agent, "www-data:x:33:33::/var/www:/usr/sbin/nologin\n", "www-data:x:33:\n")
    agent.dirs.add("/var/www")
    guest.security.apply_users(
        [
            {
                "name": "www-data",
                "uid": 33,
                "groups": ["www-data"],
                "shell": "/bin/false",
                "home": "/var/www",
            }
        ]
    )
    assert agent.ran("useradd") == []
    assert agent.ran("usermod") == [["usermod", "-s", "/bin/false", "-G", "www-data", "www-data"]]


def test_user_with_a_group_of_its_name_joins_it(guest, agent):
    useradd_creates(agent)
    accounts(agent, group="postgres:x:999:\n")
    guest.security.apply_users([{"name": "postgres", "uid": 999, "home": "/var/lib/postgresql"}])
    argv = agent.ran("useradd")[0]
    assert argv[argv.index("-g") + 1] == "postgres" and "-U" not in argv


def test_uid_change_uses_usermod_and_its_failure_points_at_the_user(guest, agent):
    useradd_creates(agent)
    accounts(agent, "alice:x:1500:1500::/home/alice:/bin/sh\n", "alice:x:1500:\n")
    agent.dirs.add("/home/alice")
    agent.on("usermod", exit_code=1, stderr="usermod: unknown option -u\n")
    with pytest.raises(GuestStepError) as err:
        guest.security.apply_users([{"name": "alice", "uid": 1001}])
    assert err.value.pointer == "/security_profile/users/0"
    assert "unknown option -u" in str(err.value)


def test_unknown_group_and_hostile_names(guest, agent):
    useradd_creates(agent)
    with pytest.raises(GuestStepError) as err:
        guest.security.apply_users([{"name": "alice", "groups": ["ghosts"]}])
    assert err.value.pointer == "/security_profile/users/0/groups/0"
    for bad, pointer in [
        ({"name": "alice;id"}, "/security_profile/users/0/name"),
        ({"name": "alice", "home": "/home/../etc"}, "/security_profile/users/0/home"),
        (
            {"name": "alice", "ssh_authorized_keys": ["ssh-ed25519 AAAA\nroot ALL=(ALL) ALL"]},
            "/security_profile/users/0/ssh_authorized_keys/0",
        ),
        ({"name": "alice", "sudo": "always"}, "/security_profile/users/0/sudo"),
    ]:
        with pytest.raises(GuestStepError) as err:
            guest.security.apply_users([bad])
        assert err.value.pointer == pointer
    assert agent.ran("useradd") == []


def test_sudo_false_removes_an_old_rule(guest, agent):
    useradd_creates(agent)
    accounts(agent, "bob:x:1002:1002::/home/bob:/bin/sh\n", "bob:x:1002:\n")
    agent.dirs.add("/home/bob")
    guest.security.apply_users([{"name": "bob", "uid": 1002, "home": "/home/bob", "sudo": False}])
    assert agent.ran("rm", "-f", "/etc/sudoers.d/bob")


def test_permissions_recursive_and_missing_path(guest, agent, example):
    agent.dirs.add("/var/www/html")
    agent.files["/etc/nginx/nginx.conf"] = b"x"
    guest.security.apply_permissions(example("web-server")["security_profile"]["permissions"])
    assert agent.ran("chown") == [
        ["chown", "-R", "www-data:www-data", "/var/www/html"],
        ["chown", "root:root", "/etc/nginx/nginx.conf"],
    ]
    assert agent.ran("chmod") == [
        ["chmod", "-R", "0755", "/var/www/html"],
        ["chmod", "0644", "/etc/nginx/nginx.conf"],
    ]
    with pytest.raises(GuestStepError) as err:
        guest.security.apply_permissions([{"path": "/srv/none", "mode": "0700"}])
    assert err.value.pointer == "/security_profile/permissions/0/path"


def test_group_only_permission_uses_chgrp(guest, agent):
    agent.dirs.add("/srv/projects")
    guest.security.apply_permissions(
        [{"path": "/srv/projects", "group": "developers", "mode": "2775"}]
    )
    assert agent.ran("chgrp") == [["chgrp", "developers", "/srv/projects"]]


def test_verify_users_groups_keys_sudo_permissions(guest, agent):
    accounts(
        agent,
        "alice:x:1001:1001::/home/alice:/bin/sh\n",
        "alice:x:1001:\ndevelopers:x:2000:alice\n",
    )
    agent.dirs.add("/home/alice")
    agent.files["/home/alice/.ssh/authorized_keys"] = authorized_keys([KEY]).encode()
    agent.files["/etc/sudoers.d/alice"] = b"alice ALL=(ALL:ALL) NOPASSWD: ALL\n"
    agent.on(
        lambda a: a[:3] == ["/bin/sh", "-c", _STAT] and a[4].endswith("authorized_keys"),
        stdout="1001:1001:600:regular file\n",
    )
    agent.on(
        lambda a: a[:3] == ["/bin/sh", "-c", _STAT] and a[4].startswith("/etc/sudoers.d/"),
        stdout="0:0:440:regular file\n",
    )
    agent.on(
        ["/bin/sh", "-c", _STAT_TREE],
        stdout="0:2000:2775:/srv/projects\n0:2000:2775:/srv/projects/README\n",
    )
    security = {
        "groups": [{"name": "developers", "gid": 2000}],
        "users": [
            {
                "name": "alice",
                "uid": 1001,
                "groups": ["developers"],
                "ssh_authorized_keys": [KEY],
                "sudo": "nopasswd",
            }
        ],
        "permissions": [
            {
                "path": "/srv/projects",
                "owner": "root",
                "group": "developers",
                "mode": "2775",
                "recursive": True,
            }
        ],
    }
    checks = guest.security.verify(security)
    assert all(c.passed for c in checks), [str(c) for c in checks]
    assert [c.pointer for c in checks] == [
        "/security_profile/groups/0",
        "/security_profile/users/0",
        "/security_profile/users/0/groups",
        "/security_profile/users/0/ssh_authorized_keys",
        "/security_profile/users/0/sudo",
        "/security_profile/permissions/0",
    ]
    sudo = checks[4]
    assert "sudo itself is not installed" in sudo.detail

    # now everything a little wrong
    agent.files["/etc/group"] = b"alice:x:1001:\ndevelopers:x:2001:\n"
    agent.files["/home/alice/.ssh/authorized_keys"] = b"ssh-ed25519 AAAAother bob@x\n"
    agent.files["/etc/sudoers.d/alice"] = b"alice ALL=(ALL:ALL) ALL\n"
    agent.on(
        ["/bin/sh", "-c", _STAT_TREE],
        stdout="0:2000:2775:/srv/projects\n0:2000:777:/srv/projects/README\n",
    )
    checks = guest.security.verify(security)
    failed = {c.pointer for c in checks if not c.passed}
    assert failed == {
        "/security_profile/groups/0",
        "/security_profile/users/0/groups",
        "/security_profile/users/0/ssh_authorized_keys",
        "/security_profile/users/0/sudo",
        "/security_profile/permissions/0",
    }
    perm = next(c for c in checks if c.pointer == "/security_profile/permissions/0")
    assert "/srv/projects/README: gid 2000, mode 777" in perm.detail
