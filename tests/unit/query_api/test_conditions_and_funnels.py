from datetime import UTC, datetime, timedelta

from query_api.conditions import raw_filters, value_filters
from query_api.freshness import describe
from query_api.funnels import conversion_steps, funnel_sql, funnel_statement
from query_api.model import Filter, Funnel, Range, Step

HOSTILE = "'; DROP TABLE events; --"


def test_keys_and_values_are_parameters_never_sql_text():
    filters = [
        Filter(HOSTILE, op, HOSTILE) for op in ("eq", "neq", "contains", "not_contains", "gt")
    ]
    filters += [Filter(HOSTILE, "in", [HOSTILE]), Filter(HOSTILE, "is_set")]
    text, params = raw_filters(filters)
    assert HOSTILE not in text and "DROP" not in text
    assert params.count(HOSTILE) >= len(filters)
    text, params = value_filters([Filter(HOSTILE, "eq", HOSTILE)])
    assert HOSTILE not in text and params == [HOSTILE]


def test_values_compare_as_the_text_rollups_store():
    assert raw_filters([Filter("k", "eq", 5)])[1] == ["k", "5"]
    assert raw_filters([Filter("k", "in", [True, "x"])])[1] == ["k", ["true", "x"]]
    assert raw_filters([])[0] == "true"


def test_numbers_order_as_numbers_and_strings_as_text():
    text, params = raw_filters([Filter("k", "lt", 2.5)])
    assert "numeric" in text and params == ["k", "k", 2.5]
    text, _ = raw_filters([Filter("k", "gte", "2026-01")])
    assert 'COLLATE "C"' in text


def test_funnel_statement_binds_events_filters_and_window():
    q = Funnel(
        "p",
        Range(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC)),
        (Step(HOSTILE, (Filter(HOSTILE, "eq", "x"),)), Step("b", ()), Step("c", ())),
        timedelta(hours=1),
        (Filter("g", "is_set"),),
    )
    sql, params = funnel_statement(q, "project-id")
    assert HOSTILE not in sql and "{" not in sql
    assert sql.count("%s") == len(params)
    # One slice of the ids in no merge, and the merged persons' branch.
    assert params.count(timedelta(hours=1)) == 2


def test_each_slice_repeats_the_parameters_with_its_own_bounds():
    q = Funnel(
        "p",
        Range(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC)),
        (Step("a", (Filter("k", "eq", "v"),)), Step("b", ())),
        timedelta(hours=1),
        (Filter("g", "is_set"),),
    )
    one, one_params = funnel_statement(q, "project-id")
    sql, params = funnel_statement(q, "project-id", [HOSTILE, "u5"])
    assert HOSTILE not in sql and "{" not in sql
    # Per branch: the window, the step and global parameters, the bounds, and the project
    # twice (the merged ids); the merged persons' branch last, without bounds.
    branch = len(one_params) // 2  # a slice's and the merged branch's are as many
    assert sql.count("%s") == len(params) == 4 * branch + 4
    assert sql.count(" NOT IN ") == 3 and one.count(" NOT IN ") == 1  # merged ids out
    slices = params[: len(params) - branch]
    assert [p for p in slices if p in (HOSTILE, "u5")] == [HOSTILE, HOSTILE, "u5", "u5"]
    assert slices[branch + 1 - 3] == HOSTILE and slices[-3] == "u5"
    assert params.count(timedelta(hours=1)) == 4


def test_statement_text_depends_only_on_the_numbers_of_steps_and_slices():
    assert funnel_sql(3, 2) == funnel_sql(3, 2)
    assert funnel_sql(3, 2) != funnel_sql(3, 1) != funnel_sql(4, 1)
    # Every later step's time is computed once, in a layer of its own.
    assert funnel_sql(10).count("width_bucket") == 2 * 9  # a slice, the merged persons


def test_conversion_rates_and_medians():
    rows = conversion_steps(["a", "b", "c"], [10, 5, 0], [30.0, None])
    assert [r["conversionFromFirst"] for r in rows] == [1.0, 0.5, 0.0]
    assert [r["conversionFromPrevious"] for r in rows] == [1.0, 0.5, 0.0]
    assert [r["medianSecondsToConvert"] for r in rows] == [None, 30.0, None]
    empty = conversion_steps(["a", "b"], [0, 0], [None])
    assert empty[0]["conversionFromFirst"] == 0.0


def test_freshness_is_the_oldest_partition_watermark():
    now = datetime(2026, 2, 1, 12, tzinfo=UTC)
    fresh = describe(now - timedelta(seconds=90), now - timedelta(seconds=2), 12, now)
    assert fresh["secondsBehind"] == 90.0 and fresh["partitions"] == 12
    assert describe(None, None, 0, now)["watermark"] is None
