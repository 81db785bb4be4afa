from datetime import UTC, datetime

from query_api.model import Filter
from query_api.planner import coarsest, filter_key, plan


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_whole_days_are_read_from_day_buckets():
    chosen = plan([utc(2026, 2, 1), utc(2026, 2, 2), utc(2026, 2, 3)], [])
    assert chosen.source == "rollup" and chosen.granularity == "day"


def test_kolkata_days_need_15_minute_buckets_at_their_edges():
    chosen = plan([utc(2026, 1, 31, 18, 30), utc(2026, 2, 1, 18, 30)], [])
    assert chosen.granularity == "15min"
    assert coarsest([utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)]) == "hour"  # New York days


def test_edges_inside_a_minute_read_rollups_between_whole_minutes_and_raw_outside():
    chosen = plan([utc(2026, 2, 1, 0, 0, 30), utc(2026, 2, 1, 1), utc(2026, 2, 1, 1, 30, 5)], [])
    assert chosen.rollup_edges == (
        utc(2026, 2, 1, 0, 1),
        utc(2026, 2, 1, 1),
        utc(2026, 2, 1, 1, 30),
    )
    assert (chosen.source, chosen.granularity, chosen.raw_edges) == ("rollup", "minute", True)
    assert plan([utc(2026, 2, 1, 0, 0, 30), utc(2026, 2, 1, 0, 0, 50)], []).source == "raw"
    inside = [utc(2026, 2, 1, 0, 0, 30), utc(2026, 2, 1, 0, 30, 30), utc(2026, 2, 2)]
    assert plan(inside, []).source == "raw"  # a middle edge inside a minute
    assert plan(inside[::2], [], breakdown="k").source == "raw"  # breakdowns: whole minutes


def test_filters_on_one_rolled_up_key_with_exact_ops_use_breakdown_rollups():
    chosen = plan([utc(2026, 2, 1), utc(2026, 2, 2)], [Filter("$browser", "in", ["A", "B"])])
    assert (chosen.source, chosen.key) == ("rollup", "$browser")
    assert filter_key([Filter("k", "eq", "a"), Filter("k", "neq", "b")]) == (True, "k")


def test_filters_a_stored_value_cannot_decide_go_raw():
    span = [utc(2026, 2, 1), utc(2026, 2, 2)]
    assert plan(span, [Filter("k", "contains", "a")]).source == "raw"
    assert plan(span, [Filter("k", "gt", 3)]).source == "raw"
    assert plan(span, [Filter("a", "eq", "x"), Filter("b", "eq", "y")]).source == "raw"
    assert plan(span, [Filter("k", "eq", "x" * 600)]).source == "raw"  # longer than stored


def test_a_breakdown_filtered_on_another_key_goes_raw():
    span = [utc(2026, 2, 1), utc(2026, 2, 2)]
    assert plan(span, [Filter("a", "eq", "x")], breakdown="b").source == "raw"
    assert plan(span, [Filter("b", "eq", "x")], breakdown="b").key == "b"
    assert plan(span, [], breakdown="b").key == "b"


def test_minute_edges_read_minute_buckets():
    assert coarsest([utc(2026, 2, 1, 23, 44), utc(2026, 2, 3, 1)]) == "minute"
    assert coarsest([utc(2026, 2, 1, 23, 45, 1)]) is None
