"""JSON lines of raw events (``event_rows.json_line``) as Apache Arrow record batches, for
the CLI's Parquet export (pure: lines in, batches out).

The schema is fixed, whatever the events hold: the fields as strings, the two times as
UTC timestamps in microseconds (the raw store's precision), ``properties`` and
``context`` as JSON text (a column per property key would change from file to file and
cannot hold a key's mixed types; readers parse JSON columns, e.g. DuckDB's ``->>``).
Lines are kept as columns of Python strings, never as parsed objects, so a batch of
``rows`` lines costs a few hundred bytes a line.
"""

from typing import Any

import orjson
import pyarrow as pa

from control_plane.event_rows import FIELDS

TIMESTAMP = pa.timestamp("us", tz="UTC")
_FIELDS: "list[pa.Field[Any]]" = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("event", pa.string(), nullable=False),
    pa.field("timestamp", TIMESTAMP, nullable=False),
    pa.field("receivedAt", TIMESTAMP, nullable=False),
    pa.field("distinctId", pa.string(), nullable=False),
    pa.field("sessionId", pa.string(), nullable=False),
    pa.field("properties", pa.string(), nullable=False),
    pa.field("insertId", pa.string()),
    pa.field("context", pa.string(), nullable=False),
]
SCHEMA = pa.schema(_FIELDS)
assert tuple(SCHEMA.names) == FIELDS
_JSON_COLUMNS = frozenset({"properties", "context"})


class ColumnBuffer:
    """Lines gathered column by column until they make a record batch."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in FIELDS}

    def __len__(self) -> int:
        return len(self.columns["id"])

    def add(self, line: bytes) -> None:
        event = orjson.loads(line)
        for name, values in self.columns.items():
            value = event[name]
            values.append(orjson.dumps(value).decode() if name in _JSON_COLUMNS else value)

    def take(self) -> pa.RecordBatch:
        """The gathered lines as one batch of ``SCHEMA``; the buffer is empty afterwards."""
        arrays = [
            pa.array(self.columns[field.name], pa.string()).cast(field.type) for field in SCHEMA
        ]
        self.columns = {name: [] for name in FIELDS}
        return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)
