"""What deriving sessions costs the stream worker (issue 19, decision 0023), in one run.

Run from the repository root, with the services up::

    python -m benchmarks.derived_sessions [--batches 40] [--batch 2000] [--users 500]

The sink (``stream_workers.sink.Sink``, the worker's own transaction against the run's
PostgreSQL and Redis) applies batches of page views in turns: one with the product's session
ids (the bare ceiling: every projection, no derivation) and one whose events came with
``$derive`` (a drop-in's server library), the same shape, over ``--users`` distinct ids
that keep coming back, so most events continue a stored session. The two kinds take turns
going first. It prints each kind's
events/s and µs an event, the derived batches as a ratio of the others, and the derivation
statement's own time an event (``stream_workers.sessions.derive_staged``, timed alone on
the same staged batches).
"""

import argparse
import asyncio
import secrets
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
from redis.asyncio import Redis

from benchmarks.stack import fresh_redis_prefix, fresh_schema, new_public_key, read_services
from contracts.events import DERIVE_SESSION, EventRecord, encode_record
from contracts.lanes import Lane, lane_group, lane_topic
from stream_workers import projections, sessions
from stream_workers.decoding import decode_for_sink
from stream_workers.metrics import Metrics
from stream_workers.received import RawRecord
from stream_workers.rollups import DEFAULT_BREAKDOWN_KEYS
from stream_workers.sink import Sink


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batches", type=int, default=40, help="of each kind")
    parser.add_argument("--batch", type=int, default=2000, help="events a batch")
    parser.add_argument("--users", type=int, default=500, help="distinct ids")
    return parser.parse_args(argv)


def page_views(
    project: str, n: int, users: int, start: datetime, derive: bool
) -> list[EventRecord]:
    """``n`` page views a second apart from ``start``, round the ``users``."""
    return [
        EventRecord(
            id=str(uuid.uuid4()),
            project_id=project,
            event="$pageview",
            timestamp=start + timedelta(seconds=i),
            received_at=datetime.now(UTC),
            distinct_id=f"user-{i % users}",
            session_id=DERIVE_SESSION if derive else f"s-{i % users}",
            properties={"$pathname": "/pricing", "plan": "pro"},
            insert_id=secrets.token_hex(8),
            quota_reserved=True,
        )
        for i in range(n)
    ]


async def derive_alone(conninfo: str, batches: list[list[EventRecord]]) -> float:
    """Median seconds the derivation statement takes on one of these batches, each staged
    and rolled back (the first, untimed, warms the connection up)."""
    spent: list[float] = []
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(projections.CREATE_STAGING)
        for batch in batches:
            lines = [
                projections.staged_row(0, n, decode_for_sink(encode_record(r)))
                for n, r in enumerate(batch)
            ]
            async with conn.transaction(force_rollback=True):
                await projections.stage(conn, lines)
                started = time.perf_counter()
                await sessions.derive_staged(conn)
                spent.append(time.perf_counter() - started)
    return statistics.median(spent[1:])


async def run(args: argparse.Namespace) -> None:
    services = read_services()
    schema = f"bench_{secrets.token_hex(4)}"
    async with (
        fresh_schema(services.database_url, schema) as conninfo,
        fresh_redis_prefix(services.redis_url, f"{schema}:") as prefix,
    ):
        project, _ = await new_public_key(conninfo, "sessions-bench")
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        redis = Redis.from_url(services.redis_url)
        sink = Sink(
            conn,
            redis,
            consumer=lane_group("bench", Lane.MAIN),
            topic=lane_topic(Lane.MAIN, "events"),
            redis_prefix=prefix,
            dead_letter=lambda _: asyncio.sleep(0),
            keys_for=lambda _: DEFAULT_BREAKDOWN_KEYS,
            metrics=Metrics(),
            lane=Lane.MAIN,
        )
        await sink.start()
        seconds: dict[bool, list[float]] = {False: [], True: []}
        start = datetime.now(UTC) - timedelta(days=1)
        offset = 0
        derived_batches: list[list[EventRecord]] = []
        try:
            for round_ in range(args.batches):
                # Each kind goes first in every other round: a batch right after another's
                # commit is slower (about 0.9 of the first here, with no derivation at all).
                for derive in (False, True) if round_ % 2 == 0 else (True, False):
                    # Each kind's batches follow on in time: most events continue a session.
                    moment = start + timedelta(seconds=round_ * args.batch)
                    batch = page_views(project, args.batch, args.users, moment, derive)
                    if derive:
                        derived_batches.append(batch)
                    raws = [RawRecord(0, offset + n, encode_record(r)) for n, r in enumerate(batch)]
                    offset += len(raws)
                    began = time.perf_counter()
                    result = await sink.apply(raws)
                    seconds[derive].append(time.perf_counter() - began)
                    if result.applied != len(raws):
                        raise RuntimeError(f"applied {result.applied} of {len(raws)}")
            alone = await derive_alone(conninfo, derived_batches[-11:])
        finally:
            await conn.close()
            await redis.aclose()
    report(seconds, alone, args)


def report(seconds: dict[bool, list[float]], derive_batch: float, args: argparse.Namespace) -> None:
    print(
        f"== the sink, {args.batches} batches of {args.batch:,} page views of each kind, "
        f"{args.users} distinct ids (median batch)"
    )
    rates = {}
    for derive, label in ((False, "session ids sent (ceiling)"), (True, "$derive (derived)")):
        median = statistics.median(seconds[derive])
        rates[derive] = args.batch / median
        each = median / args.batch * 1e6
        print(f"   {label:<28} {rates[derive]:>9,.0f} ev/s  {each:6.1f} µs an event")
    print(f"   derived / ceiling            {rates[True] / rates[False]:>9.2f}")
    print(
        f"   the derivation statement alone {derive_batch / args.batch * 1e6:6.1f} µs an event "
        f"({derive_batch * 1e3:.1f} ms a batch)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
