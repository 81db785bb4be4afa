"""Events/s the Python SDK sustains into one real ingest gateway, next to the gateway's own
batch rate measured in the same run.

Run from the repository root, with the services of ``scripts/services.sh start`` up,
``wrk`` installed and the SDK installed (``pip install -e 'sdks/python[aiohttp]'``)::

    python -m benchmarks.python_sdk [--seconds 10] [--senders 16] [--connections 64]

It reuses ``benchmarks.ingest_gateway``'s set-up (fresh schema, topic and Redis prefix,
one ``python -m ingest_gateway`` with a huge rate limit) and measures, each for
``--seconds``:

1. the gateway's batch rate: ``wrk``, 100 events per request, ``--connections`` (as
   ``benchmarks.ingest_gateway`` phase 1);
2. the SDK, sustained: one process, one ``Client`` with ``--senders`` threads, a loop
   calling ``track()`` as fast as it takes events (when the queue is full it waits 1 ms
   instead of dropping); events/s = events the gateway acknowledged (200) over the time
   from the first ``track()`` until ``flush()`` returned; the topic's record count for
   the phase is printed next to it;
3. the SDK's own ceiling without a network: the same loop with a transport that answers
   200 at once (JSON encoding included), showing how far the SDK is from being the limit.

CPU of the gateway and of the SDK process is printed for phases 1-2: the side at ~100% of
a core is the bottleneck. The summary compares 2 with 1 (target: SDK >= gateway's rate),
and the CPU each spends per event: on a machine shared with other work (or on 2 cores,
where the SDK process takes CPU from the gateway it feeds) the rates depend on the
scheduler, while CPU per event says which side would saturate a core first.
"""

import argparse
import asyncio
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.ingest_gateway import Figures, bench_setup, measure_batch, print_cpu
from benchmarks.loads import in_child_process, topic_record_count
from benchmarks.stack import BATCH_SIZE, Options, cpu_between, cpu_snapshot, read_services

REPO_ROOT = Path(__file__).resolve().parents[1]
SDK_DIR = REPO_ROOT / "sdks" / "python"
WARMUP_SECONDS = 1.0
PROPERTIES = {
    "$pathname": "/pricing",
    "$referrer": "https://example.com/blog/launch",
    "plan": "pro",
    "price": 49.5,
    "experiment": "checkout-b",
}


@dataclass(frozen=True, slots=True)
class SdkOptions:
    seconds: int
    senders: int
    connections: int


@dataclass(frozen=True, slots=True)
class SdkResult:
    tracked: int
    sent: int
    dropped: int
    discarded: int
    seconds: float
    cpu_percent: float  # of one core, the SDK process (all its threads)
    sent_with_warmup: int

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_percent / 100 * self.seconds / max(self.sent, 1) * 1e6


def use_checkout_sdk() -> None:
    """Measure this checkout's SDK, whatever copy ``pip install -e`` last pointed at (as
    the tests do); spawned children inherit ``sys.path``."""
    if str(SDK_DIR) not in sys.path:
        sys.path.insert(0, str(SDK_DIR))


def parse_options(argv: Sequence[str] | None = None) -> SdkOptions:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.python_sdk")
    parser.add_argument("--seconds", type=int, default=10, help="length of each phase")
    parser.add_argument(
        "--senders", type=int, default=16, help="the Client's sender threads (its default: 2)"
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    args = parser.parse_args(argv)
    return SdkOptions(args.seconds, args.senders, args.connections)


class InstantTransport:
    """Answers 200 without a network, so phase 3 measures only the SDK's own work."""

    def send(self, body: bytes) -> Any:
        from realanalytics_sdk.transport import Answer

        return Answer(200, b'{"success": true}')

    def close(self) -> None:
        pass


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def track_loop(track: Callable[..., bool], seconds: float) -> int:
    """``track()`` as fast as the client takes events, for ``seconds``; the count taken."""
    tracked = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            if track("$pageview", f"user-{tracked % 1000:04d}", PROPERTIES):
                tracked += 1
            else:
                time.sleep(0.001)  # queue full: back off rather than drop (sustained rate)
    return tracked


def sdk_process(url: str, api_key: str, seconds: float, senders: int, offline: bool) -> SdkResult:
    """One SDK process: warm up, then the measured loop and the final flush."""
    from realanalytics_sdk import Client

    factory = InstantTransport if offline else None
    client = Client(
        api_key,
        url,
        senders=senders,
        max_queue_size=50_000,
        flush_interval=0.2,
        transport_factory=factory,
    )
    track_loop(client.track, WARMUP_SECONDS)
    client.flush(60)
    before = client.stats()
    cpu_before, started = process_cpu_seconds(), time.perf_counter()
    tracked = track_loop(client.track, seconds)
    client.flush(60)
    elapsed = time.perf_counter() - started
    cpu = (process_cpu_seconds() - cpu_before) / elapsed * 100
    after = client.stats()
    client.close(10)
    return SdkResult(
        tracked,
        after.sent - before.sent,
        after.dropped - before.dropped,
        after.discarded - before.discarded,
        elapsed,
        cpu,
        after.sent,
    )


def print_sdk(title: str, result: SdkResult) -> None:
    print(f"\n== {title}")
    print(
        f"   {result.tracked:,} tracked, {result.sent:,} acknowledged in {result.seconds:.1f}s "
        f"(until flush() returned) = {result.per_second:,.0f} ev/s; "
        f"dropped {result.dropped}, discarded {result.discarded}"
    )
    print(
        f"   CPU: SDK process {result.cpu_percent:.0f}% of one core (all threads) = "
        f"{result.cpu_us_per_event:.1f} µs of CPU per event"
    )


async def run(options: SdkOptions) -> int:
    import realanalytics_sdk

    print(f"SDK under test: {Path(realanalytics_sdk.__file__).parent}")
    services = read_services()
    gateway_options = Options(options.seconds, options.connections, 1, 64)
    figures = Figures()
    async with bench_setup(services, gateway_options) as setup:
        await measure_batch(setup, figures)
        assert figures.batch is not None
        gateway_rate = figures.batch.ok_per_second * BATCH_SIZE

        url, pid = setup.gateway.url, setup.gateway.pid
        before_records = await topic_record_count(services.kafka_bootstrap, setup.topic)
        before_cpu = cpu_snapshot(pid)
        online: SdkResult = await in_child_process(
            sdk_process, url, setup.api_key, options.seconds, options.senders, False
        )
        gateway_cpu = cpu_between(before_cpu, cpu_snapshot(pid))
        records = await topic_record_count(services.kafka_bootstrap, setup.topic) - before_records
        print_sdk(f"2. Python SDK into the gateway ({options.senders} sender threads)", online)
        print_cpu(gateway_cpu)
        print(
            f"   records on the topic from this phase: {records:,}; acknowledged to the SDK "
            f"(incl. {WARMUP_SECONDS:.0f}s warm-up): {online.sent_with_warmup:,}"
        )

        offline: SdkResult = await in_child_process(
            sdk_process, url, setup.api_key, options.seconds, options.senders, True
        )
        print_sdk("3. Python SDK alone (transport answers 200 at once)", offline)

    # The gateway's CPU per event in phase 1, against the SDK's in phase 2: independent of
    # how busy the machine was, it says which side would saturate a core first.
    gateway_us = figures.batch.cpu.process_percent / 100 / max(gateway_rate, 1e-9) * 1e6
    ratio = online.per_second / max(gateway_rate, 1e-9)
    rows = [
        (f"gateway batch rate (wrk -c{options.connections})", f"{gateway_rate:,.0f} ev/s", ""),
        ("Python SDK, one process, sustained", f"{online.per_second:,.0f} ev/s", ""),
        ("Python SDK ceiling without network", f"{offline.per_second:,.0f} ev/s", ""),
        ("SDK / gateway rate", f"{ratio:.2f}", "PASS" if ratio >= 1.0 else "MISS"),
        ("gateway CPU per event", f"{gateway_us:.1f} µs", ""),
        ("SDK CPU per event (into the gateway)", f"{online.cpu_us_per_event:.1f} µs", ""),
        (
            "SDK CPU / gateway CPU per event",
            f"{online.cpu_us_per_event / max(gateway_us, 1e-9):.2f}",
            "PASS" if online.cpu_us_per_event <= gateway_us else "MISS",
        ),
    ]
    print(f"\n== summary (nproc {os.cpu_count()}, {options.seconds}s per phase, target: PASS)")
    for name, value, verdict in rows:
        print(f"   {name:<40} {value:>14}  {verdict}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    use_checkout_sdk()
    try:
        return asyncio.run(run(options))
    except KeyboardInterrupt:
        print("\ninterrupted; cleaned up", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
