"""A batch's records as the sink takes them: each decoded and formatted for the staging
COPY as it arrives (``receive``), where it sits on the topic, and what applying a batch
(or its pieces, stream_workers/isolation.py) came to (``BatchResult``).

A worker holds two batches of up to ``RA_WORKER_BATCH_MAX`` records (one written, one
gathering), so what a record keeps decides the worker's memory: once decoded, a record
keeps its staged row and its ``Positioned`` only. Its bytes, its headers and faust's
message are let go (``keep=False``); the rare record the database then refuses is read
back from the topic for its dead letter (``stream_workers.deadletter``)."""

from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts.events import REQUEST_ID_HEADER, RecordError
from stream_workers import projections
from stream_workers.decisions import Positioned
from stream_workers.decoding import decode_for_sink
from stream_workers.enrichment import Enricher, load_enricher
from stream_workers.failures import Failure


@dataclass(frozen=True, slots=True)
class RawRecord:
    partition: int
    offset: int
    value: bytes | None  # None: not kept; the dead-letter producer reads it from the topic
    request_id: str | None = None  # the gateway request that appended it (a Kafka header)


DeadLetter = Callable[[Sequence[tuple[RawRecord, str]]], Awaitable[None]]
KeysFor = Callable[[str], Sequence[str]]


@dataclass(frozen=True, slots=True)
class BatchResult:
    applied: int
    duplicates: int
    dropped: int  # records of a project that no longer exists (deleted): not materialized
    dead_lettered: int
    redelivered: int
    reasons: Mapping[str, int] = field(default_factory=dict)  # dead letters per reason
    held: int = 0  # records of partitions held as inconsistent: not applied, not skipped
    elsewhere: int = 0  # records of another shard's projects: passed over (contracts/shards.py)
    erased: int = 0  # records of deleted persons (contracts/erasure.py): never applied


def total(results: Iterable[BatchResult]) -> BatchResult:
    """The results of a batch's pieces (``stream_workers.isolation``) as one."""
    parts = list(results)
    reasons: Counter[str] = Counter()
    for part in parts:
        reasons.update(part.reasons)
    return BatchResult(
        applied=sum(p.applied for p in parts),
        duplicates=sum(p.duplicates for p in parts),
        dropped=sum(p.dropped for p in parts),
        dead_lettered=sum(p.dead_lettered for p in parts),
        redelivered=sum(p.redelivered for p in parts),
        reasons=dict(reasons),
        held=sum(p.held for p in parts),
        elsewhere=sum(p.elsewhere for p in parts),
        erased=sum(p.erased for p in parts),
    )


@dataclass(frozen=True, slots=True)
class Received:
    """A record off the topic, decoded and formatted for the staging COPY as soon as it
    arrives (while the previous batch is being written), or with the reason it goes to
    the dead-letter topic."""

    partition: int
    offset: int
    item: Positioned | None
    reason: str | None = None
    staged: bytes = b""
    code: str = "malformed"  # why it is dead-lettered, in a word: the metric's label
    kept: RawRecord | None = None  # as read: kept when unreadable, or when asked to

    @property
    def project(self) -> str | None:
        """Whose record it is (None: unreadable)."""
        return self.item.project_id if self.item else None

    @property
    def raw(self) -> RawRecord:
        """The record for its dead letter: as read, or its position only (its value is then
        read back from the topic)."""
        return self.kept or RawRecord(self.partition, self.offset, None)


def position(received: Received) -> tuple[int, int]:
    """Where the record sits on the topic: (partition, offset)."""
    return received.partition, received.offset


def receive(raw: RawRecord, enricher: Enricher | None = None, keep: bool = True) -> Received:
    """Never raises: a record that cannot be read is dead-lettered, not a stalled fetch.
    Enriched here (``stream_workers.enrichment``; default: the package's geolocation
    database), so every path that applies a record adds the same properties. ``keep``:
    whether a readable record keeps its bytes (the worker's batches do not)."""
    p, o = raw.partition, raw.offset
    try:
        record = (enricher or load_enricher()).apply(decode_for_sink(raw.value or b""))
        staged = projections.staged_row(p, o, record)
        item = Positioned.of(p, o, record)
    except RecordError as exc:
        return Received(p, o, None, str(exc), kept=raw)
    except Exception as exc:  # a value past what Python's types hold (year 1 at +01:00)
        reason = f"undecodable: {type(exc).__name__}: {exc}"
        return Received(p, o, None, reason, code="undecodable", kept=raw)
    return Received(p, o, item, None, staged, kept=raw if keep else None)


def refuse(received: Received, failure: Failure, detail: str) -> Received:
    """A record the database refused, to apply as a dead letter."""
    p, o = received.partition, received.offset
    return Received(p, o, None, detail, code=failure.code, kept=received.kept)


def refused(items: Sequence[Positioned], accepted: Sequence[Positioned]) -> list[tuple[int, int]]:
    """The (partition, offset) of the records not accepted (duplicates, deleted projects)."""
    if len(accepted) == len(items):
        return []
    taken = {(i.partition, i.offset) for i in accepted}
    return [(i.partition, i.offset) for i in items if (i.partition, i.offset) not in taken]


def month_label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def offsets_by_partition(batch: Sequence[Received]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    for i in batch:
        found[i.partition].append(i.offset)
    return found


def raw_record(message: Any) -> RawRecord:
    """A Kafka message (faust's or aiokafka's) as the sink reads it."""
    # A record with no value (a tombstone) is b"": not an event, so it is dead-lettered.
    value = message.value
    return RawRecord(
        int(message.partition),
        int(message.offset),
        bytes(value or b""),
        header_text(message.headers, REQUEST_ID_HEADER),
    )


def header_text(headers: Any, name: str) -> str | None:
    """A record header's value as text (aiokafka gives ``(name, bytes)`` pairs; Faust may
    give a mapping); None when absent or not UTF-8."""
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for key, value in pairs:
        if key == name and isinstance(value, bytes | str):
            try:
                return value.decode() if isinstance(value, bytes) else value
            except UnicodeDecodeError:
                return None
    return None
