"""A VM's metric samples as the VM page draws them: SVG line charts and a table.

The charts are drawn on the server as polyline point lists in a 300x80 box, so the page
needs no script; a gap in the samples (or a counter that went down) leaves a gap in
the line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from operations_app.models import ManagedVM, VMMetricSample
from operations_app.presentation.formatting import mib_text, percent_text, rate_text

CHART_W, CHART_H = 300.0, 80.0

# The cumulative byte counters of a sample, shown as rates.
COUNTERS = ("disk_read_bytes", "disk_write_bytes", "net_rx_bytes", "net_tx_bytes")


@dataclass
class ChartSeries:
    label: str
    css: str
    segments: list[str]
    dots: list[str]
    latest: str


def counter_rates(samples: list[VMMetricSample], attr: str) -> list[float | None]:
    """Bytes per second between consecutive samples of a cumulative counter.

    The first sample has no rate; a counter that went down (the domain restarted) has none.
    """
    rates: list[float | None] = [None] if samples else []
    for prev, cur in pairwise(samples):
        seconds = (cur.at - prev.at).total_seconds()
        delta = getattr(cur, attr) - getattr(prev, attr)
        rates.append(delta / seconds if seconds > 0 and delta >= 0 else None)
    return rates


def _chart(
    title: str,
    times: list[datetime],
    series: list[tuple[str, str, list[float | None]]],
    *,
    fmt: Callable[[float | None], str],
    ymax: float | None = None,
) -> dict[str, Any]:
    """An SVG line chart's geometry: polyline point lists in a 300x80 box, gaps left open."""
    values = [v for _, _, vs in series for v in vs if v is not None]
    top = ymax if ymax else (max(values) if values else 0)
    if not top or top <= 0:
        top = 1.0
    if len(times) > 1:
        t0, span = times[0], (times[-1] - times[0]).total_seconds() or 1.0
        xs = [CHART_W * (t - t0).total_seconds() / span for t in times]
    else:
        xs = [CHART_W] * len(times)
    out = []
    for label, css, vs in series:
        segments: list[str] = []
        dots: list[str] = []
        run: list[str] = []
        for x, v in zip(xs, vs, strict=True):
            if v is None:
                if run:
                    (segments if len(run) > 1 else dots).append(" ".join(run))
                run = []
                continue
            y = CHART_H - CHART_H * min(max(v, 0.0), top) / top
            run.append(f"{x:.1f},{y:.1f}")
        if run:
            (segments if len(run) > 1 else dots).append(" ".join(run))
        latest = next((v for v in reversed(vs) if v is not None), None)
        out.append(ChartSeries(label, css, segments, [f"{d} {d}" for d in dots], fmt(latest)))
    return {
        "title": title,
        "series": out,
        "top": fmt(top if values or ymax else None),
        "start": times[0] if times else None,
        "end": times[-1] if times else None,
        "empty": not values,
        "w": int(CHART_W),
        "h": int(CHART_H),
        "mid": CHART_H / 2,
    }


def vm_charts(vm: ManagedVM, samples: list[VMMetricSample]) -> list[dict[str, Any]]:
    """CPU, memory, disk and network charts of the samples (oldest first)."""
    times = [s.at for s in samples]
    totals = [s.memory_total_mib for s in samples if s.memory_total_mib]
    memory_top = max(totals) if totals else (vm.memory_mib or None)

    def rates(*pairs: tuple[str, str, str]) -> list[tuple[str, str, list[float | None]]]:
        return [(label, css, counter_rates(samples, attr)) for label, css, attr in pairs]

    return [
        _chart(
            "CPU",
            times,
            [("CPU", "s-cpu", [s.cpu_percent for s in samples])],
            fmt=percent_text,
            ymax=100.0,
        ),
        _chart(
            "Memory used",
            times,
            [("used", "s-mem", [s.memory_used_mib for s in samples])],
            fmt=mib_text,
            ymax=memory_top,
        ),
        _chart(
            "Disk",
            times,
            rates(("read", "s-read", "disk_read_bytes"), ("write", "s-write", "disk_write_bytes")),
            fmt=rate_text,
        ),
        _chart(
            "Network",
            times,
            rates(("rx", "s-rx", "net_rx_bytes"), ("tx", "s-tx", "net_tx_bytes")),
            fmt=rate_text,
        ),
    ]


def sample_rows(samples: list[VMMetricSample], count: int) -> list[dict[str, Any]]:
    """The newest ``count`` samples, newest first, with their rates."""
    rates = {attr: counter_rates(samples, attr) for attr in COUNTERS}
    rows = []
    for index in range(len(samples) - 1, max(len(samples) - count, 0) - 1, -1):
        s = samples[index]
        rows.append(
            {
                "at": s.at,
                "cpu": percent_text(s.cpu_percent),
                "memory": mib_text(s.memory_used_mib),
                "memory_total": mib_text(s.memory_total_mib) if s.memory_total_mib else "",
                "disk_read": rate_text(rates["disk_read_bytes"][index]),
                "disk_write": rate_text(rates["disk_write_bytes"][index]),
                "net_rx": rate_text(rates["net_rx_bytes"][index]),
                "net_tx": rate_text(rates["net_tx_bytes"][index]),
            }
        )
    return rows
