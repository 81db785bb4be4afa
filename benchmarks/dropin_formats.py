"""Throughput of the drop-in formats (issue 19) next to our own ``POST /``, one gateway
process, in one run.

Run from the repository root, with the services up and ``wrk`` installed::

    python -m benchmarks.dropin_formats [--seconds 2] [--connections 64] [--rounds 12]
    python -m benchmarks.dropin_formats --costs-only   # the in-process part alone

Each format sends the same 100 page views per request (Segment ``/v1/batch`` of ``page``
calls, PostHog ``/batch/``, Mixpanel ``/import``), each message with its client's id, and
native sends them as our SDKs do, each with its ``insertId`` (the baseline); native without
insert ids (the ingest benchmark's body) runs too, for reference. Through wrk, closed
loop, only 200s counted. In each of ``--rounds`` rounds every format runs in a pair with a
run of native right beside it, native first in even rounds and second in odd ones. It
prints per format its events/s and ratio to native over all runs, the median over the
rounds of its ratio to native in its pair (the verdict: target at least 0.8; a slow spell
of a shared machine, which moves one run by a third, moves both runs of a pair, and
neither side always runs first), and the same ratio per core: native's gateway CPU per
event over the format's, from the gateway's own CPU time during its runs.

Then where a format's extra time goes, in this process (CPU per event, the least of
``COST_PASSES`` passes): each format's parse and translation of the same body beside
native's JSON parse, and the whole request before the append (that, validation and the
records) beside native's, with the difference. Segment's and Mixpanel's bodies carry no
session id: their events go out with ``$derive`` and the stream workers derive their
sessions (decision 0023), so the gateway spends nothing on them.
"""

import argparse
import asyncio
import functools
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
from ingest_gateway.dropin.wire import Translated, WireRequest, mark_sessionless
from ingest_gateway.records import build_records
from ingest_gateway.validation import parse_payload, validate_events

TARGET_RATIO = 0.8
NATIVE = "native POST /"
WITHOUT_IDS = "native, no insertId"
COST_ROUNDS = 600
COST_PASSES = 15


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
    """One format's runs summed over the rounds, and its ratio to native in each pair."""

    ok: int = 0  # requests answered 200
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the gateway process's
    statuses: dict[int, int] = field(default_factory=dict)
    pair_ratios: list[float] = field(default_factory=list)  # / native's run beside it

    def add(self, result: WrkResult) -> None:
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


def pair_order(round_: int, name: str) -> tuple[str, str]:
    """Which of a pair runs first: native in even rounds, the format in odd ones, so that
    neither always runs first (a machine's drift, or the broker's cost of what ran just
    before, falls on both sides alike)."""
    return (NATIVE, name) if round_ % 2 == 0 else (name, NATIVE)


async def measure(setup: Setup, rounds: int) -> dict[str, Total]:
    """Per format: its runs summed over the rounds, each run paired with a run of native
    right beside it."""
    gateway, options = setup.gateway, setup.options
    scripts = {
        name: write_wrk_script(setup.scripts, f"f{i}", body, key, path)
        for i, (name, path, body, key) in enumerate(formats(setup.api_key))
    }
    for script in scripts.values():  # each format's path warmed up (and checked to answer 200)
        warm = await run_wrk(gateway.url, script, WARMUP_SECONDS, options, gateway.pid)
        if not warm.ok:
            raise RuntimeError(f"{script.name}: no 200 in the warm-up: {warm.statuses}")
    totals = {name: Total() for name in scripts}
    for round_ in range(rounds):
        for name in list(scripts)[1:]:
            rates: dict[str, float] = {}
            for runner in pair_order(round_, name):
                result = await run_wrk(
                    gateway.url, scripts[runner], options.seconds, options, gateway.pid
                )
                totals[runner].add(result)
                rates[runner] = result.ok_per_second * BATCH_SIZE
                print(
                    f"round {round_ + 1} {runner:<20} {rates[runner]:>10,.0f} ev/s"
                    f"  gateway {result.cpu.process_percent:4.0f}% of a core"
                    f"  (statuses {dict(sorted(result.statuses.items()))})"
                )
            if rates[NATIVE]:
                totals[name].pair_ratios.append(rates[name] / rates[NATIVE])
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
        f"-t{options.threads} -c{options.connections}, {options.seconds}s runs beside native"
    )
    print(
        f"   {'format':<20} {'ev/s':>10}  {'/ native':>8}  {'pair median':>12}  target        "
        f"{'gateway CPU/event':>17}  {'per core / native':>17}  target"
    )
    for name, total in totals.items():
        ratio = total.rate / native.rate if native.rate else 0.0
        paired = pair_median(total)
        per_core = native.cpu_us_per_event / total.cpu_us_per_event
        reference = name in (NATIVE, WITHOUT_IDS)
        first, second = ("-", "-") if reference else (verdict(paired), verdict(per_core))
        print(
            f"   {name:<20} {total.rate:>10,.0f}  {ratio:>8.2f}  {paired:>12.2f}  {first:<12}  "
            f"{total.cpu_us_per_event:>14.1f} µs  {per_core:>17.2f}  {second}"
        )


def pair_median(total: Total) -> float:
    """The median over the rounds of the format's throughput over native's in the same
    pair (the two ran back to back): a slow spell of the machine moves a pair together,
    where it moves the sums by whichever runs it hit."""
    return statistics.median(total.pair_ratios) if total.pair_ratios else 1.0


def cpu_per_event(works: dict[str, Callable[[], object]], events: int) -> dict[str, float]:
    """µs of this process's CPU per event for each work (one request's worth), warmed up:
    the least of ``COST_PASSES`` passes, the works taking turns in each (a slow spell of
    the machine, which only ever adds, then hits them all)."""
    best = {name: float("inf") for name in works}
    for work in works.values():
        work()
    for _ in range(COST_PASSES):
        for name, work in works.items():
            started = time.process_time()
            for _ in range(COST_ROUNDS // COST_PASSES):
                work()
            spent = (time.process_time() - started) / (COST_ROUNDS // COST_PASSES)
            best[name] = min(best[name], spent / events * 1e6)
    return best


def whole_request(
    translate: Callable[[], Translated], drop_in: bool = True
) -> Callable[[], object]:
    """What the gateway does with a request's body before the append: the format's
    translation (or native's parse), validation, and the records."""
    context = {"userAgent": "analytics-python/2.4.0", "ip": "127.0.0.1"}

    def work() -> object:
        translated = translate()
        if drop_in:
            mark_sessionless(translated.events)
        events = validate_events(translated.events, translated.may_hold_nul, translated.max_events)
        own = translated.contexts or None
        return build_records("p", events, datetime.now(UTC), context, own_contexts=own)

    return work


def native_translation(body: bytes) -> Translated:
    payload = parse_payload(body)
    return Translated(
        payload.api_key, payload.events, payload.max_events, may_hold_nul=payload.may_hold_nul
    )


def print_costs() -> None:
    key = "pk_live_" + secrets.token_urlsafe(24)
    native = native_body()
    bodies = {
        "segment": segment_body(key),
        "posthog": posthog_body(key),
        "mixpanel": mixpanel_body(key),
    }
    paths = {"segment": "/v1/batch", "posthog": "/batch/", "mixpanel": "/import"}
    parsed = functools.partial(native_translation, native)
    works: dict[str, Callable[[], object]] = {
        "native": lambda: orjson.loads(native),
        "native whole": whole_request(parsed, drop_in=False),
    }
    derived: dict[str, str] = {}
    for wire_format in FORMATS:
        request = WireRequest(paths[wire_format.name], bodies[wire_format.name], "application/json")
        translate = functools.partial(wire_format.translate, request)
        works[wire_format.name] = translate
        works[wire_format.name + " whole"] = whole_request(translate)
        events = translate().events
        missing = sum("sessionId" not in event for event in events)
        derived[wire_format.name] = (
            f"  ({missing} of {len(events)} with no session id: $derive)" if missing else ""
        )
    costs = cpu_per_event(works, BATCH_SIZE)
    print("\n== where the time goes, in this process (CPU per event, the least of passes)")
    base = costs["native whole"]
    print(f"   {'native: JSON parse':<32} {costs['native']:6.1f} µs   whole request {base:6.1f} µs")
    for wire_format in FORMATS:
        name = wire_format.name
        label = f"{name}: parse and translate"
        whole = costs[name + " whole"]
        print(
            f"   {label:<32} {costs[name]:6.1f} µs   whole request {whole:6.1f} µs"
            f" (+{whole - base:.1f} µs){derived[name]}"
        )


async def run(options: Options, rounds: int) -> None:
    services = read_services()
    async with bench_setup(services, options) as setup:
        totals = await measure(setup, rounds)
    print_costs()
    print_summary(totals, options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--costs-only", action="store_true", help="in-process costs, no stack")
    known, rest = parser.parse_known_args(argv)
    if known.costs_only:
        print_costs()
    else:
        asyncio.run(run(parse_options(rest), known.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
