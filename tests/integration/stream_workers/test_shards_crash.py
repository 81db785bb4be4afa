"""Projects on two PostgreSQL clusters (contracts/shards.py, ADR 0014), each shard applied
by a worker of its own: ``kill -9`` of both at random points leaves each database exact,
and one cluster stopped mid-load holds only its own projects' events, losing none, while
the other shard's projects stay fresh.

The second cluster is the fault suite's server set's PostgreSQL (tests/faults/servers.py):
two ``pg_ctl`` data directories on two ports, the same Debian packages."""

import asyncio
import random
from collections.abc import Iterator

import psycopg
import pytest

from contracts.shards import shard_group
from migrations.runner import apply_migrations
from tests.faults.servers import Servers
from tests.integration.stream_workers.truth import assert_projections, counted, generate
from tests.integration.stream_workers.workers import (
    WorkerProcess,
    applied_offsets,
    kill_then_finish,
    produce,
    wait_until,
)
from tests.support.testlogs import service_log

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.long]


@pytest.fixture(scope="module")
def second_cluster() -> Servers:
    return Servers.start()


@pytest.fixture
def shard_b(second_cluster: Servers) -> Iterator[str]:
    with second_cluster.schema() as url:
        apply_migrations(url)
        yield url


async def test_two_clusters_through_kills_and_one_clusters_outage(
    services, database, make_project, kafka_topic, unique_group, worker_env, tmp_path,
    second_cluster, shard_b,
):  # fmt: skip
    home, home_too = await make_project("home"), await make_project("home-too")
    away, away_too = await make_project("away"), await make_project("away-too")
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE projects SET shard = 'b' WHERE id = ANY(%s)", ([away, away_too],))
    projects = [home, away, home_too, away_too]
    first = generate(projects, 80_000, seed=5, users=3000, days=0.25)
    await produce(services.kafka_bootstrap, kafka_topic, first)
    env = {**worker_env, "RA_SHARD_DATABASES": f"b={shard_b}"}

    def worker(shard: str) -> WorkerProcess:
        settings = {
            **env,
            "RA_WORKER_SHARD": shard,
            "RA_WORKER_INSTANCE_ID": shard,
            "RA_WORKER_DATA_DIR": str(tmp_path / f"faust-{shard}"),
        }
        return WorkerProcess(settings, service_log(f"worker-{shard}"), services.repo_root)

    home_worker, away_worker = worker("default"), worker("b")
    away_group = shard_group(unique_group, "b")
    rng = random.Random(5)
    await asyncio.gather(
        kill_then_finish(home_worker, database, unique_group, len(first), rng, 1.5, kills=2),
        kill_then_finish(away_worker, shard_b, away_group, len(first), rng, 1.5, kills=2),
    )

    second = generate(projects, 20_000, seed=6, users=3000, days=0.25)
    total = len(first) + len(second)
    home_worker.start()
    away_worker.start()
    try:
        await asyncio.to_thread(second_cluster.stop, "postgres")
        await produce(services.kafka_bootstrap, kafka_topic, second)
        await wait_until(
            lambda: applied_offsets(database, unique_group) == total,
            90,
            "the default shard, while the other cluster is down",
            [home_worker.log],
        )
        await asyncio.to_thread(second_cluster.restart, "postgres")
        await wait_until(
            lambda: applied_offsets(shard_b, away_group) == total,
            120,
            "the other shard, once its cluster is back",
            [away_worker.log],
        )
    finally:
        home_worker.stop()
        away_worker.stop()
        second_cluster.ensure_running()
    truth = counted([*first, *second])
    assert_projections(database, [r for r in truth if r.project_id in (home, home_too)])
    assert_projections(shard_b, [r for r in truth if r.project_id in (away, away_too)])
