"""Login and project-create latency of one App API process, and deploy → on-topic time.

Run from the repository root with the services of ``scripts/services.sh start`` up::

    python -m benchmarks.control_plane [--requests 200] [--concurrency 1 8]

It creates a fresh PostgreSQL schema (migrated), a fresh Kafka topic for control records
and a fresh Redis prefix, starts ONE ``python -m app_api`` on a free port with the
production argon2id cost (19 MiB, t=2), and measures, for each concurrency (closed loop):

1. ``POST /api/auth/login`` latency p50/p99 (distinct accounts, right passwords);
2. ``POST /api/projects`` latency p50/p99 (CLI bearer token);
3. ``POST /api/deploy`` latency and deploy → record on the control topic (the outbox relay's
   delay), p50/p99, one deploy at a time;
4. deploy → applied at the gateway: a ``python -m ingest_gateway`` follows the same control
   topic; each deploy flips the project between a strict tracking plan without the probe
   event and a lenient one, and a probe posts that event every 5 ms until the answer flips
   (400 ↔ 200);
5. deploy → applied by a ``python -m stream_workers`` worker following the same topic: each
   deploy names a new breakdown key, timed to the worker's own log line saying it took that
   version (its next batch rolls the key up).

Everything it made is removed at the end, also on failure.
"""

import argparse
import asyncio
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import aiohttp
import psycopg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from environs import Env
from psycopg import sql
from redis.asyncio import Redis

from migrations.runner import apply_migrations

PASSWORD = "benchmark password 1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def summary(name: str, seconds: list[float], wall: float | None = None) -> str:
    ms = [s * 1000 for s in seconds]
    rate = f", {len(ms) / wall:,.0f}/s" if wall else ""
    return (
        f"{name:<40} n={len(ms):<4} p50 {statistics.median(ms):7.1f} ms"
        f"   p99 {percentile(ms, 0.99):7.1f} ms   max {max(ms):7.1f} ms{rate}"
    )


async def timed_closed_loop(
    n: int, concurrency: int, call: Callable[[int], Awaitable[None]]
) -> tuple[list[float], float]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            start = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


async def expect(response: aiohttp.ClientResponse, status: int) -> dict:  # type: ignore[type-arg]
    body = await response.json()
    if response.status != status:
        raise RuntimeError(f"{response.method} {response.url}: {response.status} {body}")
    return body  # type: ignore[no-any-return]


async def measure(
    url: str,
    gateway_url: str,
    bootstrap: str,
    topic: str,
    worker_log: Path,
    mail_dir: Path,
    args: argparse.Namespace,
) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(url, cookie_jar=jar) as http:
        tag = secrets.token_hex(3)
        emails = [f"bench{i}-{tag}@example.com" for i in range(args.requests)]
        signups, wall = await timed_closed_loop(len(emails), 8, lambda i: _signup(url, emails[i]))
        print(summary("signup (concurrency 8)", signups, wall))
        await asyncio.gather(*(_confirm(url, mail_dir, email) for email in emails))
        await expect(
            await http.post("/api/auth/login", json={"email": emails[0], "password": PASSWORD}), 200
        )
        tokens = await expect(await http.post("/api/cli/tokens", headers={"Origin": url}), 201)
        access = await expect(
            await http.post("/api/cli/validate", json={"token": tokens["token"]}), 201
        )
        bearer = {"Authorization": f"Bearer {access['accessToken']}"}

        async def login(i: int) -> None:
            async with aiohttp.ClientSession(url) as fresh:
                body = {"email": emails[i], "password": PASSWORD}
                await expect(await fresh.post("/api/auth/login", json=body), 200)

        keys_by_id: dict[str, tuple[str, str]] = {}

        async def create(i: int) -> None:
            body = {"name": f"Bench {i}", "slug": f"b-{tag}-{i}-{secrets.token_hex(2)}"}
            created = await expect(await http.post("/api/projects", json=body, headers=bearer), 201)
            keys_by_id[created["project"]["id"]] = (created["publicKey"], created["secretKey"])

        for concurrency in args.concurrency:
            latencies, wall = await timed_closed_loop(args.requests, concurrency, login)
            print(summary(f"login (concurrency {concurrency})", latencies, wall))
            latencies, wall = await timed_closed_loop(args.requests, concurrency, create)
            print(summary(f"project create (concurrency {concurrency})", latencies, wall))

        project_id, (public_key, secret) = next(iter(keys_by_id.items()))
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="latest")
        await consumer.start()
        try:
            await consumer.seek_to_end()
            deploys, published = [], []
            for retention in range(1, args.deploys + 1):
                start = time.perf_counter()
                await expect(
                    await http.post(
                        "/api/deploy",
                        json={"projectId": project_id, "config": {"retentionDays": retention}},
                        headers={**bearer, "X-Secret-Key": secret},
                    ),
                    201,
                )
                deploys.append(time.perf_counter() - start)
                await consumer.getone()
                published.append(time.perf_counter() - start)
            print(summary("deploy (one at a time)", deploys))
            print(summary("deploy → record on the control topic", published))
        finally:
            await consumer.stop()

        async def deploy(config: dict[str, object]) -> None:
            body = {"projectId": project_id, "config": config}
            headers = {**bearer, "X-Secret-Key": secret}
            await expect(await http.post("/api/deploy", json=body, headers=headers), 201)

        applied = await deploy_to_gateway(gateway_url, public_key, deploy, args.deploys)
        print(summary("deploy → enforced by the gateway", applied))
        applied = await deploy_to_worker(worker_log, project_id, deploy, args.deploys)
        print(summary("deploy → applied by the stream worker", applied))


PROBE = {
    "event": "probe",
    "timestamp": "2026-02-03T15:30:00.000Z",
    "distinctId": "bench",
    "sessionId": "bench",
    "properties": {},
}
STRICT = {"trackingPlan": {"mode": "strict", "events": {"other": {}}}}
LENIENT = {"trackingPlan": {"mode": "lenient", "events": {}}}


async def deploy_to_gateway(
    gateway_url: str,
    public_key: str,
    deploy: Callable[[dict[str, object]], Awaitable[None]],
    rounds: int,
) -> list[float]:
    """Seconds from each deploy's start to the gateway's first answer under the new rules."""
    timings: list[float] = []
    async with aiohttp.ClientSession(gateway_url, headers={"X-API-Key": public_key}) as gateway:
        for n in range(rounds):
            config, wanted = (STRICT, 400) if n % 2 == 0 else (LENIENT, 200)
            start = time.perf_counter()
            await deploy(config)
            while True:
                async with gateway.post("/", json=PROBE) as response:
                    if response.status == wanted:
                        break
                if time.perf_counter() - start > 30:
                    raise RuntimeError("the gateway did not apply the deploy within 30 s")
                await asyncio.sleep(0.005)
            timings.append(time.perf_counter() - start)
    return timings


_LOG_TIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def applied_at(log: Path, project_id: str, version: int) -> float | None:
    """When the worker logged taking ``version`` of the project's config (epoch seconds)."""
    needle = f"project {project_id} config version {version} applied"
    for line in log.read_text(errors="replace").splitlines():
        if needle in line:
            found = _LOG_TIME.search(line)
            if found is None:
                raise RuntimeError(f"no timestamp in the worker's log line: {line!r}")
            return datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


async def deploy_to_worker(
    log: Path,
    project_id: str,
    deploy: Callable[[dict[str, object]], Awaitable[None]],
    rounds: int,
) -> list[float]:
    """Seconds from each deploy's start to the worker applying it (its log's timestamp):
    from then on its next batch rolls up the new breakdown key."""
    timings: list[float] = []
    version = _deployed_versions(log, project_id)
    for n in range(rounds):
        start = time.time()
        await deploy({"breakdownKeys": [f"bench_key_{n}"]})
        version += 1
        while (seen := applied_at(log, project_id, version)) is None:
            if time.time() - start > 30:
                raise RuntimeError("the worker did not apply the deploy within 30 s")
            await asyncio.sleep(0.01)
        timings.append(seen - start)
    return timings


def _deployed_versions(log: Path, project_id: str) -> int:
    """The newest config version of the project the worker has applied so far (0: none)."""
    newest = 0
    needle = f"project {project_id} config version "
    for line in log.read_text(errors="replace").splitlines():
        if needle in line:
            newest = max(newest, int(line.split(needle)[1].split()[0]))
    return newest


async def _signup(url: str, email: str) -> None:
    async with aiohttp.ClientSession(url) as fresh:
        await expect(
            await fresh.post("/api/auth/signup", json={"email": email, "password": PASSWORD}), 202
        )


CONFIRM_CODE = re.compile(r"ra_confirm_[A-Za-z0-9_-]+")


def mailed_confirm_code(mail_dir: Path, email: str) -> str | None:
    for path in mail_dir.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        found = CONFIRM_CODE.search(str(message.get_body() or message.get_payload()))
        if str(message["To"]).lower() == email and found:
            return found.group(0)
    return None


async def _confirm(url: str, mail_dir: Path, email: str) -> None:
    """Confirm the address with the code the App API mailed (files in RA_MAIL_DIR)."""
    for _ in range(200):
        code = await asyncio.to_thread(mailed_confirm_code, mail_dir, email)
        if code is not None:
            async with aiohttp.ClientSession(url) as fresh:
                await expect(await fresh.post("/api/auth/confirm", json={"token": code}), 200)
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no confirmation mail to {email}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_process(module: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log = tempfile.NamedTemporaryFile(prefix=f"{module}-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return process, Path(log.name)


async def main(args: argparse.Namespace) -> None:
    env = Env()
    env.read_env(".local/services.env", recurse=False)
    database_url, redis_url = env.str("RA_DATABASE_URL"), env.str("RA_REDIS_URL")
    bootstrap = env.str("RA_KAFKA_BOOTSTRAP")
    suffix = secrets.token_hex(6)
    schema, prefix = f"bench_{suffix}", f"bench:{suffix}:"
    topic, events = f"bench-control-{suffix}", f"bench-events-{suffix}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    schema_url = f"{database_url}?options=-csearch_path%3D{schema}"
    apply_migrations(schema_url)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1), NewTopic(events, 12, 1)])
    app_port, gateway_port, worker_port = free_port(), free_port(), free_port()
    mail_dir = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    url, gateway_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{gateway_port}"
    shared = {
        "RA_DATABASE_URL": schema_url,
        "RA_REDIS_URL": redis_url,
        "RA_KAFKA_BOOTSTRAP": bootstrap,
        "RA_CONTROL_TOPIC": topic,
        "RA_EVENTS_TOPIC": events,
        "RA_REDIS_PREFIX": prefix,
    }
    started = [
        start_process(
            "app_api",
            {
                **shared,
                "RA_APP_PORT": str(app_port),
                "RA_APP_ORIGINS": url,
                "RA_OUTBOX_POLL_SECONDS": "1.0",
                "RA_MAIL_DIR": str(mail_dir),
                # Every sign-up comes from this one address.
                "RA_SIGNUPS_PER_ADDRESS": "1000000",
                "RA_SIGNUPS_TOTAL": "1000000",
            },
        ),
        start_process(
            "ingest_gateway",
            {**shared, "RA_INGEST_PORT": str(gateway_port), "RA_RATE_LIMIT": "1000000000"},
        ),
        start_process(
            "stream_workers",
            {
                **shared,
                "RA_WORKER_PORT": str(worker_port),
                "RA_WORKER_GROUP": f"bench-{suffix}",
                "RA_WORKER_DATA_DIR": tempfile.mkdtemp(prefix="bench-worker-"),
            },
        ),
    ]
    try:
        worker_url = f"http://127.0.0.1:{worker_port}"
        for (process, log), health in zip(started, (url, gateway_url, worker_url), strict=True):
            await wait_healthy(health, process, log)
        print(f"App API on {url}, gateway on {gateway_url}; schema {schema}, topic {topic}\n")
        await measure(url, gateway_url, bootstrap, topic, started[2][1], mail_dir, args)
    finally:
        for process, log in started:
            process.terminate()
            process.wait(timeout=20)
            log.unlink()
        await admin.delete_topics([topic, events])
        await admin.close()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        redis = Redis.from_url(redis_url)
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited:\n{log.read_text()}")  # noqa: ASYNC240
            try:
                async with http.get(f"{url}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.args} did not become healthy")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--deploys", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
