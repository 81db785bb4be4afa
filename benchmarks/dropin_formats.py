"""Throughput of the drop-in formats (issue 19) next to our own ``POST /``, one gateway
process, in one run.

Run from the repository root, with the services up and ``wrk`` installed::

    python -m benchmarks.dropin_formats [--seconds 4] [--connections 64] [--rounds 8]

Each format sends the same 100 page views per request (Segment ``/v1/batch`` of ``page``
calls, PostHog ``/batch/``, Mixpanel ``/import``), each message with its client's id, and
native sends them as our SDKs do, each with its ``insertId`` (the baseline); native without
insert ids (the ingest benchmark's body) runs too, for reference. Through wrk, closed
loop, only 200s counted; the formats take turns for ``--rounds`` rounds, native first in
each. It prints per format its events/s and ratio to native over all rounds, the median
over the rounds of its ratio to native in the same round (the verdict: target at least
0.8; a slow spell of a shared machine, which moves one round by a third, moves both runs
of a round's pair), and the same ratio per core: native's gateway CPU per event over the
format's, from the gateway's own CPU time during its runs.

Then where a format's extra time goes, in this process (CPU per event, over
``COST_ROUNDS`` requests): each format's translation of the same body beside native's JSON
parse. Segment's and Mixpanel's bodies carry no session id: their events go out with
``$derive`` and the stream workers derive their sessions (decision 0023), so the gateway
spends nothing on them.
"""

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from benchmarks.ingest_gateway import Setup, bench_setup
from benchmarks.loads import WrkResult, batch_body, run_wrk, sample_events, write_wrk_script
from benchmarks.stack import (
    BATCH_SIZE,
    WARMUP_SECONDS,
    Options,
    parse_options,
    read_services,
)
from ingest_gateway.dropin.formats import FORMATS
from ingest_gateway.dropin.wire import WireRequest

TARGET_RATIO = 0.8
NATIVE = "native POST /"
WITHOUT_IDS = "native, no insertId"
COST_ROUNDS = 300


def native_body() -> bytes:
    """Our own ``POST /`` batch as our SDKs send it: every event with its ``insertId`` (32 hex
    digits), as every product's client gives each message its id (``messageId``, ``uuid``,
    ``$insert_id``), so the formats are compared on the same events, each deduplicated."""
    return orjson.dumps(
        [{**event, "insertId": secrets.token_hex(16)} for event in sample_events(BATCH_SIZE)]
    )


def segment_body(key: str) -> bytes:
    batch = [
        {
            "type": "page",
            "name": "Pricing",
            "anonymousId": event["distinctId"],
            "messageId": f"msg-{i}",
            "timestamp": event["timestamp"],
            "properties": {
                "path": event["properties"]["$pathname"],
                "referrer": event["properties"]["$referrer"],
                **{k: v for k, v in event["properties"].items() if not k.startswith("$")},
            },
            "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
        }
        for i, event in enumerate(sample_events(BATCH_SIZE))
    ]
    return orjson.dumps({"batch": batch, "writeKey": key})


def posthog_body(key: str) -> bytes:
    batch = [
        {
            "event": "$pageview",
            "distinct_id": event["distinctId"],
            "uuid": f"0190c6a0-0000-7000-8000-{i:012d}",
            "timestamp": event["timestamp"],
            "properties": {**event["properties"], "$session_id": event["sessionId"]},
        }
        for i, event in enumerate(sample_events(BATCH_SIZE))
    ]
    return orjson.dumps({"api_key": key, "batch": batch})


def mixpanel_body(key: str) -> bytes:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    batch = [
        {
            "event": "$pageview",
            "properties": {
                **event["properties"],
                "token": key,
                "distinct_id": event["distinctId"],
                "time": now_ms,
                "$insert_id": f"ins-{i}",
            },
        }
        for i, event in enumerate(sample_events(BATCH_SIZE))
    ]
    return orjson.dumps(batch)


def formats(key: str) -> list[tuple[str, str, bytes, str | None]]:
    """``(name, path, body, X-API-Key)`` per format, native first (the baseline); then
    native without insert ids (the ingest benchmark's body), for reference."""
    return [
        (NATIVE, "/", native_body(), key),
        (WITHOUT_IDS, "/", batch_body(), key),
        ("Segment /v1/batch", "/v1/batch", segment_body(key), None),
        ("PostHog /batch/", "/batch/", posthog_body(key), None),
        ("Mixpanel /import", "/import", mixpanel_body(key), None),
    ]


@dataclass
class Total:
    """One format's runs summed over the rounds, and each round's throughput."""

    ok: int = 0  # requests answered 200
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the gateway process's
    statuses: dict[int, int] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)  # events/s, per round

    def add(self, result: WrkResult) -> None:
        self.rates.append(result.ok_per_second * BATCH_SIZE)
        self.ok += result.ok
        self.seconds += result.seconds
        self.cpu_seconds += result.cpu.process_percent / 100 * result.seconds
        for status, count in result.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count

    @property
    def rate(self) -> float:
        return self.ok * BATCH_SIZE / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_seconds / (self.ok * BATCH_SIZE) * 1e6 if self.ok else float("nan")


async def measure(setup: Setup, rounds: int) -> dict[str, Total]:
    """Per format: its runs summed over the rounds."""
    gateway, options = setup.gateway, setup.options
    scripts = [
        (name, write_wrk_script(setup.scripts, f"f{i}", body, key, path))
        for i, (name, path, body, key) in enumerate(formats(setup.api_key))
    ]
    for _, script in scripts:  # each format's path warmed up (and checked to answer 200)
        warm = await run_wrk(gateway.url, script, WARMUP_SECONDS, options, gateway.pid)
        if not warm.ok:
            raise RuntimeError(f"{script.name}: no 200 in the warm-up: {warm.statuses}")
    totals = {name: Total() for name, _ in scripts}
    for round_ in range(rounds):
        for name, script in scripts:
            result = await run_wrk(gateway.url, script, options.seconds, options, gateway.pid)
            totals[name].add(result)
            print(
                f"round {round_ + 1} {name:<20} {result.ok_per_second * BATCH_SIZE:>10,.0f} ev/s"
                f"  gateway {result.cpu.process_percent:4.0f}% of a core"
                f"  (statuses {dict(sorted(result.statuses.items()))})"
            )
    return totals


def verdict(ratio: float) -> str:
    return f">= {TARGET_RATIO} " + ("PASS" if ratio >= TARGET_RATIO else "MISS")


def print_summary(totals: dict[str, Total], options: Options) -> None:
    """Each format's throughput as a ratio of native's, and the same per core: native's
    gateway CPU per event over the format's (what one process reaches when it has its core
    to itself: steadier on a shared machine, whose other load moves the first)."""
    native = totals[NATIVE]
    print(
        f"\n== summary: one gateway process, {BATCH_SIZE} events per request, wrk "
        f"-t{options.threads} -c{options.connections}, {options.seconds}s x rounds per format"
    )
    print(
        f"   {'format':<20} {'ev/s':>10}  {'/ native':>8}  {'round median':>12}  target        "
        f"{'gateway CPU/event':>17}  {'per core / native':>17}  target"
    )
    for name, total in totals.items():
        ratio = total.rate / native.rate if native.rate else 0.0
        paired = round_median(total, native)
        per_core = native.cpu_us_per_event / total.cpu_us_per_event
        reference = name in (NATIVE, WITHOUT_IDS)
        first, second = ("-", "-") if reference else (verdict(paired), verdict(per_core))
        print(
            f"   {name:<20} {total.rate:>10,.0f}  {ratio:>8.2f}  {paired:>12.2f}  {first:<12}  "
            f"{total.cpu_us_per_event:>14.1f} µs  {per_core:>17.2f}  {second}"
        )


def round_median(total: Total, native: Total) -> float:
    """The median over the rounds of the format's throughput over native's in the same
    round (the two ran back to back): a slow spell of the machine moves a round's pair
    together, where it moves the sums by whichever runs it hit."""
    ratios = [rate / base for rate, base in zip(total.rates, native.rates, strict=True) if base]
    return statistics.median(ratios) if ratios else 0.0


def cpu_per_event(work: Callable[[], object], events: int) -> float:
    """µs of this process's CPU per event for ``work`` (one request's worth), warmed up."""
    work()
    started = time.process_time()
    for _ in range(COST_ROUNDS):
        work()
    return (time.process_time() - started) / COST_ROUNDS / events * 1e6


def print_costs() -> None:
    key = "pk_live_" + secrets.token_urlsafe(24)
    native = native_body()
    print("\n== where the time goes, in this process (CPU per event)")
    parse = cpu_per_event(lambda: orjson.loads(native), BATCH_SIZE)
    print(f"   {'native: JSON parse':<32} {parse:6.1f} µs")
    bodies = {
        "segment": segment_body(key),
        "posthog": posthog_body(key),
        "mixpanel": mixpanel_body(key),
    }
    paths = {"segment": "/v1/batch", "posthog": "/batch/", "mixpanel": "/import"}
    for wire_format in FORMATS:
        request = WireRequest(paths[wire_format.name], bodies[wire_format.name], "application/json")
        cost = cpu_per_event(lambda f=wire_format, r=request: f.translate(r), BATCH_SIZE)
        events = wire_format.translate(request).events
        missing = sum("sessionId" not in event for event in events)
        label = f"{wire_format.name}: parse and translate"
        derived = f"  ({missing} of {len(events)} with no session id: $derive)" if missing else ""
        print(f"   {label:<32} {cost:6.1f} µs{derived}")


async def run(options: Options, rounds: int) -> None:
    services = read_services()
    async with bench_setup(services, options) as setup:
        totals = await measure(setup, rounds)
    print_costs()
    print_summary(totals, options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--rounds", type=int, default=8)
    known, rest = parser.parse_known_args(argv)
    asyncio.run(run(parse_options(rest), known.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
