import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from stream_workers.rollups import (
    GRANULARITIES,
    bucket_start,
    cover,
    local_day,
    local_days,
    value_text,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        ("minute", utc(2026, 3, 8, 6, 59)),
        ("15min", utc(2026, 3, 8, 6, 45)),
        ("hour", utc(2026, 3, 8, 6)),
        ("day", utc(2026, 3, 8)),
    ],
)
def test_bucket_start_floors_to_utc_aligned_buckets(granularity: str, expected: datetime) -> None:
    assert bucket_start(utc(2026, 3, 8, 6, 59, 59, 999999), granularity) == expected


def test_bucket_start_of_a_zoned_time_is_its_utc_bucket() -> None:
    from zoneinfo import ZoneInfo

    kolkata = datetime(2026, 2, 1, 0, 10, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert bucket_start(kolkata, "day") == utc(2026, 1, 31)
    assert bucket_start(kolkata, "15min") == utc(2026, 1, 31, 18, 30)


def test_cover_is_exact_and_minimal() -> None:
    buckets = cover(utc(2026, 1, 1, 23, 44), utc(2026, 1, 3, 1, 30))
    assert buckets[0] == ("minute", utc(2026, 1, 1, 23, 44))
    assert ("day", utc(2026, 1, 2)) in buckets
    assert [g for g, _ in buckets].count("day") == 1
    # contiguous and exactly the range
    point = utc(2026, 1, 1, 23, 44)
    for name, start in buckets:
        assert start == point
        point += GRANULARITIES[name]
    assert point == utc(2026, 1, 3, 1, 30)


def test_cover_refuses_sub_minute_bounds() -> None:
    with pytest.raises(ValueError):
        cover(utc(2026, 1, 1, 0, 0, 1), utc(2026, 1, 2))


def test_new_york_spring_forward_day_is_23_hours() -> None:
    start, end = local_day(date(2026, 3, 8), "America/New_York")
    assert start == utc(2026, 3, 8, 5)  # EST midnight
    assert end == utc(2026, 3, 9, 4)  # EDT midnight
    assert end - start == timedelta(hours=23)
    assert all(g == "hour" for g, _ in cover(start, end))


def test_new_york_fall_back_day_is_25_hours() -> None:
    start, end = local_day(date(2026, 11, 1), "America/New_York")
    assert (start, end) == (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    assert sum((GRANULARITIES[g] for g, _ in cover(start, end)), timedelta()) == timedelta(hours=25)


def test_kolkata_day_uses_15_minute_edges() -> None:
    start, end = local_day(date(2026, 2, 1), "Asia/Kolkata")
    assert (start, end) == (utc(2026, 1, 31, 18, 30), utc(2026, 2, 1, 18, 30))
    buckets = cover(start, end)
    assert {g for g, _ in buckets} == {"15min", "hour"}
    assert "minute" not in {g for g, _ in buckets}


def test_kathmandu_day_uses_15_minute_edges() -> None:
    start, end = local_day(date(2026, 2, 1), "Asia/Kathmandu")
    assert (start, end) == (utc(2026, 1, 31, 18, 15), utc(2026, 2, 1, 18, 15))
    buckets = cover(start, end)
    assert buckets[0] == ("15min", utc(2026, 1, 31, 18, 15))
    assert buckets[-1] == ("15min", utc(2026, 2, 1, 18))


def test_utc_day_is_one_day_bucket() -> None:
    assert cover(*local_day(date(2026, 2, 1), "UTC")) == [("day", utc(2026, 2, 1))]


def test_local_days_span_dst() -> None:
    days = list(local_days(date(2026, 3, 7), date(2026, 3, 9), "America/New_York"))
    assert [end - start for _, start, end in days] == [
        timedelta(hours=24),
        timedelta(hours=23),
        timedelta(hours=24),
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [("/pricing", "/pricing"), (None, None), (3, "3"), (True, "true"), ({"a": 1}, '{"a":1}')],
)
def test_value_text(value: object, text: str | None) -> None:
    assert value_text(value) == text


def test_value_text_is_cut() -> None:
    assert len(value_text("x" * 2000) or "") == 500


def test_granularities_nest_as_the_rollup_sql_assumes() -> None:
    # stream_workers.projections builds each level from the sketches of the one below:
    # finest first, each width a whole multiple of the previous, all epoch-aligned.
    from stream_workers.projections import level_parameters

    widths = list(GRANULARITIES.values())
    assert all(b % a == timedelta(0) and b > a for a, b in itertools.pairwise(widths))
    assert level_parameters()["g0"] == "minute"
