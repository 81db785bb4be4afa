"""The Python SDK (threaded Client and AsyncClient) against the real gateway and Kafka."""

import asyncio
import json
import logging
import os
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient
from realanalytics_sdk import AsyncClient, Client
from realanalytics_sdk.policy import next_month_start

from contracts.usage import month_of, usage_key
from control_plane.projects import CreatedProject
from ingest_gateway.settings import Settings
from tests.integration.ingest_gateway.conftest import start_gateway
from tests.integration.ingest_gateway.test_limits import wait_for_fresh_window
from tests.integration.sdks.conftest import gateway_url
from tests.integration.sdks.fault_proxy import FaultProxy
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

SDK_DIR = Path(__file__).resolve().parents[3] / "sdks" / "python"


async def flushed(client: Client, timeout: float = 15.0) -> bool:
    # The gateway runs on this test's event loop: block a worker thread, not the loop.
    return await asyncio.to_thread(client.flush, timeout)


async def closed(client: Client, timeout: float = 15.0) -> None:
    await asyncio.to_thread(client.close, timeout)


async def test_tracked_events_arrive_in_batches_of_100(
    proxy: FaultProxy, project: CreatedProject, settings: Settings, services: Any
) -> None:
    client = Client(project.public_key, proxy.url, flush_interval=30, concurrency=1)
    for i in range(250):
        assert client.track("signup", f"user-{i % 7}", {"plan": "pro", "i": i})
    assert await flushed(client)
    await closed(client)

    records = await read_topic(services.kafka_bootstrap, settings.events_topic, expected=250)
    assert len(records) == 250
    assert sorted(r["properties"]["i"] for r in records) == list(range(250))  # type: ignore[index]
    first = next(r for r in records if r["properties"]["i"] == 0)  # type: ignore[index]
    assert first["event"] == "signup" and first["distinctId"] == "user-0"
    assert first["sessionId"] == "user-0"  # the default: one session per user
    assert len({r["insertId"] for r in records}) == 250
    assert "realanalytics-python/" in first["context"]["userAgent"]  # type: ignore[index]
    assert [len(json.loads(s.body)) for s in proxy.posts()] == [100, 100, 50]
    assert client.stats().sent == 250


async def test_events_are_sent_after_the_time_bound_without_flush(
    gateway: TestClient, project: CreatedProject, settings: Settings, services: Any
) -> None:
    client = Client(project.public_key, gateway_url(gateway), flush_interval=0.2)
    client.track("$pageview", "u1", {"$pathname": "/"}, session_id="s1", insert_id="fixed-1")
    records = await read_topic(services.kafka_bootstrap, settings.events_topic, 1, timeout=5)
    await closed(client)
    assert [(r["event"], r["sessionId"], r["insertId"]) for r in records] == [
        ("$pageview", "s1", "fixed-1")
    ]


async def test_a_503_is_retried_no_sooner_than_retry_after(
    proxy: FaultProxy, project: CreatedProject, settings: Settings, services: Any
) -> None:
    client = Client(project.public_key, proxy.url, flush_interval=30)
    proxy.fail_next(503, retry_after=1)
    for i in range(3):
        client.track("checkout", "u1", {"i": i})
    assert await flushed(client)
    await closed(client)

    posts = proxy.posts()
    assert [p.status for p in posts] == [503, 200]
    assert posts[1].at - posts[0].at >= 1.0
    records = await read_topic(services.kafka_bootstrap, settings.events_topic, 3)
    assert len(records) == 3


async def test_the_real_rate_limit_429_is_waited_out(
    settings_with: Any, project: CreatedProject, services: Any
) -> None:
    # One request per 2-second window: the second batch gets the gateway's real 429.
    settings = settings_with(rate_limit_override=1, rate_window_seconds=2)
    gateway = await start_gateway(settings)
    try:
        proxy = await FaultProxy(gateway_url(gateway)).start()
        # Both batches must fall in one window for the second to be refused.
        await wait_for_fresh_window(services.redis_url, needed=1.0, window=2)
        client = Client(
            project.public_key, proxy.url, batch_size=10, flush_interval=30, concurrency=1
        )
        for i in range(20):
            client.track("search", "u1", {"i": i})
        assert await flushed(client, timeout=20)
        await closed(client)
        await proxy.close()
    finally:
        await gateway.close()
    statuses = [p.status for p in proxy.posts()]
    assert statuses.count(200) == 2 and 429 in statuses
    records = await read_topic(services.kafka_bootstrap, settings.events_topic, 20)
    assert len(records) == 20
    assert client.stats().sent == 20 and client.stats().discarded == 0


async def test_a_400_is_not_retried_and_logged_once(
    proxy: FaultProxy, project: CreatedProject, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="realanalytics_sdk")
    client = Client(project.public_key, proxy.url, batch_size=1, flush_interval=30, concurrency=1)
    client.track("bad", "u1", timestamp="not a date")
    client.track("bad", "u1", timestamp="not a date either")
    assert await flushed(client)
    await closed(client)
    assert [p.status for p in proxy.posts()] == [400, 400]
    assert client.stats().discarded == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "timestamp" in errors[0].getMessage()


async def test_event_limit_exceeded_stops_sending_until_next_month(
    proxy: FaultProxy, project: CreatedProject, settings: Settings, services: Any
) -> None:
    key = usage_key(settings.redis_prefix, project.id, month_of(datetime.now(UTC)))
    with redis.Redis.from_url(services.redis_url) as r:
        r.hset(key, mapping={"p0": 10_000, "o0": 1})
    client = Client(project.public_key, proxy.url, flush_interval=30, concurrency=1)
    client.track("e", "u1")
    assert await flushed(client)
    assert client.stats().paused_until == next_month_start(datetime.now(UTC))
    assert client.track("e", "u1") is False  # refused locally: no request
    assert await flushed(client)
    await closed(client)
    assert [p.status for p in proxy.posts()] == [429]
    assert client.stats().discarded == 2


async def test_pending_events_are_flushed_at_interpreter_exit(
    gateway: TestClient, project: CreatedProject, settings: Settings, services: Any
) -> None:
    script = textwrap.dedent(
        f"""
        from realanalytics_sdk import Client
        client = Client({project.public_key!r}, {gateway_url(gateway)!r}, flush_interval=60)
        for i in range(5):
            client.track("exit-test", "u1", {{"i": i}})
        """
    )
    # The checkout's SDK, as pytest's pythonpath gives the tests.
    env = {**os.environ, "PYTHONPATH": str(SDK_DIR)}
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, env=env)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    records = await read_topic(services.kafka_bootstrap, settings.events_topic, 5, timeout=5)
    assert sorted(r["properties"]["i"] for r in records) == [0, 1, 2, 3, 4]  # type: ignore[index]


async def test_async_client_batches_and_retries_a_503(
    proxy: FaultProxy, project: CreatedProject, settings: Settings, services: Any
) -> None:
    proxy.fail_next(503, retry_after=1)
    async with AsyncClient(project.public_key, proxy.url, flush_interval=30) as client:
        for i in range(150):
            assert client.track("api_call", f"user-{i % 3}", {"i": i})
        await client.flush()
        assert client.stats().sent == 150
    records = await read_topic(services.kafka_bootstrap, settings.events_topic, 150)
    assert sorted(r["properties"]["i"] for r in records) == list(range(150))  # type: ignore[index]
    statuses = [p.status for p in proxy.posts()]
    assert statuses.count(503) == 1 and statuses.count(200) == 2


async def test_async_client_sends_on_the_time_bound_and_at_close(
    gateway: TestClient, project: CreatedProject, settings: Settings, services: Any
) -> None:
    client = AsyncClient(project.public_key, gateway_url(gateway), flush_interval=0.2)
    await client.start()
    client.track("tick", "u1")
    assert len(await read_topic(services.kafka_bootstrap, settings.events_topic, 1, 5)) == 1
    client.track("tock", "u1")
    await client.aclose()
    records = await read_topic(services.kafka_bootstrap, settings.events_topic, 2, 5)
    assert sorted(r["event"] for r in records) == ["tick", "tock"]


async def test_async_client_waits_out_the_real_rate_limit_and_delivers_each_event_once(
    settings_with: Any, project: CreatedProject, services: Any
) -> None:
    # Two requests per 2-second window, five batches sent at once: the gateway's real
    # 429 refuses some of them, more than once for the last.
    settings = settings_with(rate_limit_override=2, rate_window_seconds=2)
    gateway = await start_gateway(settings)
    try:
        proxy = await FaultProxy(gateway_url(gateway)).start()
        await wait_for_fresh_window(services.redis_url, needed=1.0, window=2)
        async with AsyncClient(
            project.public_key, proxy.url, batch_size=10, flush_interval=30
        ) as client:
            for i in range(50):
                assert client.track("search", f"user-{i % 5}", {"i": i})
            async with asyncio.timeout(30):
                await client.flush()
            stats = client.stats()
        await proxy.close()
    finally:
        await gateway.close()

    posts = proxy.posts()
    refused = [p for p in posts if p.status == 429]
    assert refused and all(p.retry_after for p in refused)
    assert sum(1 for p in posts if p.status == 200) == 5
    for no in refused:
        # The same batch (byte for byte) again, never before its Retry-After had passed.
        again = [p for p in posts if p.body == no.body and p.at > no.answered_at]
        assert again, "a refused batch was never sent again"
        assert again[0].at >= no.answered_at + float(no.retry_after or 0)
    assert stats.sent == 50 and stats.discarded == 0 and stats.dropped == 0

    # Exactly once on the topic: wait for a 51st record that must never come.
    records = await read_topic(services.kafka_bootstrap, settings.events_topic, 51, timeout=3)
    assert sorted(r["properties"]["i"] for r in records) == list(range(50))  # type: ignore[index]
    assert len({r["insertId"] for r in records}) == 50


async def test_both_clients_can_send_gzipped_batches(
    proxy: FaultProxy, project: CreatedProject, settings: Settings, services: Any
) -> None:
    client = Client(project.public_key, proxy.url, compress=True)
    for i in range(120):
        client.track("threaded", "u1", {"i": i})
    assert await flushed(client)
    await closed(client)
    async with AsyncClient(project.public_key, proxy.url, compress=True) as async_client:
        for i in range(30):
            async_client.track("async", "u1", {"i": i})
        await async_client.flush()
    records = await read_topic(services.kafka_bootstrap, settings.events_topic, 150)
    assert len(records) == 150
    assert {p.status for p in proxy.posts()} == {200}
