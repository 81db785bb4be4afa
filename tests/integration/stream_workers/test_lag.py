"""``python -m stream_workers lag`` reports what Kafka's own consumer-groups tool reports."""

import asyncio
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime

import orjson
import pytest

from stream_workers.lag import group_lag, kafka_positions
from tests.integration.stream_workers.truth import generate
from tests.integration.stream_workers.workers import applied_offsets, produce, wait_until

pytestmark = pytest.mark.integration


def kafka_tool_describe(services, group: str, topic: str) -> dict[int, tuple[str, str, str]]:
    env = {**os.environ}
    if (services.kafka_libs / ".resolved").exists():
        env["RA_KAFKA_LIBS"] = str(services.kafka_libs)
    out = subprocess.run(
        [
            str(services.repo_root / "scripts" / "kafka-tool.sh"),
            "consumer-groups",
            "--bootstrap-server",
            services.kafka_bootstrap,
            "--describe",
            "--group",
            group,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    rows = {}
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[1] == topic:
            rows[int(cols[2])] = (cols[3], cols[4], cols[5])  # current, log-end, lag
    return rows


async def test_lag_equals_kafka_consumer_groups_describe(
    services, database, make_project, kafka_topic, unique_group, worker_env, spawn
):
    project = await make_project()
    await produce(services.kafka_bootstrap, kafka_topic, generate([project], 600, days=0.1))
    worker = spawn("w1")
    worker.start()

    try:
        await wait_until(lambda: applied_offsets(database, unique_group) == 600, 60, "applied")
        for _ in range(150):  # Faust commits to Kafka every few seconds
            _, done = await kafka_positions(services.kafka_bootstrap, unique_group, kafka_topic)
            if sum(done.values()) == 600:
                break
            await asyncio.sleep(0.2)
    finally:
        worker.stop()
    await produce(services.kafka_bootstrap, kafka_topic, generate([project], 40, seed=2))

    rows = await group_lag(
        services.kafka_bootstrap, database, unique_group, kafka_topic, datetime.now(UTC)
    )
    theirs = kafka_tool_describe(services, unique_group, kafka_topic)
    ours = {
        r.partition: (
            "-" if r.committed is None else str(r.committed),
            str(r.log_end),
            "-" if r.lag is None else str(r.lag),
        )
        for r in rows
    }
    assert ours == theirs
    assert sum(r.lag or 0 for r in rows) == 40
    assert all(r.freshness_seconds is not None and r.freshness_seconds >= 0 for r in rows)

    # The command prints the same rows.
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stream_workers",
        "lag",
        "--json",
        cwd=services.repo_root,
        env={**os.environ, **worker_env},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(command.communicate(), 60)
    assert command.returncode == 0
    printed = [orjson.loads(line) for line in out.splitlines()]
    assert [(p["partition"], p["lag"]) for p in printed] == [(r.partition, r.lag) for r in rows]


async def test_lag_shows_both_lanes_as_kafka_does(
    services, database, make_project, kafka_topic, overflow_topic, unique_group, worker_env, spawn
):
    hot, quiet = await make_project("hot"), await make_project("quiet")
    await produce(services.kafka_bootstrap, overflow_topic, generate([hot], 500, days=0.1))
    await produce(services.kafka_bootstrap, kafka_topic, generate([quiet], 100, days=0.1))
    workers = [spawn("main-1"), spawn("overflow-1", lane="overflow")]
    overflow_group = f"{unique_group}-overflow"
    for worker in workers:
        worker.start()
    try:
        for group, topic, total in (
            (unique_group, kafka_topic, 100),
            (overflow_group, overflow_topic, 500),
        ):
            for _ in range(300):  # applied, then committed to Kafka (every few seconds)
                _, done = await kafka_positions(services.kafka_bootstrap, group, topic)
                if sum(done.values()) == total:
                    break
                await asyncio.sleep(0.2)
        metrics = await asyncio.to_thread(scrape, workers[1].port)
    finally:
        for worker in workers:
            worker.stop()
    assert (
        f'worker_lane_info{{group="{overflow_group}",lane="overflow",topic="{overflow_topic}"}} 1.0'
        in metrics
    )
    await produce(services.kafka_bootstrap, overflow_topic, generate([hot], 30, seed=2))

    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stream_workers",
        "lag",
        "--json",
        cwd=services.repo_root,
        env={**os.environ, **worker_env},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(command.communicate(), 60)
    assert command.returncode == 0
    printed = [orjson.loads(line) for line in out.splitlines()]
    assert [p["topic"] for p in printed] == [kafka_topic] * 12 + [overflow_topic] * 12
    lanes = {
        topic: {p["partition"]: p for p in printed if p["topic"] == topic}
        for topic in (kafka_topic, overflow_topic)
    }
    assert sum(p["lag"] for p in lanes[kafka_topic].values() if p["lag"]) == 0
    assert sum(p["lag"] or 0 for p in lanes[overflow_topic].values()) == 30
    theirs = kafka_tool_describe(services, overflow_group, overflow_topic)
    ours = {
        n: (
            "-" if p["committed"] is None else str(p["committed"]),
            str(p["log_end"]),
            "-" if p["lag"] is None else str(p["lag"]),
        )
        for n, p in lanes[overflow_topic].items()
    }
    assert ours == theirs


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


async def test_lag_on_a_database_not_migrated_yet_says_so_in_one_line(
    services, pg_schema, kafka_topic
):
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stream_workers",
        "lag",
        cwd=services.repo_root,
        env={**os.environ, **services.as_env(), "RA_DATABASE_URL": pg_schema,
             "RA_EVENTS_TOPIC": kafka_topic},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(command.communicate(), 60)
    assert command.returncode == 1
    assert err.decode().strip().splitlines()[-1] == (
        "the database has no consumer_offsets table: run `python -m migrations` first"
    )
    assert b"Traceback" not in err
