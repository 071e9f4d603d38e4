"""May work start? Blackouts win over maintenance, cutoffs, the next start; scopes,
conflicts and calendar rows. Pure: no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from operations_app.windows import (
    BLACKOUT,
    MAINTENANCE,
    OUTSIDE,
    ScopeTarget,
    WindowEntry,
    WindowRule,
    WindowScope,
    calendar_rows,
    conflicts,
    covers,
    decide,
    scopes_overlap,
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Every Saturday 01:00-05:00 UTC, no new work after 04:30.
SATURDAYS = WindowEntry(
    "saturday-patching",
    MAINTENANCE,
    WindowRule("UTC", date(2026, 1, 3), time(1, 0), 240, "FREQ=WEEKLY;BYDAY=SA", cutoff_minutes=30),
)
# Month end freeze: the last day of each month, all day (Berlin).
MONTH_END = WindowEntry(
    "month-end-freeze",
    BLACKOUT,
    WindowRule(
        "Europe/Berlin", date(2026, 1, 1), time(0, 0), 24 * 60, "FREQ=MONTHLY;BYMONTHDAY=-1"
    ),
)


def test_inside_a_maintenance_occurrence_work_may_start():
    state = decide([SATURDAYS], utc(2026, 1, 10, 2, 0))
    assert state.may_start is True
    assert state.window == "saturday-patching" and state.kind == MAINTENANCE
    assert state.occurrence.start == utc(2026, 1, 10, 1, 0)
    assert state.until == utc(2026, 1, 10, 4, 30)
    assert state.next_start == utc(2026, 1, 10, 2, 0)
    assert "until Sat 10 Jan 2026 04:30 UTC" in state.reason


def test_past_the_cutoff_no_new_work():
    state = decide([SATURDAYS], utc(2026, 1, 10, 4, 45))
    assert state.may_start is False
    assert state.window == "saturday-patching"
    assert "last 30 minutes" in state.reason
    assert state.next_start == utc(2026, 1, 17, 1, 0)


def test_outside_any_maintenance_window():
    state = decide([SATURDAYS], utc(2026, 1, 12, 12, 0))
    assert state.may_start is False
    assert state.reason == OUTSIDE
    assert state.window is None and state.occurrence is None
    assert state.next_start == utc(2026, 1, 17, 1, 0)
    # With no window at all nothing may start either, and nothing opens.
    nothing = decide([], utc(2026, 1, 12, 12, 0))
    assert (nothing.may_start, nothing.reason, nothing.next_start) == (False, OUTSIDE, None)


def test_a_blackout_wins_over_maintenance():
    # Saturday 31 January 2026 is the month's last day: frozen in Berlin from
    # 30 Jan 23:00 UTC to 31 Jan 23:00 UTC.
    at = utc(2026, 1, 31, 2, 0)
    state = decide([SATURDAYS, MONTH_END], at)
    assert state.may_start is False
    assert state.window == "month-end-freeze" and state.kind == BLACKOUT
    assert state.reason == "blackout 'month-end-freeze' until Sun 1 Feb 2026 00:00 CET"
    assert state.next_start == utc(2026, 2, 7, 1, 0)  # the next Saturday


def test_the_cutoff_applies_before_a_blackout_that_begins_inside_the_window():
    blackout = WindowEntry(
        "release-freeze", BLACKOUT, WindowRule("UTC", date(2026, 1, 10), time(3, 0), 120)
    )
    entries = [SATURDAYS, blackout]
    early = decide(entries, utc(2026, 1, 10, 2, 0))
    assert early.may_start is True and early.until == utc(2026, 1, 10, 2, 30)
    late = decide(entries, utc(2026, 1, 10, 2, 40))
    assert late.may_start is False
    assert "blackout 'release-freeze' begins" in late.reason
    assert late.next_start == utc(2026, 1, 17, 1, 0)


def test_work_may_start_again_when_a_blackout_ends_inside_a_window():
    blackout = WindowEntry(
        "short-freeze", BLACKOUT, WindowRule("UTC", date(2026, 1, 10), time(0, 0), 120)
    )
    state = decide([SATURDAYS, blackout], utc(2026, 1, 10, 1, 30))
    assert state.may_start is False and state.kind == BLACKOUT
    assert state.next_start == utc(2026, 1, 10, 2, 0)


def test_two_maintenance_windows_take_the_one_open_longest():
    long_one = WindowEntry(
        "long", MAINTENANCE, WindowRule("UTC", date(2026, 1, 10), time(0, 0), 600)
    )
    state = decide([SATURDAYS, long_one], utc(2026, 1, 10, 2, 0))
    assert state.window == "long" and state.until == utc(2026, 1, 10, 10, 0)


def test_as_dict_has_the_documented_keys():
    assert set(decide([SATURDAYS], utc(2026, 1, 10, 2)).as_dict()) == {
        "may_start",
        "window",
        "kind",
        "occurrence",
        "reason",
        "next_start",
        "until",
    }


# --------------------------------------------------------------------------- scope

VM = ScopeTarget.for_vm(
    platform="lab-a", profile="web", flags=["Production", "pci"], labels={"team": "payments"}
)


def test_an_empty_scope_covers_everything():
    assert covers(WindowScope(), VM)
    assert covers(WindowScope(), ScopeTarget.for_platform("lab-b"))


def test_each_part_of_a_scope_must_match_a_vm():
    assert covers(WindowScope(platforms=("lab-a", "lab-b")), VM)
    assert not covers(WindowScope(platforms=("lab-b",)), VM)
    assert covers(WindowScope(profiles=("web",)), VM)
    assert not covers(WindowScope(profiles=("db",)), VM)
    assert covers(WindowScope(flags=("Production", "Testing")), VM)  # any flag
    assert not covers(WindowScope(flags=("Testing",)), VM)
    assert covers(WindowScope(labels={"team": "payments"}), VM)
    assert not covers(WindowScope(labels={"team": "search"}), VM)
    assert not covers(WindowScope(labels={"team": "payments", "tier": "gold"}), VM)  # all labels
    assert not covers(WindowScope(platforms=("lab-a",), profiles=("db",)), VM)  # all parts


def test_a_platform_is_covered_by_platform_and_label_scopes_only():
    rack = ScopeTarget.for_platform("lab-a", {"rack": "r12"})
    assert covers(WindowScope(platforms=("lab-a",)), rack)
    assert covers(WindowScope(labels={"rack": "r12"}), rack)
    assert not covers(WindowScope(labels={"rack": "r13"}), rack)
    assert not covers(WindowScope(flags=("Production",)), rack)
    assert not covers(WindowScope(platforms=("lab-a",), profiles=("web",)), rack)


def test_scopes_overlap():
    assert scopes_overlap(WindowScope(), WindowScope(platforms=("a",)))
    assert scopes_overlap(WindowScope(platforms=("a", "b")), WindowScope(platforms=("b",)))
    assert not scopes_overlap(WindowScope(platforms=("a",)), WindowScope(platforms=("b",)))
    assert scopes_overlap(WindowScope(platforms=("a",)), WindowScope(flags=("Production",)))
    assert not scopes_overlap(WindowScope(labels={"team": "a"}), WindowScope(labels={"team": "b"}))
    assert scopes_overlap(WindowScope(labels={"team": "a"}), WindowScope(labels={"rack": "1"}))


def test_a_scope_keeps_its_names_sorted_and_unique():
    assert WindowScope(platforms=("b", "a", "b")) == WindowScope(platforms=("a", "b"))


# --------------------------------------------------------------------------- conflicts


def test_conflicts_are_maintenance_occurrences_a_blackout_cuts_into():
    found = conflicts([SATURDAYS, MONTH_END], utc(2026, 1, 1), utc(2026, 4, 1))
    # Saturdays that are the last day of a month: 31 January 2026 (28 Feb is a Saturday too).
    assert [c.maintenance_occurrence.start for c in found] == [
        utc(2026, 1, 31, 1, 0),
        utc(2026, 2, 28, 1, 0),
    ]
    assert found[0].blackout.name == "month-end-freeze"
    assert "overlaps maintenance window 'saturday-patching'" in found[0].describe()
    elsewhere = WindowEntry(
        "other-freeze", BLACKOUT, MONTH_END.rule, scope=WindowScope(platforms=("lab-b",))
    )
    scoped = WindowEntry(
        "lab-a-patching", MAINTENANCE, SATURDAYS.rule, scope=WindowScope(platforms=("lab-a",))
    )
    assert conflicts([scoped, elsewhere], utc(2026, 1, 1), utc(2026, 4, 1)) == []


def test_calendar_rows_in_order_with_local_text():
    rows = calendar_rows([SATURDAYS, MONTH_END], utc(2026, 1, 30), utc(2026, 2, 2))
    assert [(r.name, r.kind) for r in rows] == [
        ("month-end-freeze", BLACKOUT),
        ("saturday-patching", MAINTENANCE),
    ]
    assert rows[0].text == "Sat 31 Jan 2026 00:00 – Sun 1 Feb 2026 00:00 CET"
    assert rows[1].text == "Sat 31 Jan 2026 01:00–05:00 UTC"
    assert rows[0].timezone == "Europe/Berlin"
