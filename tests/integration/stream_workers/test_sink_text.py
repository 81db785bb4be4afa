"""Text the gateway accepts reaches every table as sent; a NUL, which PostgreSQL text
cannot hold, is stored as U+FFFD instead of stopping the worker."""

from datetime import UTC, datetime

import psycopg
import pytest

from tests.integration.stream_workers.conftest import as_raw
from tests.integration.stream_workers.truth import record

pytestmark = pytest.mark.integration

AWKWARD = 'tab\there, new\nline, cr\r, back\\slash, "quotes", \\N, é 漢 🎉'


async def test_awkward_text_round_trips_into_raw_rows_and_breakdowns(sink, make_project, database):
    p = await make_project()
    now = datetime.now(UTC)
    sent = record(
        p, AWKWARD, now, AWKWARD, properties={"$pathname": AWKWARD, AWKWARD: [AWKWARD, 1]}
    )
    result = await sink.apply(as_raw([sent], partitions=1))
    assert result.applied == 1
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT event, distinct_id, properties FROM events").fetchone()
        assert row == (AWKWARD, AWKWARD, {"$pathname": AWKWARD, AWKWARD: [AWKWARD, 1]})
        values = conn.execute(
            "SELECT DISTINCT value FROM breakdown_rollups WHERE key = '$pathname'"
        ).fetchall()
        assert values == [(AWKWARD,)]


async def test_nul_characters_are_stored_as_replacement_characters(
    sink, make_project, database, dead_letters
):
    p = await make_project()
    now = datetime.now(UTC)
    batch = as_raw(
        [
            record(p, "ok", now, "u1"),
            record(p, "nul\x00", now, "u\x002", properties={"k\x00": ["a\x00b", 1]}),
        ],
        partitions=1,
    )
    result = await sink.apply(batch)
    assert (result.applied, result.dead_lettered) == (2, 0)
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT event, distinct_id, properties FROM events ORDER BY event"
        ).fetchall()
    assert rows[0] == ("nul\ufffd", "u\ufffd2", {"k\ufffd": ["a\ufffdb", 1]})
    assert dead_letters == []
