"""The judgement after a fault: once the load stopped and the workers drained the topic,
every event answered 200 is counted exactly once in every projection — the raw store row by
row (by insertId), the query API's total, hourly buckets and uniques (within the HLL
error), and the rollups, breakdowns and usage against the stream workers' ground truth."""

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.events import EventRecord
from tests.faults.load import EVENTS, HOURS, LOAD_AGENT, Load
from tests.faults.stack import Stack
from tests.integration.query_api import truth as query_truth
from tests.integration.stream_workers import truth as worker_truth

DRAIN_SECONDS = 180.0
MS = timedelta(milliseconds=1)


@dataclass
class Verdict:
    """One row of the fault table."""

    fault: str
    answered_200: int = 0
    lost: int = 0  # answered 200, not in the raw store
    doubled: int = 0  # rows beyond the first for one insertId
    unacknowledged: int = 0  # rows whose insertId was never answered 200
    ingest_recovery: float | None = None  # seconds: server back -> first 200 sent after
    apply_recovery: float | None = None  # seconds: server back -> first apply after
    errors: Counter[str] = field(default_factory=Counter)  # "503 KAFKA_UNAVAILABLE": n
    mismatches: list[str] = field(default_factory=list)  # query answers off the truth

    def record_5xx(self, status: int, code: str | None, where: str) -> None:
        if status >= 500 or status == 0:
            self.errors[f"{where} {status or 'no answer'} {code or ''}".strip()] += 1


# --- progress of the workers -----------------------------------------------------------


PER_PARTITION = "SELECT partition, next_offset FROM consumer_offsets WHERE consumer = %s"


async def applied(database: str, group: str) -> int | None:
    """Records the group has applied (sum of stored next offsets); None: unreachable."""
    partitions = await applied_per_partition(database, group)
    return None if partitions is None else sum(partitions.values())


async def applied_per_partition(database: str, group: str) -> dict[int, int] | None:
    """Each partition's stored next offset; None: the database is unreachable."""
    try:
        async with await psycopg.AsyncConnection.connect(database, connect_timeout=2) as conn:
            rows = await (await conn.execute(PER_PARTITION, (group,))).fetchall()
    except psycopg.OperationalError:
        return None
    return {int(p): int(n) for p, n in rows}


@dataclass
class Progress:
    """The group's applied offsets sampled a few times a second, to time a recovery."""

    samples: list[tuple[float, dict[int, int]]] = field(default_factory=list)

    def first_apply_after(self, moment: float) -> float | None:
        """When the applied offsets first grew past their value at ``moment``."""
        before = max((sum(p.values()) for t, p in self.samples if t <= moment), default=0)
        return min(
            (t for t, p in self.samples if t > moment and sum(p.values()) > before), default=None
        )

    def every_partition_applied_after(self, moment: float) -> float | None:
        """When every partition had been applied further than it was at ``moment``."""
        earlier = [(t, p) for t, p in self.samples if t <= moment]
        before = max(earlier, key=lambda sample: sample[0])[1] if earlier else {}
        firsts = []
        for partition, offset in before.items():
            first = min(
                (t for t, p in self.samples if t > moment and p.get(partition, 0) > offset),
                default=None,
            )
            if first is None:
                return None
            firsts.append(first)
        return max(firsts, default=None)


@contextlib.asynccontextmanager
async def watching(stack: Stack) -> AsyncIterator[Progress]:
    progress = Progress()
    stop = asyncio.Event()

    async def sample() -> None:
        # Stopped between samples, never cancelled inside one: a cancellation that lands
        # as a connection opens leaves it unclosed (a ResourceWarning that fails the test).
        while not stop.is_set():
            partitions = await applied_per_partition(stack.database, stack.group)
            if partitions is not None:
                progress.samples.append((time.monotonic(), partitions))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)

    task = asyncio.create_task(sample())
    try:
        yield progress
    finally:
        stop.set()
        await task


async def topic_end(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def drained(stack: Stack) -> None:
    """Wait until the workers applied every record on the topic."""
    end = await topic_end(stack.servers.kafka_bootstrap, stack.topic)
    last: list[int | None] = [None]

    async def check() -> bool:
        last[0] = await applied(stack.database, stack.group)
        return last[0] == end

    deadline = time.monotonic() + DRAIN_SECONDS
    while not await check():
        if time.monotonic() > deadline:
            tails = "\n".join(p.read_text()[-2000:] for p in stack.logs if p.exists())
            raise AssertionError(f"applied {last[0]} of {end} records in {DRAIN_SECONDS}s\n{tails}")
        await asyncio.sleep(0.3)


# --- the ground truth ------------------------------------------------------------------


def truth_records(load: Load, project_id: str) -> list[EventRecord]:
    """The events answered 200, as the records the gateway appended for them (with the
    load's user agent, which the workers' enrichment reads)."""
    out = []
    for insert_id in load.acknowledged_ids():
        body = load.events[insert_id]
        sent = worker_truth.record(
            project_id,
            body["event"],
            datetime.fromisoformat(body["timestamp"]),
            body["distinctId"],
            body["sessionId"],
            body["properties"],
            insert_id,
        )
        out.append(replace(sent, context={"userAgent": LOAD_AGENT}))
    return out


def raw_rows_by_insert_id(database: str, project_id: str) -> Counter[str]:
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT insert_id, count(*) FROM events WHERE project_id = %s GROUP BY insert_id",
            (project_id,),
        ).fetchall()
    return Counter({str(insert_id): int(n) for insert_id, n in rows})


def count_rows(verdict: Verdict, load: Load, rows: Counter[str]) -> None:
    """Lost, doubled and unacknowledged events, insertId by insertId (pure)."""
    acknowledged = set(load.acknowledged_ids())
    verdict.answered_200 = len(acknowledged)
    verdict.lost = sum(1 for i in acknowledged if rows[i] == 0)
    verdict.doubled = sum(n - 1 for n in rows.values() if n > 1)
    verdict.unacknowledged = sum(n for i, n in rows.items() if i not in acknowledged)


async def ask(stack: Stack, document: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stack.app.url}/api/query", json=document, headers=headers) as response,
    ):
        answer: dict[str, Any] = await response.json()
        assert response.status == 200, answer
        return answer


async def compare_queries(stack: Stack, verdict: Verdict, truth: list[EventRecord]) -> None:
    """The query API's hourly counts, totals and uniques against the truth."""
    now = datetime.now(UTC)
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS + 1)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    span = {"start": start.isoformat(), "end": (end - MS).isoformat()}
    for event in EVENTS:
        common = {"projectId": stack.project.id, "event": event, "dateRange": span}
        series = await ask(
            stack,
            {**common, "type": "timeseries", "interval": "hour", "timezone": "UTC"},
        )
        want = query_truth.timeseries(truth, event, start, end, "hour", "UTC", "count")
        if series["data"] != want:
            verdict.mismatches.append(f"{event} hourly counts {series['data']} != {want}")
        chosen = query_truth.selected(truth, event, start, end, lambda r: True)
        for metric in ("count", "unique_users"):
            answer = await ask(stack, {**common, "type": "metric", "metric": metric})
            expected = query_truth.measure(chosen, metric)
            if not worker_truth.close(answer["value"], expected):
                verdict.mismatches.append(f"{event} {metric} {answer['value']} != {expected}")


async def judge(stack: Stack, load: Load, verdict: Verdict) -> None:
    """Fill ``verdict`` from the answers and the stores once the workers drained the
    topic, then assert: nothing lost or doubled, no 500, every projection as the truth."""
    for answer in load.answers:
        verdict.record_5xx(answer.status, answer.code, "ingest")
    assert load.unfinished == [], f"{len(load.unfinished)} batches never answered 200"
    await drained(stack)
    rows = await asyncio.to_thread(raw_rows_by_insert_id, stack.database, stack.project.id)
    count_rows(verdict, load, rows)
    truth = truth_records(load, stack.project.id)
    await compare_queries(stack, verdict, truth)
    assert (verdict.lost, verdict.doubled, verdict.unacknowledged) == (0, 0, 0), verdict
    assert verdict.mismatches == []
    assert not any(k.split()[1] == "500" for k in verdict.errors), verdict.errors
    await asyncio.to_thread(worker_truth.assert_projections, stack.database, truth)


async def wait_applied_some(stack: Stack, at_least: int) -> None:
    async def enough() -> bool:
        return (await applied(stack.database, stack.group) or 0) >= at_least

    deadline = time.monotonic() + 90
    while not await enough():
        if time.monotonic() > deadline:
            tails = "\n".join(p.read_text()[-3000:] for p in stack.logs if p.exists())
            raise AssertionError(f"the workers applied fewer than {at_least} records\n{tails}")
        await asyncio.sleep(0.2)
