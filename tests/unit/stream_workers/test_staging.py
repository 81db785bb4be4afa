"""A record's staging line is the text COPY row psycopg itself would send for it."""

from datetime import UTC, datetime

from psycopg._copy_base import TextFormatter
from psycopg.adapt import Transformer

from contracts.events import EventRecord
from stream_workers.decoding import Decoded
from stream_workers.projections import staged_row


def test_a_staged_row_is_psycopgs_own_copy_row_with_tricky_text_escaped() -> None:
    moment = datetime(2026, 3, 8, 6, 59, 59, 123456, tzinfo=UTC)
    record = EventRecord(
        id="0190b6b0-8c2e-7a51-9c3e-2f1d4c5b6a79",
        project_id="2f1d4c5b-6a79-4b0c-8e2e-0190b6b08c2e",
        event="tab\there",
        timestamp=moment,
        received_at=moment,
        distinct_id="back\\slash\nnewline",
        session_id="emoji 🎉",
        properties={"$pathname": "/a\tb", "n": 1, "\\N": None},
        insert_id=None,
        context={"ip": "\r"},
    )
    line = staged_row(3, 41, Decoded.of(record))
    expected = TextFormatter(Transformer())
    expected.write_row(
        (
            3,
            41,
            record.id,
            record.project_id,
            "tab\there",
            moment.isoformat(),
            moment.isoformat(),
            "back\\slash\nnewline",
            "emoji 🎉",
            '{"$pathname":"/a\\tb","n":1,"\\\\N":null}',
            None,
            '{"ip":"\\r"}',
        )
    )
    assert line == bytes(expected.end())
    assert line.count(b"\n") == 1 and line.endswith(b"\n")  # one row, newlines escaped
    assert b"\t\\N\t" in line  # the missing insertId is NULL
