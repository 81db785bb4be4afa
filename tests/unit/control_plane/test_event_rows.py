"""Raw events as JSON lines and Arrow batches, the export's range and format checks, and
the CLI's writers on a stream that completes or breaks off (no server)."""

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from control_plane.cli.exports import write_jsonl, write_parquet
from control_plane.errors import ValidationFailed
from control_plane.event_rows import FIELDS, check_format, json_line, parse_range
from control_plane.parquet_rows import SCHEMA, ColumnBuffer

ROW = (
    "0190a1b2-0000-7000-8000-000000000001",
    "signup",
    "2026-03-01T09:00:00.123456Z",  # as the database formats them (event_rows.COLUMNS)
    "2026-03-01T09:00:01.000000Z",
    'user "1"/é',
    "s1",
    '{"plan": "pro", "n": 3, "nested": {"a": [1, 2.5, null]}}',
    None,
    '{"ip": "1.2.3.4"}',
)


def test_a_row_is_one_json_line_in_the_contract_s_camel_case() -> None:
    line = json_line(ROW)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {
        "id": "0190a1b2-0000-7000-8000-000000000001",
        "event": "signup",
        "timestamp": "2026-03-01T09:00:00.123456Z",
        "receivedAt": "2026-03-01T09:00:01.000000Z",
        "distinctId": 'user "1"/é',
        "sessionId": "s1",
        "properties": {"plan": "pro", "n": 3, "nested": {"a": [1, 2.5, None]}},
        "insertId": None,
        "context": {"ip": "1.2.3.4"},
    }
    assert tuple(json.loads(line)) == FIELDS


def test_format_is_jsonl_by_default_and_anything_else_is_a_400() -> None:
    assert check_format(None) == "jsonl"
    assert check_format("jsonl") == "jsonl"
    with pytest.raises(ValidationFailed) as caught:
        check_format("csv")
    assert caught.value.body["details"][0]["field"] == "format"


def test_range_bounds_are_utc_and_a_bare_date_is_its_midnight() -> None:
    assert parse_range({"from": "2026-03-01", "to": "2026-03-02T01:00:00+01:00"}) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 2, tzinfo=UTC),
    )
    assert parse_range({"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T00:00:00.000001"})[
        1
    ] == datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({}, ["from", "to"]),
        ({"from": "2026-03-01"}, ["to"]),
        ({"from": "yesterday", "to": "2026-03-01"}, ["from"]),
        ({"from": "2026-03-02", "to": "2026-03-01"}, ["to"]),  # reversed
        ({"from": "2026-03-01", "to": "2026-03-01T00:00:00Z"}, ["to"]),  # empty
    ],
)
def test_a_missing_invalid_or_reversed_range_is_a_400(
    query: dict[str, str], fields: list[str]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_range(query)
    assert caught.value.status == 400
    assert [d["field"] for d in caught.value.body["details"]] == fields


def test_lines_make_an_arrow_batch_of_the_fixed_schema() -> None:
    buffer = ColumnBuffer()
    buffer.add(json_line(ROW))
    buffer.add(json_line((*ROW[:6], "{}", "retry-7", "{}")))
    assert len(buffer) == 2
    batch = buffer.take()
    assert len(buffer) == 0
    assert batch.schema == SCHEMA
    first, second = batch.to_pylist()
    assert first["timestamp"] == datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
    assert first["receivedAt"] == datetime(2026, 3, 1, 9, 0, 1, tzinfo=UTC)
    assert first["distinctId"] == 'user "1"/é'
    assert json.loads(first["properties"]) == {
        "plan": "pro",
        "n": 3,
        "nested": {"a": [1, 2.5, None]},
    }
    assert json.loads(first["context"]) == {"ip": "1.2.3.4"}
    assert first["insertId"] is None
    assert (second["insertId"], second["properties"]) == ("retry-7", "{}")


def lines(n: int) -> bytes:
    return b"".join(json_line((f"id-{i}", *ROW[1:])) for i in range(n))


def test_parquet_writer_makes_bounded_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("control_plane.cli.exports.ROWS_PER_GROUP", 4)
    steps: list[int] = []
    path = tmp_path / "out.parquet"
    assert write_parquet(io.BytesIO(lines(10)), path, steps.append) == 10
    assert steps == [4, 4, 2]
    parquet = pq.ParquetFile(path)
    assert parquet.schema_arrow == SCHEMA
    assert [parquet.metadata.row_group(g).num_rows for g in range(parquet.num_row_groups)] == [
        4,
        4,
        2,
    ]
    assert parquet.read().column("id").to_pylist() == [f"id-{i}" for i in range(10)]


def test_jsonl_writer_copies_the_lines_and_counts_them(tmp_path: Path) -> None:
    steps: list[int] = []
    path = tmp_path / "out.jsonl"
    assert write_jsonl(io.BytesIO(lines(3)), path, steps.append) == 3
    assert path.read_bytes() == lines(3)
    assert sum(steps) == 3


def test_a_line_cut_short_is_an_error_not_a_row(tmp_path: Path) -> None:
    broken = lines(2)[:-20]
    with pytest.raises(ValueError):
        write_parquet(io.BytesIO(broken), tmp_path / "out.parquet", lambda _: None)
    assert write_jsonl(io.BytesIO(broken), tmp_path / "out.jsonl", lambda _: None) == 1
