"""A worker frozen (SIGSTOP, a stopped VM) while it sends a batch's staging COPY: its
backend stays "active", so the idle-in-transaction timeout never ended it, and the offset
rows it had locked stalled the worker that took its partitions over for as long as it
stayed frozen (the fault suite's SIGSTOP test failed so, 1 run in 4). The sink stages
before it locks anything: the other worker goes on, and every record is applied once."""

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
from redis.asyncio import Redis

from stream_workers import projections
from stream_workers.app import connect_database
from stream_workers.metrics import Metrics
from stream_workers.rollups import DEFAULT_BREAKDOWN_KEYS
from stream_workers.sink import Sink
from tests.integration.stream_workers.conftest import DeadLetters, as_raw
from tests.integration.stream_workers.truth import assert_projections, counted, generate

pytestmark = pytest.mark.integration

TIMEOUT = 2.0  # the workers' idle-in-transaction timeout here (their session's: 10 s)


async def test_a_worker_frozen_mid_copy_does_not_stall_the_one_that_takes_over(
    services: Any,
    database: str,
    make_project: Any,
    redis_prefix: str,
    dead_letters: DeadLetters,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = await make_project("frozen")
    records = generate([project], 3000, seed=9, users=200, days=0.1)
    batch = as_raw(records)
    real_stage = projections.stage
    copying = asyncio.Event()

    async def stage(conn: psycopg.AsyncConnection[Any], lines: Sequence[bytes]) -> None:
        if copying.is_set():
            await real_stage(conn, lines)
            return
        async with conn.cursor() as cursor, cursor.copy(projections._STAGE) as copy:
            await copy.write(lines[0])
            copying.set()
            await asyncio.Event().wait()  # frozen in the middle of the COPY

    monkeypatch.setattr(projections, "stage", stage)
    redis = Redis.from_url(services.redis_url)

    async def sink_on(conn: psycopg.AsyncConnection[Any]) -> Sink:
        sink = Sink(
            conn,
            redis,
            consumer="test",
            topic="events",
            redis_prefix=redis_prefix,
            dead_letter=dead_letters,
            keys_for=lambda _: DEFAULT_BREAKDOWN_KEYS,
            metrics=Metrics(),
        )
        await sink.start()
        return sink

    frozen_conn = await connect_database(database, TIMEOUT)
    other_conn = await connect_database(database, TIMEOUT)
    try:
        frozen = await sink_on(frozen_conn)
        stuck = asyncio.create_task(frozen.apply(batch))
        await asyncio.wait_for(copying.wait(), 10)
        other = await sink_on(other_conn)
        result = await asyncio.wait_for(other.apply(batch), 30)  # waited forever before
        assert result.applied == len(counted(records))
    finally:
        stuck.cancel()
        with contextlib.suppress(BaseException):
            await stuck
        for conn in (frozen_conn, other_conn):
            with contextlib.suppress(Exception):
                await conn.close()
        await redis.aclose()
    assert_projections(database, counted(records))
