"""Throughput, latency and memory of one ingest gateway process, against the real services.

Run from the repository root, with the services of ``scripts/services.sh start`` up and
``wrk`` installed (``apt-get install -y wrk``)::

    python -m benchmarks.ingest_gateway [--seconds 10] [--connections 64] [--threads 1]

It creates a fresh PostgreSQL schema (migrated, one "enterprise" project), a fresh
12-partition Kafka topic and a fresh Redis prefix, starts ONE ``python -m ingest_gateway``
on a free port with a huge ``RA_RATE_LIMIT``, and measures, each for ``--seconds``:

1. events/s through the gateway, 100 events per request (``wrk``, closed loop, only 200
   answers counted), and the records on the topic against 200s x 100;
2. single-event requests/s (``wrk``);
3. p50/p99 latency at half the measured batch request rate, from an open-loop paced
   generator in another process (latency counted from each request's scheduled time, so
   a stalled gateway cannot hide behind a waiting client: no coordinated omission);
4. the gateway's RSS after the load;
5. the bare producers' ceilings on the same broker, one process each, same records, acks
   awaited in chunks of 100 with many chunks in flight: aiokafka's (the gateway's producer
   before decision 0019) and librdkafka's as the gateway drives it (its own
   ``ingest_gateway.kafka_client``: same settings, a poll thread, one future per chunk, a
   request-id header on every record); the ratio gateway / librdkafka ceiling.

Every phase prints the machine's load average beside its figures: on a shared machine only
the ratios of figures taken in the same run mean much.

It prints each phase, then a summary with targets and PASS/MISS. Everything it made is
removed at the end, also on failure or Ctrl-C.
"""

import asyncio
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.loads import (
    BareResult,
    PacedResult,
    WrkResult,
    bare_process,
    bare_records,
    batch_body,
    confluent_bare_process,
    in_child_process,
    paced_process,
    run_wrk,
    single_body,
    topic_record_count,
    write_wrk_script,
)
from benchmarks.stack import (
    BATCH_SIZE,
    WARMUP_SECONDS,
    CpuUse,
    Gateway,
    Options,
    Services,
    cpu_between,
    cpu_snapshot,
    free_port,
    fresh_redis_prefix,
    fresh_schema,
    fresh_topic,
    gateway_env,
    memory_kib,
    new_public_key,
    parse_options,
    read_services,
    running_gateway,
)

TARGET_BATCH_EVENTS_PER_S = 80_000  # issue 21
TARGET_SINGLE_REQUESTS_PER_S = 6_000
TARGET_BARE_RATIO = 0.7  # of the librdkafka ceiling

# ---------------------------------------------------------------- the run


@dataclass(slots=True)
class Figures:
    batch: WrkResult | None = None
    topic_records: int = 0
    single: WrkResult | None = None
    paced: PacedResult | None = None
    rss_kib: int = 0
    hwm_kib: int = 0
    bare: BareResult | None = None  # aiokafka's
    confluent: BareResult | None = None  # librdkafka's, as the gateway drives it


@dataclass(frozen=True, slots=True)
class Setup:
    services: Services
    options: Options
    gateway: Gateway
    api_key: str
    project_id: str
    topic: str
    scripts: Path


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def print_wrk(title: str, result: WrkResult, per_request: int) -> None:
    others = {k: v for k, v in sorted(result.statuses.items()) if k != 200}
    errors = {k: v for k, v in result.socket_errors.items() if v}
    print(f"\n== {title} ({load_average()})")
    print(
        f"   {result.requests:,} requests in {result.seconds:.1f}s; 200: {result.ok:,}; "
        f"other statuses: {others or 'none'}; socket errors: {errors or 'none'}"
    )
    print(
        f"   {result.ok_per_second:,.0f} req/s (200 only) = "
        f"{result.ok_per_second * per_request:,.0f} ev/s"
    )
    print(f"   wrk closed-loop latency p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms")
    print_cpu(result.cpu)


def print_cpu(cpu: CpuUse) -> None:
    print(
        f"   CPU: gateway {cpu.process_percent:.0f}% of one core; "
        f"machine {cpu.machine_percent:.0f}% of {os.cpu_count()} cores"
    )


async def measure_batch(setup: Setup, figures: Figures) -> None:
    script = write_wrk_script(setup.scripts, "batch", batch_body(), setup.api_key)
    gateway, topic, bootstrap = setup.gateway, setup.topic, setup.services.kafka_bootstrap
    await run_wrk(gateway.url, script, WARMUP_SECONDS, setup.options, gateway.pid)
    await asyncio.sleep(1)
    before = await topic_record_count(bootstrap, topic)
    figures.batch = await run_wrk(
        gateway.url, script, setup.options.seconds, setup.options, gateway.pid
    )
    await asyncio.sleep(2)  # requests in flight when wrk stopped still get appended
    figures.topic_records = await topic_record_count(bootstrap, topic) - before
    print_wrk(f"1. batches of {BATCH_SIZE} events per request", figures.batch, BATCH_SIZE)
    acked = figures.batch.ok * BATCH_SIZE
    print(
        f"   records on the topic from this phase: {figures.topic_records:,}; "
        f"200s x {BATCH_SIZE} = {acked:,} (difference {figures.topic_records - acked:+,}: "
        "requests still in flight when wrk stopped)"
    )


async def measure_single(setup: Setup, figures: Figures) -> None:
    script = write_wrk_script(setup.scripts, "single", single_body(), setup.api_key)
    gateway = setup.gateway
    figures.single = await run_wrk(
        gateway.url, script, setup.options.seconds, setup.options, gateway.pid
    )
    print_wrk("2. single-event requests", figures.single, 1)


async def measure_latency(setup: Setup, figures: Figures) -> None:
    max_rate = figures.batch.ok_per_second if figures.batch else 0.0
    rate, warmup = max(1.0, max_rate / 2), 1.0
    url, pid = f"{setup.gateway.url}/", setup.gateway.pid
    before = cpu_snapshot(pid)
    result: PacedResult = await in_child_process(
        paced_process, url, setup.api_key, batch_body(), rate, setup.options.seconds, warmup
    )
    figures.paced = replace(result, cpu=cpu_between(before, cpu_snapshot(pid)))
    print_paced(figures.paced, max_rate, warmup)


def print_paced(result: PacedResult, max_rate: float, warmup: float) -> None:
    print(
        f"\n== 3. latency, open loop at {result.rate:,.1f} req/s x {BATCH_SIZE} events "
        f"(half of the measured {max_rate:,.1f} req/s; {load_average()})"
    )
    print(
        f"   {result.scheduled:,} requests scheduled after {warmup:.0f}s warm-up; "
        f"not 200: {result.failures}; generator's worst send lag {result.max_send_lag_ms:.1f} ms"
    )
    print(
        f"   latency from scheduled time: p50 {result.percentile(50):.1f} ms, "
        f"p99 {result.percentile(99):.1f} ms, max {result.percentile(100):.1f} ms"
    )
    if result.cpu:
        print_cpu(result.cpu)


def measure_memory(setup: Setup, figures: Figures) -> None:
    figures.rss_kib = memory_kib(setup.gateway.pid, "VmRSS")
    figures.hwm_kib = memory_kib(setup.gateway.pid, "VmHWM")
    print(
        f"\n== 4. gateway memory after the load ({load_average()}): "
        f"VmRSS {figures.rss_kib / 1024:.1f} MiB (peak VmHWM {figures.hwm_kib / 1024:.1f} MiB)"
    )


async def measure_bare(setup: Setup, figures: Figures) -> None:
    concurrency = setup.options.bare_concurrency
    args = (
        setup.services.kafka_bootstrap,
        setup.topic,
        bare_records(setup.project_id),
        setup.options.seconds,
        concurrency,
    )
    print(
        f"\n== 5. bare producers, one process each, {concurrency} chunks of {BATCH_SIZE} in flight"
    )
    figures.bare = await in_child_process(bare_process, *args)
    print_bare("aiokafka", figures.bare)
    figures.confluent = await in_child_process(confluent_bare_process, *args)
    print_bare("librdkafka (ingest_gateway.kafka_client)", figures.confluent)


def print_bare(name: str, result: BareResult) -> None:
    print(
        f"   {name}: {result.acked:,} records acknowledged in {result.seconds:.1f}s = "
        f"{result.per_second:,.0f} ev/s; its process {result.cpu_percent:.0f}% of one core "
        f"({load_average()})"
    )


# ---------------------------------------------------------------- summary


def verdict(value: float, target: float) -> str:
    return "PASS" if value >= target else "MISS"


def summary_rows(figures: Figures, connections: int) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    if figures.batch:
        events = figures.batch.ok_per_second * BATCH_SIZE
        rows.append(
            (
                "batch ingest (100/request)",
                f"{events:,.0f} ev/s",
                f">= {TARGET_BATCH_EVENTS_PER_S:,} ev/s",
                verdict(events, TARGET_BATCH_EVENTS_PER_S),
            )
        )
        acked = figures.batch.ok * BATCH_SIZE
        in_flight = connections * BATCH_SIZE
        matches = acked <= figures.topic_records <= acked + in_flight
        rows.append(
            (
                "topic records vs 200s x 100",
                f"{figures.topic_records:,} vs {acked:,}",
                f"within +{in_flight:,}",
                "PASS" if matches else "MISS",
            )
        )
    if figures.single:
        rate = figures.single.ok_per_second
        rows.append(
            (
                "single-event requests",
                f"{rate:,.0f} req/s",
                f">= {TARGET_SINGLE_REQUESTS_PER_S:,} req/s",
                verdict(rate, TARGET_SINGLE_REQUESTS_PER_S),
            )
        )
    if figures.paced:
        p = figures.paced
        rows.append(
            (f"latency p50 @ {p.rate:,.0f} req/s", f"{p.percentile(50):.1f} ms", "-", "info")
        )
        rows.append(
            (f"latency p99 @ {p.rate:,.0f} req/s", f"{p.percentile(99):.1f} ms", "-", "info")
        )
    if figures.rss_kib:
        rows.append(("gateway RSS after load", f"{figures.rss_kib / 1024:.1f} MiB", "-", "info"))
    if figures.bare:
        rows.append(("bare aiokafka producer", f"{figures.bare.per_second:,.0f} ev/s", "-", "info"))
    if figures.confluent:
        ceiling = figures.confluent.per_second
        rows.append(("bare librdkafka producer (ceiling)", f"{ceiling:,.0f} ev/s", "-", "info"))
    if figures.confluent and figures.batch:
        events = figures.batch.ok_per_second * BATCH_SIZE
        ratio = events / max(figures.confluent.per_second, 1e-9)
        rows.append(
            (
                "gateway / librdkafka ceiling",
                f"{ratio:.2f}",
                f">= {TARGET_BARE_RATIO}",
                verdict(ratio, TARGET_BARE_RATIO),
            )
        )
    return rows


def print_summary(figures: Figures, options: Options) -> None:
    rows = [("figure", "measured", "target", "result"), *summary_rows(figures, options.connections)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(
        f"\n== summary (nproc {os.cpu_count()}, wrk -t{options.threads} "
        f"-c{options.connections}, {options.seconds}s per phase; at the end {load_average()})"
    )
    for index, row in enumerate(rows):
        print("   " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("   " + "  ".join("-" * width for width in widths))


# ---------------------------------------------------------------- main


@contextlib.asynccontextmanager
async def bench_setup(services: Services, options: Options) -> AsyncIterator[Setup]:
    name = f"bench_{secrets.token_hex(4)}"
    async with contextlib.AsyncExitStack() as stack:
        scripts = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ra-bench-")))
        conninfo = await stack.enter_async_context(fresh_schema(services.database_url, name))
        topic = await stack.enter_async_context(
            fresh_topic(services.kafka_bootstrap, name.replace("_", "-"))
        )
        prefix = await stack.enter_async_context(fresh_redis_prefix(services.redis_url, f"{name}:"))
        project_id, api_key = await new_public_key(conninfo, name.replace("_", "-"))
        env = gateway_env(services, conninfo, topic, prefix, free_port())
        gateway = await stack.enter_async_context(running_gateway(env, scripts / "gateway.log"))
        print(
            f"gateway pid {gateway.pid} at {gateway.url}; schema {name}, topic {topic}, "
            f"redis prefix {prefix}"
        )
        yield Setup(services, options, gateway, api_key, project_id, topic, scripts)


async def run(options: Options) -> Figures:
    services = read_services()
    figures = Figures()
    async with bench_setup(services, options) as setup:
        try:
            await measure_batch(setup, figures)
            await measure_single(setup, figures)
            await measure_latency(setup, figures)
            measure_memory(setup, figures)
            await measure_bare(setup, figures)
        except Exception:
            print_log_tail(setup.gateway.log)
            raise
        finally:
            print_summary(figures, options)
    return figures


def print_log_tail(log: Path, lines: int = 30) -> None:
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    print("\n== gateway log (last lines)", *(f"   {line}" for line in tail), sep="\n")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: install it with `apt-get install -y wrk`", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(options))
    except KeyboardInterrupt:
        print("\ninterrupted; cleaned up", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
