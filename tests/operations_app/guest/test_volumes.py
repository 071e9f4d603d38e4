"""Data volumes: format only when empty, fstab, mount, persistence, verification."""

from __future__ import annotations

import pytest

from operations_app.guest import GuestStepError
from operations_app.guest import guestfiles as gf
from operations_app.guest.volumes import (
    _SEED,
    fstab_escape,
    fstab_updated,
    parse_blkid_export,
    parse_mounts,
)

UUID = "c78ba965-ccc5-477c-9e71-41c0917a59d1"
VOL = {
    "name": "pgdata",
    "size_gib": 0.0625,
    "mount_point": "/var/lib/postgresql",
    "filesystem": "ext4",
}


def blank_disk(agent, device="/dev/vdb"):
    """blkid finds nothing until mkfs ran, then an ext4 file system."""
    state = {"formatted": False}
    agent.files[device] = b""
    # later rules win: blank for the first probe, ext4 afterwards
    agent.on(
        lambda a: a[:1] == ["blkid"] and device in a,
        stdout=f"DEVNAME={device}\nUUID={UUID}\nTYPE=ext4\nUSAGE=filesystem\n",
    )
    agent.on(lambda a: a[:1] == ["blkid"] and device in a, exit_code=2, times=1)
    agent.on("/usr/bin/mkfs.ext4", effect=lambda a: state.update(formatted=True))
    agent.on(
        ["mount", VOL["mount_point"]],
        effect=lambda a: agent.files.update(
            {
                "/proc/mounts": agent.files["/proc/mounts"]
                + f"{device} {VOL['mount_point']} ext4 rw 0 0\n".encode()
            }
        ),
    )
    agent.has_command("mkfs.ext4")
    return state


def test_blank_disk_is_formatted_mounted_and_persisted(guest, agent):
    state = blank_disk(agent)
    guest.setup_volumes([VOL], {"pgdata": "/dev/vdb"})
    assert state["formatted"]
    mkfs = agent.ran("/usr/bin/mkfs.ext4")
    assert mkfs == [["/usr/bin/mkfs.ext4", "-q", "-L", "pgdata", "/dev/vdb"]]
    fstab = agent.text("/etc/fstab")
    assert f"UUID={UUID} /var/lib/postgresql ext4 defaults,nofail 0 2" in fstab
    assert fstab.startswith("/dev/vda / ext4")  # the image's lines stay
    assert agent.ran("mount", "/var/lib/postgresql")
    # the image's rcS does not mount fstab: a boot script does
    assert agent.text(gf.MOUNTS_SCRIPT) == gf.MOUNTS
    assert agent.meta[gf.MOUNTS_SCRIPT].mode == "0755"


def test_existing_file_system_is_never_reformatted_and_second_run_changes_nothing(guest, agent):
    blank_disk(agent)
    guest.setup_volumes([VOL], {"pgdata": "/dev/vdb"})
    fstab = agent.text("/etc/fstab")
    mounts = len(agent.ran("mount", "/var/lib/postgresql"))
    guest.setup_volumes([VOL], {"pgdata": "/dev/vdb"})
    assert len(agent.ran("/usr/bin/mkfs.ext4")) == 1
    assert agent.text("/etc/fstab") == fstab
    assert len(agent.ran("mount", "/var/lib/postgresql")) == mounts  # already mounted


def test_other_file_system_is_an_error_not_a_reformat(guest, agent):
    agent.files["/dev/vdb"] = b""
    agent.on("blkid", stdout=f"UUID={UUID}\nTYPE=xfs\nUSAGE=filesystem\n")
    with pytest.raises(GuestStepError) as err:
        guest.setup_volumes([VOL], {"pgdata": "/dev/vdb"})
    assert err.value.pointer == "/data_volume_definitions/0/filesystem"
    assert "already holds a xfs file system" in str(err.value)
    assert not agent.ran("mkfs.ext4") and not agent.ran("/usr/bin/mkfs.ext4")


def test_partition_table_is_not_formatted(guest, agent):
    agent.files["/dev/vdb"] = b""
    agent.on("blkid", stdout="PTUUID=abcd\nPTTYPE=gpt\n")
    with pytest.raises(GuestStepError, match="gpt"):
        guest.setup_volumes([VOL], {"pgdata": "/dev/vdb"})


def test_missing_mkfs_tool_is_reported_at_filesystem(guest, agent):
    agent.files["/dev/vdb"] = b""
    agent.on("blkid", exit_code=2)
    with pytest.raises(GuestStepError) as err:
        guest.setup_volumes([{**VOL, "filesystem": "xfs"}], {"pgdata": "/dev/vdb"})
    assert err.value.pointer == "/data_volume_definitions/0/filesystem"
    assert "mkfs.xfs is not in the guest" in str(err.value)


def test_what_the_mount_point_held_is_copied_onto_a_new_file_system(guest, agent):
    blank_disk(agent)
    agent.on(
        lambda a: a[:2] == ["/bin/sh", "-c"] and a[2].startswith('[ -d "$1" ] && [ -n'), exit_code=0
    )
    guest.setup_volumes([VOL], {"pgdata": "/dev/vdb"})
    seeds = agent.sh_calls(_SEED)
    assert len(seeds) == 1 and seeds[0][:3] == ["/dev/vdb", "ext4", "/var/lib/postgresql"]


def test_missing_device_and_hostile_device_names(guest, agent):
    with pytest.raises(GuestStepError, match="no guest device") as err:
        guest.setup_volumes([VOL], {})
    assert err.value.pointer == "/data_volume_definitions/0"
    with pytest.raises(GuestStepError, match="not a /dev path"):
        guest.setup_volumes([VOL], {"pgdata": "/dev/vdb; reboot"})


def test_fstab_update_replaces_the_old_line_and_escapes_blanks():
    text = "/dev/vda / ext4 rw 0 1\n/dev/vdz /srv/my\\040data ext4 defaults 0 2\n"
    out = fstab_updated(
        text, name="data", source=f"UUID={UUID}", mount_point="/srv/my data", fs="ext4"
    )
    assert out.splitlines() == [
        "/dev/vda / ext4 rw 0 1",
        "# VM Persona data volume data",
        f"UUID={UUID} /srv/my\\040data ext4 defaults,nofail 0 2",
    ]
    assert (
        fstab_updated(
            out, name="data", source=f"UUID={UUID}", mount_point="/srv/my data", fs="ext4"
        )
        == out
    )
    assert fstab_escape("/a\\b c") == "/a\\134b\\040c"


def test_parsers():
    mounts = parse_mounts("/dev/vdb /srv/my\\040data ext4 rw,relatime 0 0\n")
    assert mounts["/srv/my data"].source == "/dev/vdb"
    assert parse_blkid_export(f'/dev/vdb: UUID="{UUID}" TYPE="ext4"') == {
        "UUID": UUID,
        "TYPE": "ext4",
    }


def test_verify_mounted_size_and_persistence(guest, agent):
    agent.files["/proc/mounts"] += b"/dev/vdb /var/lib/postgresql ext4 rw 0 0\n"
    agent.files["/etc/fstab"] += (
        f"UUID={UUID} /var/lib/postgresql ext4 defaults,nofail 0 2\n".encode()
    )
    agent.files["/sys/class/block/vdb/size"] = b"131072\n"
    agent.files[gf.MOUNTS_SCRIPT] = gf.MOUNTS.encode()
    agent.on(
        "df",
        stdout="Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vdb 56037 14 51437 0% /var/lib/postgresql\n",
    )
    checks = guest.volumes.verify([VOL], {"pgdata": "/dev/vdb"})
    assert [c.pointer for c in checks] == [
        "/data_volume_definitions/0",
        "/data_volume_definitions/0/size_gib",
        "/data_volume_definitions/0/mount_point",
    ]
    assert all(c.passed for c in checks), [str(c) for c in checks]
    # a profile asking for 1 GiB on that 64 MiB disk fails the size check only
    checks = guest.volumes.verify([{**VOL, "size_gib": 1}], {"pgdata": "/dev/vdb"})
    assert [c.passed for c in checks] == [True, False, True]
    assert "device is 0.0625 GiB" in checks[1].detail


def test_verify_not_mounted_wrong_type_no_fstab(guest, agent):
    agent.files["/proc/mounts"] += b"/dev/vdb /var/lib/postgresql xfs rw 0 0\n"
    agent.on("df", stdout="h\n/dev/vdb 56037 14 51437 0% /var/lib/postgresql\n")
    agent.on("readlink", stdout="/dev/vdb\n")
    checks = guest.volumes.verify([VOL], {"pgdata": "/dev/vdb"})
    assert not checks[0].passed and "file system is xfs" in checks[0].detail
    assert not checks[2].passed and "no fstab line" in checks[2].detail
    agent.files["/proc/mounts"] = b"/dev/vda / ext4 rw 0 0\n"
    checks = guest.volumes.verify([VOL], {"pgdata": "/dev/vdb"})
    assert checks[0].actual == "not mounted" and not checks[0].passed
