"""The health watch in ``manage.py persona``: ``job confirm``, ``job extend``, what
``job ID`` shows while a job watches, and how a followed job's watch reads."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from operations_app.management.job_cli import follow
from operations_app.models import JobStatus
from operations_app.services import jobs as job_services
from operations_app.services import watch as watch_services
from tests.operations_app.job_support import approved_version, clone_job, make_platform, persona
from tests.operations_app.watch_support import health_round, watch_events, watching_job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_cli_user")]


@pytest.fixture
def setup(users):
    return approved_version(users), make_platform()


@pytest.fixture
def job(users, setup):
    """Watching for ten more minutes, two rounds in; requested by "author"."""
    version, platform = setup
    return watching_job(users, version=version, platform=platform, rounds=2)


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, msg: str) -> None:
        self.lines.append(msg)


def test_the_requester_confirms_the_watch(users, job):
    before = timezone.now()
    code, out, err = persona("job", "confirm", str(job.pk), "--as", "author")
    assert code == 0, err
    assert out.strip() == (
        f"job {job.pk}: health watch confirmed; it ends after the probe round in progress"
    )
    job.refresh_from_db()
    assert before <= job.watch_until <= timezone.now()
    [event] = watch_events(job)
    assert event["action"] == "confirm" and event["by"] == "author"


def test_an_operator_extends_the_watch(users, job):
    old = job.watch_until
    code, out, err = persona("job", "extend", str(job.pk), "--minutes", "30", "--as", "operator")
    assert code == 0, err
    job.refresh_from_db()
    assert job.watch_until == old + timedelta(minutes=30)
    assert out.strip().startswith(
        f"job {job.pk}: health watch extended by 30 min, "
        f"until {job.watch_until:%Y-%m-%d %H:%M:%S} (in "
    )
    [event] = watch_events(job)
    assert event["action"] == "extend" and event["minutes"] == 30 and event["by"] == "operator"


def test_extend_defaults_to_fifteen_minutes_and_reads_the_environment_user(users, job, monkeypatch):
    monkeypatch.setenv("VMPERSONA_CLI_USER", "author")
    old = job.watch_until
    code, out, err = persona("job", "extend", str(job.pk))
    assert code == 0, err
    assert "health watch extended by 15 min" in out
    job.refresh_from_db()
    assert job.watch_until == old + timedelta(minutes=15)
    assert watch_events(job)[0]["by"] == "author"


@pytest.mark.parametrize("action", ["confirm", "extend"])
def test_refusals(users, setup, job, action):
    code, _, err = persona("job", action, str(job.pk))
    assert code == 2 and "--as USER" in err
    code, _, err = persona("job", action, str(job.pk), "--as", "viewer")
    assert code == 3 and "Only operators or the job's requester" in err
    code, _, err = persona("job", action, "999999", "--as", "operator")
    assert code == 3 and "No job #999999." in err
    version, platform = setup
    queued = clone_job(users, vm_name="web-q", version=version, platform=platform)
    code, _, err = persona("job", action, str(queued.pk), "--as", "operator")
    assert code == 3 and f"Job #{queued.pk} is queued, not watching" in err
    old = job.watch_until
    job.refresh_from_db()
    assert job.watch_until == old and watch_events(job) == []


@pytest.mark.parametrize(
    "minutes, message",
    [
        ("0", "minutes: must be between 1 and 1440"),
        ("100000", "minutes: must be between 1 and 1440"),
        ("abc", "minutes: must be a whole number of minutes"),
        ("50", "minutes: the watch can end at"),
    ],
)
def test_invalid_minutes_print_the_field(users, job, minutes, message):
    code, _, err = persona("job", "extend", str(job.pk), "--minutes", minutes, "--as", "operator")
    assert code == 1 and err.startswith(message), err
    assert watch_events(job) == []


def test_usage_errors(users, job):
    assert persona("job", "confirm")[0] == 2
    assert persona("job", "extend", "--minutes", "5")[0] == 2
    code, _, err = persona("job", "confirm", str(job.pk), "--minutes", "5", "--as", "operator")
    assert code == 2 and "--minutes goes with extend" in err
    code, _, err = persona("job", str(job.pk), "--minutes", "5")
    assert code == 2
    assert watch_events(job) == []


def test_job_show_tells_when_the_watch_ends_and_the_last_round(users, job):
    code, out, _ = persona("job", str(job.pk))
    assert code == 0
    rows = dict(re.findall(r"^([a-z ]+):\s+(.*)$", out, re.M))
    assert rows["status"] == "watching"
    assert re.fullmatch(
        rf"{job.watch_until:%Y-%m-%d %H:%M:%S} \(in (9 min( \d\d? s)?|10 min)\)",
        rows["watch until"],
    )
    assert rows["last round"] == (
        "round 2: 2/3 passed; failed: http://127.0.0.1/healthz answers (1 round in a row)"
    )


def test_a_job_that_is_not_watching_shows_no_watch(users, setup):
    version, platform = setup
    queued = clone_job(users, vm_name="web-q", version=version, platform=platform)
    _, out, _ = persona("job", str(queued.pk))
    assert "watch until" not in out and "last round" not in out


def test_following_a_job_prints_its_rounds_and_the_watch(users, job):
    watch_services.job_watch_extend(user=users["operator"], job=job, minutes=5)
    health_round(job, number=3, passed=True)
    watch_services.job_watch_confirm(user=users["author"], job=job)
    job_services.job_transition(job=job, to=JobStatus.SUCCEEDED, allowed=[JobStatus.WATCHING])
    out = Lines()
    follow(job, after=0, out=out, sleep=lambda s: None)
    extended, confirmed = (e["until"] for e in watch_events(job))
    until = timezone.datetime.fromisoformat(extended)
    assert out.lines[out.lines.index("status: watching (watching health for 10 min)") :] == [
        "status: watching (watching health for 10 min)",
        "health round 1: 3/3 passed",
        "health round 2: 2/3 passed; failed: http://127.0.0.1/healthz answers (1 round in a row)",
        f"watch extended by 5 min by operator, until {until:%Y-%m-%d %H:%M:%S}",
        "health round 3: 3/3 passed",
        "watch confirmed by author, until "
        f"{timezone.datetime.fromisoformat(confirmed):%Y-%m-%d %H:%M:%S}",
        "status: succeeded",
        f"job {job.pk} succeeded in " + out.lines[-1].split(" succeeded in ", 1)[1],
    ]
    # Its duration is written as everywhere else: 26 ms, 1.2 s, 2 min 5 s.
    assert re.fullmatch(r"job \d+ succeeded in (\d+ ms|\d+\.\d s|\d+ min( \d+ s)?)", out.lines[-1])


def test_watch_events_are_listed_with_the_job(users, job):
    watch_services.job_watch_confirm(user=users["author"], job=job)
    _, out, _ = persona("job", str(job.pk), "--events")
    assert re.search(r' watch +\{"action": "confirm", "by": "author"', out)
