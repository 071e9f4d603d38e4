"""Durations and sizes read one way everywhere: the formatter the pages, emails, CLI and
the worker's step outputs share, and the live job page's copy of it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from vmpersona.units import duration_text, ms_text, size_text

pytestmark = pytest.mark.dbfree

JOB_LIVE_JS = Path(__file__).resolve().parent.parent / "static" / "js" / "job_live.js"

DURATIONS = [
    # seconds, as written, as a countdown (whole seconds)
    (0, "0 ms", "0 s"),
    (0.037, "37 ms", "0 s"),
    (0.85, "850 ms", "0 s"),
    (1, "1.0 s", "1 s"),
    (8.421, "8.4 s", "8 s"),
    (11.389, "11.4 s", "11 s"),
    (42, "42.0 s", "42 s"),
    (59.96, "1 min", "59 s"),
    (60, "1 min", "1 min"),
    (125, "2 min 5 s", "2 min 5 s"),
    (600, "10 min", "10 min"),
    (3599.6, "1 h", "59 min 59 s"),
    (3900, "1 h 5 min", "1 h 5 min"),
    (90000, "1 day 1 h", "1 day 1 h"),
    (180000, "2 days 2 h", "2 days 2 h"),
]


@pytest.mark.parametrize(("seconds", "text", "whole"), DURATIONS)
def test_durations(seconds, text, whole):
    assert duration_text(seconds) == text
    assert duration_text(seconds, whole=True) == whole


def test_milliseconds_read_as_seconds_do():
    assert ms_text(11389) == "11.4 s" == duration_text(11.389)
    assert ms_text(37) == "37 ms" and ms_text(125_000) == "2 min 5 s"
    assert ms_text(None) == "—" and ms_text(None, unknown="?") == "?"
    assert duration_text(None) == "—" and duration_text(True) == "—"


def test_sizes():
    assert size_text(512) == "512 B" and size_text(1536 * 1024**2) == "1.5 GiB"
    assert size_text(1024, "/s") == "1.0 KiB/s" and size_text(None, unknown="-") == "-"


def _js_function(name: str) -> str:
    source = JOB_LIVE_JS.read_text()
    start = source.index(f"function {name}(")
    end = source.index("\n  }\n", start) + len("\n  }\n")
    return source[start:end]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_live_job_page_writes_durations_as_the_server_does():
    script = (
        _js_function("fmtDuration")
        + f"const cases = {json.dumps([c[0] for c in DURATIONS])};\n"
        + "console.log(JSON.stringify(cases.map(s => [fmtDuration(s), fmtDuration(s, true)])));"
    )
    out = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert json.loads(out) == [[text, whole] for _, text, whole in DURATIONS]
    # And its countdown is the server's remaining_text.
    remaining = _js_function("remainingText")
    assert re.search(r'"in " \+ fmtDuration\(seconds, true\)', remaining)
