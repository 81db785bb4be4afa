"""Events/s the Python SDK sustains into one real ingest gateway, next to the gateway's own
batch rate measured in the same run.

Run from the repository root, with the services of ``scripts/services.sh start`` up and
``wrk`` installed (under the shared benchmark lock)::

    flock /tmp/ra-bench.lock python -m benchmarks.python_sdk [--seconds 10] [--rounds 3]
        [--connections 64] [--concurrency N] [--stdlib-json]

It reuses ``benchmarks.ingest_gateway``'s set-up (fresh schema, topic and Redis prefix,
one ``python -m ingest_gateway`` with a huge rate limit), then runs ``--rounds`` rounds of
two phases, each ``--seconds`` long, back to back so both see the same machine:

1. the gateway's batch rate: ``wrk``, 100 events per request, ``--connections``;
2. the SDK, sustained: a fresh process, one ``Client`` with its **default settings**
   (``--concurrency`` overrides its requests in flight), a loop calling ``track()`` as fast
   as the client takes events (when the queue is full it waits 1 ms instead of dropping);
   events/s = events the gateway acknowledged (200) from the first ``track()`` until
   ``flush()`` returned. The topic's record count for the phase must equal the events
   acknowledged.

Then once: 3. the SDK's own ceiling without a network (a transport that answers 200 at
once; the encoding included).

Fairness on a small shared machine: the SDK process, the gateway and Kafka compete for
the same cores (wrk barely uses any), and other work on the machine comes and goes. So
the phases alternate, each round's SDK rate is compared with the gateway rate measured
just before it, and the verdict is the median of the rounds' ratios. For each phase the
gateway's CPU (% of one core: ~100% means the gateway is the limit) and the machine's are
printed, with the CPU each side spends per event and the load average.
"""

import argparse
import asyncio
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.ingest_gateway import WARMUP_SECONDS, bench_setup
from benchmarks.loads import (
    WrkResult,
    batch_body,
    in_child_process,
    run_wrk,
    topic_record_count,
    write_wrk_script,
)
from benchmarks.stack import (
    BATCH_SIZE,
    CpuUse,
    Options,
    cpu_between,
    cpu_snapshot,
    read_services,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SDK_DIR = REPO_ROOT / "sdks" / "python"
SETTLE_SECONDS = 2.0  # after wrk stops, its requests in flight still get appended
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
    rounds: int
    connections: int
    concurrency: int | None  # None: the Client's default
    stdlib_json: bool


@dataclass(frozen=True, slots=True)
class SdkResult:
    tracked: int
    sent: int
    dropped: int
    discarded: int
    seconds: float
    cpu_percent: float  # of one core, the SDK process (all its threads)
    sent_with_warmup: int
    gateway: CpuUse | None  # the gateway's CPU over the same window
    encoder: str

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_percent / 100 * self.seconds / max(self.sent, 1) * 1e6

    @property
    def gateway_us_per_event(self) -> float:
        percent = self.gateway.process_percent if self.gateway else 0.0
        return percent / 100 * self.seconds / max(self.sent, 1) * 1e6


@dataclass(frozen=True, slots=True)
class Round:
    wrk: WrkResult
    sdk: SdkResult
    records: int  # on the topic from the SDK phase
    load: tuple[float, float, float]

    @property
    def gateway_rate(self) -> float:
        return self.wrk.ok_per_second * BATCH_SIZE

    @property
    def gateway_us_per_event(self) -> float:
        return self.wrk.cpu.process_percent / 100 / max(self.gateway_rate, 1e-9) * 1e6

    @property
    def ratio(self) -> float:
        return self.sdk.per_second / max(self.gateway_rate, 1e-9)


def use_checkout_sdk() -> None:
    """Measure this checkout's SDK, whatever copy ``pip install -e`` last pointed at (as
    the tests do); spawned children inherit ``sys.path``."""
    if str(SDK_DIR) not in sys.path:
        sys.path.insert(0, str(SDK_DIR))


def parse_options(argv: Sequence[str] | None = None) -> SdkOptions:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.python_sdk")
    parser.add_argument("--seconds", type=int, default=10, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="wrk/SDK rounds")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="the Client's requests in flight"
    )
    parser.add_argument(
        "--stdlib-json", action="store_true", help="encode with json even if orjson is there"
    )
    args = parser.parse_args(argv)
    return SdkOptions(
        args.seconds, args.rounds, args.connections, args.concurrency, args.stdlib_json
    )


class InstantTransport:
    """Answers 200 without a network, so the ceiling measures only the SDK's own work."""

    async def send(self, body: bytes) -> Any:
        from realanalytics_sdk.transport import Answer

        return Answer(200, b'{"success": true}')

    async def close(self) -> None:
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


def choose_encoder(stdlib_json: bool) -> str:
    from realanalytics_sdk import encoding, events

    if stdlib_json:
        events.encode_event = encoding.encode_event_stdlib  # type: ignore[attr-defined]
        return "json (standard library)"
    return "orjson" if encoding.HAVE_ORJSON else "json (standard library)"


def sdk_process(
    url: str,
    api_key: str,
    seconds: float,
    concurrency: int | None,
    stdlib_json: bool,
    gateway_pid: int | None,
) -> SdkResult:
    """One SDK process: warm up, then the measured loop and the final flush."""
    from realanalytics_sdk import Client

    encoder = choose_encoder(stdlib_json)
    options: dict[str, Any] = {}
    if concurrency is not None:
        options["concurrency"] = concurrency
    if gateway_pid is None:
        options["transport_factory"] = InstantTransport
    client = Client(api_key, url, **options)
    track_loop(client.track, WARMUP_SECONDS)
    client.flush(60)
    before = client.stats()
    gateway_before = cpu_snapshot(gateway_pid) if gateway_pid else None
    cpu_before, started = process_cpu_seconds(), time.perf_counter()
    tracked = track_loop(client.track, seconds)
    client.flush(60)
    elapsed = time.perf_counter() - started
    cpu = (process_cpu_seconds() - cpu_before) / elapsed * 100
    gateway = (
        cpu_between(gateway_before, cpu_snapshot(gateway_pid))
        if gateway_pid and gateway_before
        else None
    )
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
        gateway,
        encoder,
    )


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def print_round(index: int, item: Round) -> None:
    wrk, sdk = item.wrk, item.sdk
    print(f"\n== round {index}: load average {' '.join(f'{v:.2f}' for v in item.load)}")
    print(
        f"   1. gateway (wrk): {item.gateway_rate:>9,.0f} ev/s "
        f"(p50 {wrk.p50_ms:.0f} ms); gateway {wrk.cpu.process_percent:.0f}% of a core, "
        f"machine {wrk.cpu.machine_percent:.0f}%; gateway {item.gateway_us_per_event:.1f} µs/ev"
    )
    gateway = sdk.gateway
    print(
        f"   2. SDK:           {sdk.per_second:>9,.0f} ev/s ({sdk.sent:,} acknowledged in "
        f"{sdk.seconds:.1f}s until flush() returned); SDK {sdk.cpu_percent:.0f}% of a core = "
        f"{sdk.cpu_us_per_event:.1f} µs/ev; gateway "
        f"{gateway.process_percent if gateway else 0:.0f}% = {sdk.gateway_us_per_event:.1f} "
        f"µs/ev; machine {gateway.machine_percent if gateway else 0:.0f}%"
    )
    verdict = "equal" if item.records == sdk.sent_with_warmup else "DIFFERENT"
    print(
        f"      records on the topic {item.records:,}, acknowledged (incl. warm-up) "
        f"{sdk.sent_with_warmup:,}: {verdict}; dropped by the loop's full queue "
        f"{sdk.dropped:,} (then it waited), discarded {sdk.discarded}; ratio {item.ratio:.2f}"
    )


async def sdk_in_child(setup: Any, options: SdkOptions, gateway_pid: int | None) -> SdkResult:
    """The SDK phase in a child process (``gateway_pid`` None: the SDK alone)."""
    result: SdkResult = await in_child_process(
        sdk_process,
        setup.gateway.url,
        setup.api_key,
        options.seconds,
        options.concurrency,
        options.stdlib_json,
        gateway_pid,
    )
    return result


async def measure_round(setup: Any, options: SdkOptions, script: Path) -> Round:
    services, gateway = setup.services, setup.gateway
    load = load_average()
    wrk_options = Options(options.seconds, options.connections, 1, 64)
    wrk = await run_wrk(gateway.url, script, options.seconds, wrk_options, gateway.pid)
    await asyncio.sleep(SETTLE_SECONDS)
    before = await topic_record_count(services.kafka_bootstrap, setup.topic)
    sdk = await sdk_in_child(setup, options, gateway.pid)
    records = await topic_record_count(services.kafka_bootstrap, setup.topic) - before
    return Round(wrk, sdk, records, load)


async def run(options: SdkOptions) -> int:
    import realanalytics_sdk
    from realanalytics_sdk.client import DEFAULT_CONCURRENCY

    concurrency = options.concurrency or DEFAULT_CONCURRENCY
    print(f"SDK under test: {Path(realanalytics_sdk.__file__).parent}")
    print(
        f"Client defaults{'' if options.concurrency is None else ' except concurrency'}: "
        f"{concurrency} requests in flight at most; wrk -c{options.connections}; "
        f"{options.rounds} rounds of {options.seconds}s per phase; nproc {os.cpu_count()}"
    )
    services = read_services()
    gateway_options = Options(options.seconds, options.connections, 1, 64)
    rounds: list[Round] = []
    async with bench_setup(services, gateway_options) as setup:
        script = write_wrk_script(setup.scripts, "batch", batch_body(), setup.api_key)
        gateway = setup.gateway
        await run_wrk(gateway.url, script, WARMUP_SECONDS, gateway_options, gateway.pid)
        for index in range(1, options.rounds + 1):
            rounds.append(await measure_round(setup, options, script))
            print_round(index, rounds[-1])
        offline = await sdk_in_child(setup, options, None)
    print(
        f"\n== 3. SDK alone (transport answers 200 at once): {offline.per_second:,.0f} ev/s, "
        f"{offline.cpu_percent:.0f}% of a core = {offline.cpu_us_per_event:.1f} µs/ev"
    )
    print_summary(rounds, offline, options)
    return 0 if all(item.records == item.sdk.sent_with_warmup for item in rounds) else 1


def print_summary(rounds: list[Round], offline: SdkResult, options: SdkOptions) -> None:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    ratio = median([item.ratio for item in rounds])
    gateway_us = median([item.gateway_us_per_event for item in rounds])
    sdk_us = median([item.sdk.cpu_us_per_event for item in rounds])
    gateway_in_sdk_us = median([item.sdk.gateway_us_per_event for item in rounds])
    topic_ok = all(item.records == item.sdk.sent_with_warmup for item in rounds)
    rows = [
        (
            f"gateway batch rate (wrk -c{options.connections})",
            median([r.gateway_rate for r in rounds]),
            "ev/s",
            "",
        ),
        (
            "Python SDK, one process, sustained",
            median([r.sdk.per_second for r in rounds]),
            "ev/s",
            "",
        ),
        ("SDK / gateway rate (median of rounds)", ratio, "", "PASS" if ratio >= 1.0 else "MISS"),
        ("SDK ceiling without network", offline.per_second, "ev/s", ""),
        ("gateway CPU per event (wrk phase)", gateway_us, "µs", ""),
        ("gateway CPU per event (SDK phase)", gateway_in_sdk_us, "µs", ""),
        ("SDK CPU per event (into the gateway)", sdk_us, "µs", ""),
        ("SDK CPU per event (no network)", offline.cpu_us_per_event, "µs", ""),
    ]
    print(
        f"\n== summary: medians of {len(rounds)} rounds, {options.seconds}s per phase, "
        f"JSON by {offline.encoder}; load average now "
        f"{' '.join(f'{v:.2f}' for v in load_average())}"
    )
    for name, value, unit, verdict in rows:
        text = (
            f"{value:,.2f}"
            if not unit
            else f"{value:,.1f} {unit}"
            if unit == "µs"
            else f"{value:,.0f} {unit}"
        )
        print(f"   {name:<40} {text:>14}  {verdict}")
    print(f"   {'records on the topic = acknowledged':<40} {'yes' if topic_ok else 'NO':>14}")
    print("   ratios per round: " + ", ".join(f"{item.ratio:.2f}" for item in rounds))


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
