"""One tenant can never hurt another: the figures issue 14 asks for, in one run against the
real services.

Run from the repository root with ``scripts/services.sh start`` up::

    python -m benchmarks.tenant_isolation [--fuzz 2000] [--noisy-events 1000000]
        [--clients 40] [--samples 300] [--seconds 60] [--noisy-rate 0] [--ratio 20]

1. Ingest fuzz: ``--fuzz`` hostile requests (``benchmarks.ingest_fuzzing``) to a real
   gateway process; the 5xx seen (must be 0) and whether it still answers.
2. Query fuzz: ``--fuzz`` hostile ``POST /api/query`` bodies (``benchmarks.query_fuzzing``)
   to a real query API process; the 5xx seen (must be 0).
3. Noisy neighbour on queries (``benchmarks.query_isolation``): a quiet project's query
   p99 while ``--clients`` clients flood another project with wide funnels, against the
   bare p99 of the same run (target < 200 ms).
4. Noisy neighbour on ingest (``benchmarks.tenant_fairness``): a quiet project's freshness
   p95 while a noisy one sends ``--ratio`` times its events, with overflow routing and,
   in the same run, without it as the ceiling to beat (target < 2 s).

Each phase prints its own figures as it goes; a summary table ends the run.
"""

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass

import aiohttp

from benchmarks import ingest_fuzzing, query_fuzzing, query_isolation, tenant_fairness
from benchmarks.stack import (
    REPO_ROOT,
    free_port,
    fresh_redis_prefix,
    fresh_schema,
    fresh_topic,
    gateway_env,
    new_public_key,
    read_services,
    running_gateway,
)


@dataclass(frozen=True, slots=True)
class Fuzzed:
    sent: int
    errors: int
    seconds: float
    still_answers: bool


async def answers(url: str) -> bool:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status == 200


async def fuzz_ingest(count: int) -> Fuzzed:
    services = read_services()
    suffix = uuid.uuid4().hex[:8]
    log = REPO_ROOT / ".local" / f"bench-tenant-isolation-gateway-{suffix}.log"
    async with (
        fresh_schema(services.database_url, f"bench_fuzz_{suffix}") as url,
        fresh_topic(services.kafka_bootstrap, f"bench-fuzz-{suffix}") as topic,
        fresh_redis_prefix(services.redis_url, f"bench:fuzz:{suffix}:") as prefix,
    ):
        _, key = await new_public_key(url, f"fuzz-{suffix}")
        env = gateway_env(services, url, topic, prefix, free_port())
        async with running_gateway(env, log) as gateway:
            started = time.perf_counter()
            sent, errors = await asyncio.to_thread(ingest_fuzzing.fuzz, gateway.url, key, count)
            seconds = time.perf_counter() - started
            alive = await answers(f"{gateway.url}/health")
    print(f"ingest fuzz: {sent} requests in {seconds:.1f} s, 5xx {errors}, answers after: {alive}")
    return Fuzzed(sent, errors, seconds, alive)


async def fuzz_and_isolate_queries(
    count: int, noisy_events: int, clients: int, samples: int
) -> tuple[Fuzzed, query_isolation.IsolationFigures]:
    services = read_services()
    suffix = uuid.uuid4().hex[:8]
    log = REPO_ROOT / ".local" / f"bench-tenant-isolation-query-{suffix}.log"
    async with (
        fresh_schema(services.database_url, f"bench_isolation_{suffix}") as url,
        fresh_redis_prefix(services.redis_url, f"bench:isolation:{suffix}:") as prefix,
    ):
        cookie = await query_isolation.tenants(url, services.redis_url, prefix, noisy_events)
        async with query_isolation.query_api(url, services.redis_url, prefix, log) as base:
            headers = {"Cookie": f"ra_session={cookie}"}
            started = time.perf_counter()
            sent, errors = await asyncio.to_thread(
                query_fuzzing.fuzz, base, headers, ("noisy", "quiet"), count
            )
            seconds = time.perf_counter() - started
            alive = await answers(f"{base}/api/query/health")
            print(f"query fuzz: {sent} requests in {seconds:.1f} s, 5xx {errors}, answers: {alive}")
            figures = await query_isolation.measure(base, cookie, clients, samples)
    return Fuzzed(sent, errors, seconds, alive), figures


def summary(
    ingest: Fuzzed,
    query: Fuzzed,
    isolation: query_isolation.IsolationFigures,
    fairness: tenant_fairness.FairnessFigures,
    ratio: float,
) -> str:
    rows = [
        ("ingest fuzz: requests / 5xx", f"{ingest.sent} / {ingest.errors}", "5xx = 0",
         ingest.errors == 0 and ingest.still_answers),
        ("query fuzz: requests / 5xx", f"{query.sent} / {query.errors}", "5xx = 0",
         query.errors == 0 and query.still_answers),
        ("quiet project's query p99 while another floods (bare; ratio)",
         f"{isolation.noisy.p99_ms:.1f} ms ({isolation.bare.p99_ms:.1f} ms; "
         f"{isolation.ratio:.1f}x)", "< 200 ms", isolation.noisy.p99_ms < 200),
        (f"quiet project's freshness p95 while another sends {ratio:g}x (no routing; ratio)",
         f"{fairness.routed.p95:.2f} s ({fairness.unrouted.p95:.2f} s; {fairness.ratio:.2f}x)",
         "< 2 s", fairness.routed.p95 < 2.0),
    ]  # fmt: skip
    width = max(len(row[0]) for row in rows)
    lines = [f"{'figure':<{width}} | value | target | verdict"]
    for name, value, target, ok in rows:
        lines.append(f"{name:<{width}} | {value} | {target} | {'PASS' if ok else 'MISS'}")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    ingest = await fuzz_ingest(args.fuzz)
    query, isolation = await fuzz_and_isolate_queries(
        args.fuzz, args.noisy_events, args.clients, args.samples
    )
    fairness = await tenant_fairness.measure(args.seconds, args.noisy_rate, args.ratio)
    print()
    print(summary(ingest, query, isolation, fairness, args.ratio))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tenant_isolation")
    parser.add_argument("--fuzz", type=int, default=2000, help="fuzzed requests per service")
    parser.add_argument("--noisy-events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=60, help="length of the ingest flood")
    parser.add_argument(
        "--noisy-rate", type=int, default=0, help="noisy ev/s; 0: as fast as it is taken"
    )
    parser.add_argument("--ratio", type=int, default=20)
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
