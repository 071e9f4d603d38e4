"""``make run`` (scripts/run.sh) starts Redis with a generated password: kept 0600 in
the instance folder, never on a command line or in the output, and carried by the
REDIS_URL every client uses (channel layer, django-q2 broker, instance/redis-url)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.test_security_production import settings_value

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not shutil.which("redis-server") or not shutil.which("redis-cli"), reason="needs Redis"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_cli(port: int, *args: str, password: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    if password:
        env["REDISCLI_AUTH"] = password
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *args], env=env, capture_output=True, text=True, timeout=10
    )
    return (done.stdout + done.stderr).strip()


def test_make_run_starts_redis_with_a_private_password(tmp_path):
    instance = tmp_path / "instance"
    web_port, redis_port = _free_port(), _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "VMPERSONA_", "REDIS_URL", "DATABASE_URL"))
    }
    env.update(
        VMPERSONA_INSTANCE_DIR=str(instance),
        VMPERSONA_PORT=str(web_port),
        VMPERSONA_REDIS_PORT=str(redis_port),
        VMPERSONA_NO_TESTBED="1",
        VMPERSONA_WORKERS="1",
        VMPERSONA_STOP_GRACE="10",
    )
    log = tmp_path / "run.out"
    with log.open("w") as out:
        run = subprocess.Popen(
            ["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 180
        while "VM Persona is running" not in log.read_text():
            assert run.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)

        password_file = instance / "redis-password"
        password = password_file.read_text().strip()
        assert len(password) >= 32
        url = (instance / "redis-url").read_text().strip()
        assert url == f"redis://:{password}@127.0.0.1:{redis_port}/0"
        for path in (password_file, instance / "redis-url", instance / "redis" / "redis.conf"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        for path in (instance / "logs").iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

        assert "NOAUTH" in _redis_cli(redis_port, "ping")
        assert _redis_cli(redis_port, "ping", password=password) == "PONG"

        # Not on any command line, not in the output.
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert password not in ps
        assert password not in log.read_text()

        # A command started from another shell on this instance reads the same URL.
        seen = settings_value(instance, "CHANNEL_LAYERS")
        assert seen["default"]["CONFIG"]["hosts"][0]["address"] == url
        assert settings_value(instance, "Q_CLUSTER")["redis"] == url
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
    assert not (instance / "redis-url").exists()
    assert password not in log.read_text()
