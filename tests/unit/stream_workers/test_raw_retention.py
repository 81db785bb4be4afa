"""Which raw tables a retention run drops: whole months past a project's retention only."""

from datetime import date
from typing import Any

from stream_workers.retention import Table, cutoff, doomed, expired, parse_name

A = "0b7f3c1e-8d2a-4c5b-9e6f-1a2b3c4d5e6f"
B = "9c8d7e6f-5a4b-4c3d-8e2f-1a0b9c8d7e6f"
TODAY = date(2026, 9, 10)


def project_table(month: date, project: str, **kw: object) -> Table:
    name = f"events_{month.year}_{month.month:02d}_p{project.replace('-', '')}"
    fields: dict[str, Any] = {"parent": name[:14], "pending": False, "split": False, "children": 0}
    fields.update(kw)
    return Table(name, month, project, **fields)


def month_table(month: date, children: int = 0, split: bool = True) -> Table:
    return Table(
        f"events_{month.year}_{month.month:02d}", month, None, "events", False, split, children
    )


def test_names_round_trip_and_other_tables_are_not_ours() -> None:
    assert parse_name(project_table(date(2026, 7, 1), A).name) == (date(2026, 7, 1), A)
    assert parse_name("events_2026_07") == (date(2026, 7, 1), None)
    for other in ("events_default", "events", "events_2026_13", "events_2026_07_pxyz", "rollups"):
        assert parse_name(other) is None


def test_a_month_expires_only_when_all_of_it_is_past_the_retention() -> None:
    assert cutoff(30, TODAY) == date(2026, 8, 11)
    assert expired(date(2026, 7, 1), 30, TODAY)  # ends Aug 1, before Aug 11
    assert not expired(date(2026, 8, 1), 30, TODAY)  # Aug 11..31 are inside the 30 days
    assert expired(date(2026, 8, 1), 9, TODAY)  # Sep 1 is the cutoff itself
    assert not expired(date(2026, 8, 1), 10, TODAY)  # Aug 31 is kept
    assert not expired(date(2025, 10, 1), 365, TODAY)


def test_each_project_by_its_own_retention_and_unknown_projects_kept() -> None:
    july, aug = date(2026, 7, 1), date(2026, 8, 1)
    tables = [
        project_table(july, A),
        project_table(aug, A),
        project_table(july, B),
        project_table(july, "11111111-2222-4333-8444-555555555555"),  # not this shard's
        month_table(july, children=3),
        month_table(aug, children=1),
    ]
    gone = doomed(tables, {A: 30, B: 365}, TODAY)
    assert [t.name for t in gone] == [tables[0].name]


def test_a_month_made_before_the_split_goes_by_the_longest_retention() -> None:
    old = date(2024, 1, 1)
    tables = [project_table(old, A), project_table(old, B), month_table(old, children=2)]
    # The split month's own table stays, emptied: dropping it would lock ``events``.
    assert [t.name for t in doomed(tables, {A: 30, B: 365}, TODAY)] == [
        tables[0].name,
        tables[1].name,
    ]
    plain = month_table(date(2025, 6, 1), split=False)
    assert doomed([plain], {A: 30, B: 365}, TODAY) == [plain]
    assert doomed([plain], {A: 30, B: 730}, TODAY) == []


def test_leftovers_of_a_run_that_died_are_finished() -> None:
    pending = project_table(date(2026, 6, 1), A, pending=True)
    detached = project_table(date(2026, 5, 1), A, parent=None)
    assert doomed([pending, detached], {A: 30}, TODAY) == [pending, detached]
