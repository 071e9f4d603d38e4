"""The generic check-table evaluator (plain data in, checks out)."""

from __future__ import annotations

from dataclasses import dataclass, field

from operations_app.verification import Compared, Each, at_least, evaluate, never, show_value


@dataclass
class Facts:
    want_cpus: int = 2
    got_cpus: int = 2
    disks: dict[str, int | None] = field(default_factory=dict)  # name -> size (None: missing)


TABLE = [
    Compared[Facts](
        "resources", "/cpus", "vCPUs", lambda f, _: f.want_cpus, lambda f, _: f.got_cpus
    ),
    Each[Facts](
        lambda f: sorted(f.disks),
        [
            Compared[Facts](
                "disks",
                lambda f, d: f"/disks/{d}",
                lambda f, d: f"disk {d} exists",
                expected=lambda f, d: "present",
                actual=lambda f, d: "missing",
                how=never,
                when=lambda f, d: f.disks[d] is None,
            ),
            Compared[Facts](
                "disks",
                lambda f, d: f"/disks/{d}",
                lambda f, d: f"disk {d} size",
                expected=lambda f, d: 10,
                actual=lambda f, d: f.disks[d],
                how=at_least,
                when=lambda f, d: f.disks[d] is not None,
            ),
        ],
    ),
]


def test_rows_are_evaluated_in_table_order_and_item_by_item():
    checks = evaluate(TABLE, Facts(got_cpus=3, disks={"b": 20, "a": None}), source="test")
    assert [(c.name, c.expected, c.actual, c.passed) for c in checks] == [
        ("vCPUs", "2", "3", False),
        ("disk a exists", "present", "missing", False),
        ("disk b size", "10", "20", True),
    ]
    assert {c.source for c in checks} == {"test"}
    assert checks[1].pointer == "/disks/a"


def test_values_are_written_as_checks_show_them():
    assert show_value(None) == "—"
    assert show_value({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
    assert show_value(5) == "5"
