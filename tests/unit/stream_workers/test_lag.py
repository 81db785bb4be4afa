from datetime import UTC, datetime, timedelta

import pytest

from common.lag import Inconsistency, StoredPartition, describe_inconsistency
from stream_workers.lag import PartitionLag, compute_lag, format_table

NOW = datetime(2026, 2, 1, tzinfo=UTC)


def test_lag_is_log_end_minus_committed_and_freshness_is_age_of_last_applied() -> None:
    rows = compute_lag("events", {0: 10, 1: 5}, {0: 7}, {0: NOW - timedelta(seconds=3)}, NOW)
    assert rows == [
        PartitionLag("events", 0, 10, 7, 3, 3.0),
        PartitionLag("events", 1, 5, None, None, None),
    ]
    assert "-" in format_table(rows).splitlines()[2]


def test_a_held_partition_shows_its_stored_offset_and_why() -> None:
    stored = {
        0: StoredPartition(50, None, describe_inconsistency("beyond_log_end", 50, 5)),
        1: StoredPartition(3, NOW, None),
    }
    rows = compute_lag("events", {0: 5, 1: 3}, {}, {1: NOW}, NOW, stored)
    assert (rows[0].stored, rows[1].stored, rows[1].inconsistency) == (50, 3, None)
    table = format_table(rows).splitlines()
    assert "HELD" in table[1] and "stored next offset 50" in table[1] and "log end 5" in table[1]
    assert table[2].endswith(" ok")


@pytest.mark.parametrize("code", list(Inconsistency))
def test_every_inconsistency_names_both_offsets(code: Inconsistency) -> None:
    line = describe_inconsistency(code, 1234, 56)
    assert "1234" in line and "56" in line
