"""JSON lines of raw events (``event_rows.json_line``) as Apache Arrow record batches, for
the CLI's Parquet export (pure: lines in, batches out).

The schema is fixed, whatever the events hold: the fields as strings, the two times as
UTC timestamps in microseconds (the raw store's precision), ``properties`` and
``context`` as JSON text (a column per property key would change from file to file and
cannot hold a key's mixed types; readers parse JSON columns, e.g. DuckDB's ``->>``).
Lines are kept as tuples of strings (the two JSON fields re-encoded at once), never as
parsed objects, so a batch costs a few hundred bytes a line.
"""

import operator
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
_FIELDS_OF = operator.itemgetter(*FIELDS)


class ColumnBuffer:
    """Lines gathered as rows of the schema's fields until they make a record batch."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, line: bytes) -> None:
        event = orjson.loads(line)
        # Kept as str: a kept ``bytes`` from orjson.dumps is an allocation of its own
        # outside Python's small-object allocator, which made a row three times slower.
        event["properties"] = orjson.dumps(event["properties"]).decode()
        event["context"] = orjson.dumps(event["context"]).decode()
        self.rows.append(_FIELDS_OF(event))

    def take(self) -> pa.RecordBatch:
        """The gathered lines as one batch of ``SCHEMA``; the buffer is empty afterwards."""
        columns = zip(*self.rows, strict=True) if self.rows else ([] for _ in SCHEMA)
        arrays = [
            pa.array(values, pa.string()).cast(field.type)
            for field, values in zip(SCHEMA, columns, strict=True)
        ]
        self.rows = []
        return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)
