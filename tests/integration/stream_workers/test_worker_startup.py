"""A worker started before Kafka is reachable waits for it, then applies everything: it
exited within a second (Faust's producer gave up at its first bootstrap), so a machine
that booted the worker before the broker was left without one."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from tests.integration.stream_workers.truth import assert_projections, counted, generate
from tests.integration.stream_workers.workers import (
    applied_offsets,
    free_port,
    produce,
    wait_until,
)

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def forwarding(port: int, to: str) -> AsyncIterator[None]:
    """Kafka's bootstrap address appearing on ``port``: a TCP forwarder to the broker (its
    metadata then names the broker's own address, which the clients use afterwards)."""
    host, target = to.rsplit(":", 1)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(target))
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


async def test_a_worker_started_before_kafka_waits_for_it(
    services, database, make_project, kafka_topic, unique_group, spawn, worker_env
):
    project = await make_project("early")
    records = generate([project], 2000, seed=3, users=100, days=0.1)
    await produce(services.kafka_bootstrap, kafka_topic, records)
    port = free_port()  # nothing listens there yet
    worker = spawn("early")
    worker.env["RA_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{port}"
    worker.start()
    try:
        await asyncio.sleep(4)
        assert worker.process is not None and worker.process.poll() is None, worker.log.read_text()[
            -2000:
        ]
        assert "unreachable at start" in worker.log.read_text()
        async with forwarding(port, services.kafka_bootstrap):
            await wait_until(
                lambda: applied_offsets(database, unique_group) == len(records),
                90,
                "the records, once Kafka is reachable",
                [worker.log],
            )
    finally:
        worker.stop()
    assert_projections(database, counted(records))
