"""How fast the maintenance-window arithmetic is for a large estate.

1,000 windows (maintenance and blackouts; daily, weekly, monthly on the Nth weekday,
monthly on a day, yearly and one-off rules; 24 time zones on both hemispheres; exception
dates and cutoffs; scoped to one of 50 platforms, a profile, a flag or a label) and:

- the next occurrence of every window;
- the calendar of the next 90 days (every occurrence of every window, sorted);
- the conflicts of the next 90 days (maintenance overlapped by a blackout);
- "may work start now?" for 500 VMs, each against the windows covering it;
- iCalendar export of all 1,000 windows and import back.

Pure computation (``operations_app.windows``): no database, no libvirt. Prints the
figures; asserts nothing.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402  (puts the project on the path too)

from operations_app.windows import (  # noqa: E402
    BLACKOUT,
    MAINTENANCE,
    ScopeTarget,
    WindowData,
    WindowEntry,
    WindowRule,
    WindowScope,
    calendar_rows,
    conflicts,
    covers,
    decide,
    from_ics,
    next_occurrence,
    to_ics,
)

ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Helsinki",
    "Europe/Lisbon",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Santiago",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tehran",
    "Asia/Kathmandu",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Africa/Johannesburg",
    "Africa/Cairo",
    "Atlantic/Azores",
]
RULES = [
    "FREQ=DAILY",
    "FREQ=WEEKLY;BYDAY=SA,SU",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE",
    "FREQ=MONTHLY;BYDAY=2SA",
    "FREQ=MONTHLY;BYDAY=-1SU",
    "FREQ=MONTHLY;BYMONTHDAY=1",
    "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24",
    "",  # one-off
]
FLAGS = ["Production", "Testing", "Development"]


def make_windows(count: int, platforms: int, seed: int) -> list[WindowEntry]:
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    entries = []
    for i in range(count):
        rrule = rng.choice(RULES)
        start_date = today + timedelta(days=rng.randint(-60, 30))
        if rrule == "":
            start_date = today + timedelta(days=rng.randint(0, 89))
        # 02:30 is a local time that some zones skip or repeat on their DST days
        start_time = dtime(rng.choice([0, 1, 2, 3, 22]), rng.choice([0, 30]))
        duration = rng.choice([60, 120, 180, 240, 480])
        rule = WindowRule(
            tz=rng.choice(ZONES),
            start_date=start_date,
            start_time=start_time,
            duration_minutes=duration,
            rrule=rrule,
            exdates=(),
            cutoff_minutes=rng.choice([0, 15, 30]),
        )
        kind = BLACKOUT if i % 10 == 0 else MAINTENANCE
        part = i % 4
        scope = WindowScope(
            platforms=(f"host-{rng.randrange(platforms):02d}",) if part == 0 else (),
            profiles=(f"profile-{rng.randrange(20)}",) if part == 1 else (),
            flags=(rng.choice(FLAGS),) if part == 2 else (),
            labels={"team": f"team-{rng.randrange(10)}"} if part == 3 else {},
        )
        entries.append(WindowEntry(name=f"w-{i:04d}", kind=kind, rule=rule, scope=scope))
    return entries


def make_vms(count: int, platforms: int, seed: int) -> list[ScopeTarget]:
    rng = random.Random(seed + 1)
    return [
        ScopeTarget.for_vm(
            platform=f"host-{rng.randrange(platforms):02d}",
            profile=f"profile-{rng.randrange(20)}",
            flags=[rng.choice(FLAGS)],
            labels={"team": f"team-{rng.randrange(10)}"},
        )
        for _ in range(count)
    ]


def timed(fn, repeat: int) -> tuple[dict, object]:
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return c.summary(samples), result


def main() -> int:
    parser = c.base_parser(__doc__.splitlines()[0], repeat=3)
    parser.add_argument("--windows", type=int, default=1000, help="windows (default 1000)")
    parser.add_argument("--days", type=int, default=90, help="calendar span (default 90)")
    parser.add_argument("--vms", type=int, default=500, help="VMs asking (default 500)")
    parser.add_argument("--platforms", type=int, default=50, help="platforms (default 50)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    entries = make_windows(args.windows, args.platforms, args.seed)
    vms = make_vms(args.vms, args.platforms, args.seed)
    now = datetime.now(UTC).replace(microsecond=0)
    end = now + timedelta(days=args.days)
    print(
        f"{len(entries)} windows ({sum(e.kind == BLACKOUT for e in entries)} blackouts) in "
        f"{len(ZONES)} time zones, {args.days} days, {len(vms)} VMs on {args.platforms} "
        f"platforms, {args.repeat} repeats\n"
    )

    rows = []
    figures: dict[str, dict] = {}

    def record(name: str, what: str, fn):
        stats, result = timed(fn, args.repeat)
        figures[name] = {**stats, "what": what}
        rows.append([what, c.fmt(stats["median"], "s3"), c.fmt_range(stats, "s3")])
        return result

    record(
        "next_occurrence",
        f"next occurrence of each of {len(entries)} windows",
        lambda: [next_occurrence(e.rule, now) for e in entries],
    )
    calendar = record(
        "calendar",
        f"calendar of {args.days} days, all windows",
        lambda: calendar_rows(entries, now, end),
    )
    found = record(
        "conflicts",
        f"conflicts over {args.days} days",
        lambda: conflicts(entries, now, end),
    )

    def states():
        out = []
        for vm in vms:
            mine = [e for e in entries if covers(e.scope, vm)]
            out.append(decide(mine, now))
        return out

    decided = record("decide", f"may work start now, for {len(vms)} VMs", states)
    data = [WindowData(name=e.name, kind=e.kind, rule=e.rule, scope=e.scope) for e in entries]
    ics = record("to_ics", f"export {len(data)} windows as .ics", lambda: to_ics(data))
    back = record("from_ics", "import them back", lambda: from_ics(ics))

    print(c.table(["measure", "median (s)", "range (s)"], rows))
    allowed = sum(1 for s in decided if s.may_start)
    print(
        f"\n{len(calendar)} occurrences in the calendar, {len(found)} conflicts, "
        f"{allowed}/{len(decided)} VMs may start work now, .ics of {len(ics) // 1024} KiB, "
        f"{len(back)} windows read back"
    )
    c.write_json(args.json, {"args": vars(args), "figures": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
