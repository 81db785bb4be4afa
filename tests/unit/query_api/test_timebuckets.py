from datetime import UTC, datetime, timedelta
from itertools import pairwise

from query_api.model import Range
from query_api.timebuckets import buckets, default_interval, label


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_interval_grows_with_the_range():
    assert default_interval(timedelta(hours=1)) == "minute"
    assert default_interval(timedelta(days=3)) == "hour"
    assert default_interval(timedelta(days=30)) == "day"
    assert default_interval(timedelta(days=365)) == "week"
    assert default_interval(timedelta(days=1000)) == "month"


def test_partial_first_and_last_buckets_are_cut_at_the_range():
    labels, edges = buckets(Range(utc(2026, 2, 1, 10, 30), utc(2026, 2, 1, 12, 15)), "hour", "UTC")
    assert labels == [utc(2026, 2, 1, 10), utc(2026, 2, 1, 11), utc(2026, 2, 1, 12)]
    assert edges == [
        utc(2026, 2, 1, 10, 30),
        utc(2026, 2, 1, 11),
        utc(2026, 2, 1, 12),
        utc(2026, 2, 1, 12, 15),
    ]


def test_new_york_days_are_23_and_25_hours_long_around_dst():
    spring = buckets(Range(utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)), "day", "America/New_York")
    assert spring[1] == [utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)]
    fall_labels, fall = buckets(
        Range(utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)), "day", "America/New_York"
    )
    assert fall[1] - fall[0] == timedelta(hours=25)
    assert label(fall_labels[0], "America/New_York") == "2026-11-01T00:00:00-04:00"


def test_new_york_hours_across_fall_back_repeat_one_o_clock_with_two_offsets():
    labels, _ = buckets(Range(utc(2026, 11, 1, 4), utc(2026, 11, 1, 8)), "hour", "America/New_York")
    names = [label(t, "America/New_York") for t in labels]
    assert names == [
        "2026-11-01T00:00:00-04:00",
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]


def test_kolkata_hours_start_at_half_past_utc():
    labels, edges = buckets(Range(utc(2026, 2, 1), utc(2026, 2, 1, 2)), "hour", "Asia/Kolkata")
    assert [label(t, "Asia/Kolkata") for t in labels] == [
        "2026-02-01T05:00:00+05:30",
        "2026-02-01T06:00:00+05:30",
        "2026-02-01T07:00:00+05:30",
    ]
    assert edges[1] == utc(2026, 2, 1, 0, 30)


def test_weeks_start_on_monday_and_months_on_the_first():
    labels, _ = buckets(Range(utc(2026, 2, 4), utc(2026, 2, 20)), "week", "UTC")
    assert labels == [utc(2026, 2, 2), utc(2026, 2, 9), utc(2026, 2, 16)]
    labels, _ = buckets(Range(utc(2026, 1, 15), utc(2026, 3, 2)), "month", "Asia/Kolkata")
    assert [label(t, "Asia/Kolkata")[:10] for t in labels] == [
        "2026-01-01",
        "2026-02-01",
        "2026-03-01",
    ]


def test_minutes():
    labels, edges = buckets(
        Range(utc(2026, 2, 1), utc(2026, 2, 1, 0, 3)), "minute", "Asia/Kathmandu"
    )
    assert len(labels) == 3 and len(edges) == 4
    assert label(labels[0], "Asia/Kathmandu") == "2026-02-01T05:45:00+05:45"


def test_lord_howe_half_hour_dst_keeps_every_local_hour():
    zone = "Australia/Lord_Howe"  # +11 in summer, +10:30 in winter; shift on 5 April 2026
    labels, _ = buckets(Range(utc(2026, 4, 4, 12), utc(2026, 4, 4, 18)), "hour", zone)
    names = [label(t, zone) for t in labels]
    assert names[0] == "2026-04-04T23:00:00+11:00"
    assert all(n[14:16] == "00" for n in names)
    assert len(set(names)) == len(names)


def test_hours_start_on_the_hour_in_historical_offsets_off_the_quarter_grid():
    # Kiritimati was at -10:40 until 1979, Monrovia at -0:44:30 until 1972: a timeseries
    # there once found no hour start at all (a 500).
    for zone, day in (
        ("Pacific/Kiritimati", utc(1975, 6, 1)),
        ("Africa/Monrovia", utc(1971, 6, 1)),
    ):
        labels, edges = buckets(Range(day, day + timedelta(hours=5)), "hour", zone)
        assert len(labels) == 6 and edges[0] == day and edges[-1] == day + timedelta(hours=5)
        names = [label(t, zone) for t in labels]
        assert all(name[14:19] == "00:00" for name in names), names
        assert all(b - a == timedelta(hours=1) for a, b in pairwise(labels))
