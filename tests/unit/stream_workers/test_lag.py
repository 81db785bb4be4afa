from datetime import UTC, datetime, timedelta

from stream_workers.lag import PartitionLag, compute_lag, format_table

NOW = datetime(2026, 2, 1, tzinfo=UTC)


def test_lag_is_log_end_minus_committed_and_freshness_is_age_of_last_applied() -> None:
    rows = compute_lag("events", {0: 10, 1: 5}, {0: 7}, {0: NOW - timedelta(seconds=3)}, NOW)
    assert rows == [
        PartitionLag("events", 0, 10, 7, 3, 3.0),
        PartitionLag("events", 1, 5, None, None, None),
    ]
    assert "-" in format_table(rows).splitlines()[2]
