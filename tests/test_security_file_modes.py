"""File modes: the instance folder is 0700 and every file VM Persona creates in it
(secret key, KEK, SQLite database with its WAL/SHM, demo credentials, logs) is 0600,
also when a fresh process creates them with the usual 0022 umask."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

QUERY = (
    "import django; django.setup(); "
    "from django.contrib.auth.models import User; "
    "from django.db import connection; "
    "User.objects.create_user('someone'); print(User.objects.count()); "
    "from profiles_app.services.keys import encrypt_secret; encrypt_secret('x'); "
    "connection.close()"
)


def _env(instance: Path) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "VMPERSONA_", "REDIS_URL", "DATABASE_URL"))
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="vmpersona.settings", VMPERSONA_INSTANCE_DIR=str(instance)
    )
    return environ


def _run(instance: Path, *argv: str) -> None:
    def umask_0022():
        os.umask(0o022)

    done = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env=_env(instance),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=umask_0022,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _modes(instance: Path) -> dict[str, int]:
    modes = {".": stat.S_IMODE(instance.stat().st_mode)}
    for path in instance.rglob("*"):
        modes[str(path.relative_to(instance))] = stat.S_IMODE(path.lstat().st_mode)
    return modes


def test_a_fresh_instance_is_private(tmp_path):
    instance = tmp_path / "instance"  # does not exist yet
    _run(instance, "manage.py", "migrate", "--noinput")
    _run(instance, "-c", QUERY)
    _run(instance, "manage.py", "seed_demo", "--no-profiles", "--quiet")
    modes = _modes(instance)
    for name in ("secret_key", "kek", "db.sqlite3", "demo-credentials.json", "logs/vmpersona.log"):
        assert name in modes, sorted(modes)
    dirs = {name for name in modes if (instance / name).is_dir()}
    assert dirs >= {".", "logs"}
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if name in dirs else 0o600)
    }
    assert wrong == {}


def test_wal_and_shm_are_private_while_a_connection_is_open(tmp_path):
    instance = tmp_path / "instance"
    _run(instance, "manage.py", "migrate", "--noinput")
    code = (
        "import django, os, stat; django.setup(); "
        "from django.db import connection; from django.contrib.auth.models import User; "
        "User.objects.create_user('x'); "
        f"base = {str(instance / 'db.sqlite3')!r}; "
        "import json; print(json.dumps({s: oct(stat.S_IMODE(os.stat(base + s).st_mode)) "
        "for s in ('', '-wal', '-shm') if os.path.exists(base + s)}))"
    )
    env = _env(instance)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"": "0o600", "-wal": "0o600", "-shm": "0o600"}


def test_files_an_older_version_left_open_are_repaired(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    (instance / "secret_key").write_text("x" * 60 + "\n")
    os.chmod(instance / "secret_key", 0o644)
    (instance / "logs").mkdir(mode=0o755)
    _run(instance, "manage.py", "migrate", "--noinput")
    modes = _modes(instance)
    assert modes["."] == 0o700 and modes["logs"] == 0o700
    assert modes["secret_key"] == 0o600 and modes["db.sqlite3"] == 0o600
