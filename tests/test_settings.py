"""Settings as a process started on an instance folder reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SHOW = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'redis': settings.REDIS_URL, "
    "'layer': settings.CHANNEL_LAYERS['default']['BACKEND'], "
    "'broker': 'redis' if 'redis' in settings.Q_CLUSTER else 'orm'}))"
)


def settings_seen(instance: Path, **env: str) -> dict:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "VMPERSONA_TESTING", "DATABASE_URL"}
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="vmpersona.settings", VMPERSONA_INSTANCE_DIR=str(instance), **env
    )
    done = subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def instance(tmp_path) -> Path:
    folder = tmp_path / "instance"
    folder.mkdir()
    (folder / "redis-url").write_text("redis://127.0.0.1:6399/0\n")
    return folder


def test_commands_on_a_running_instance_use_the_redis_it_recorded(instance):
    seen = settings_seen(instance)
    assert seen == {
        "redis": "redis://127.0.0.1:6399/0",
        "layer": "channels_redis.core.RedisChannelLayer",
        "broker": "redis",
    }


def test_the_environment_wins_over_the_recorded_redis(instance):
    assert settings_seen(instance, REDIS_URL="redis://127.0.0.1:6400/1")["redis"] == (
        "redis://127.0.0.1:6400/1"
    )


def test_without_a_recorded_redis_the_instance_runs_on_its_own(instance):
    (instance / "redis-url").unlink()
    seen = settings_seen(instance)
    assert seen == {"redis": "", "layer": "channels.layers.InMemoryChannelLayer", "broker": "orm"}


def test_tests_never_send_jobs_to_a_running_instance(instance):
    seen = settings_seen(instance, VMPERSONA_TESTING="1")
    assert seen["redis"] == "" and seen["broker"] == "orm"
