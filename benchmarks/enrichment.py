"""Per-event cost of the workers' enrichment (stream_workers/enrichment.py), in µs.

    python -m benchmarks.enrichment [--events 20000] [--agents 500]

Prints, in one run: enrichment of events whose user agents and addresses repeat
(``--agents`` and ``--addresses`` distinct ones, as real traffic does), first with the
caches cold, then warm (the steady state: the LRUs hit); enrichment with every agent new
(a parse and a crawler check each); and ua-parser's bare parse with
the native matcher (ua-parser-rs) and with the pure-Python one, to show what the native
package saves. Needs no service.
"""

import argparse
import os
import random
import time
from collections.abc import Callable

import ua_parser

from stream_workers.enrichment import Enricher, GeoDatabase

BASES = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel {v}) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_{v}) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
]
URLS = [
    "https://shop.example/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring",
    "https://shop.example/docs",
]
REFERRERS = ["https://www.google.com/", "", "https://news.ycombinator.com/"]


def agents(count: int, salt: str = "") -> list[str]:
    return [BASES[n % len(BASES)].format(v=n) + salt for n in range(count)]


def per_call(run: Callable[[int], object], count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        run(n)
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--addresses", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(7)
    started = time.perf_counter()
    enricher = Enricher(GeoDatabase())
    load = time.perf_counter() - started
    pool = agents(args.agents)
    addresses = [f"{rng.randrange(1, 223)}.{rng.randrange(256)}.1.1" for _ in range(args.addresses)]
    contexts = [
        {"userAgent": rng.choice(pool), "ip": rng.choice(addresses)} for _ in range(args.events)
    ]
    properties = [
        {"$url": rng.choice(URLS), "$referrer": rng.choice(REFERRERS), "$pathname": "/"}
        for _ in range(args.events)
    ]
    enrich = enricher.properties
    cold = per_call(lambda n: enrich(properties[n], contexts[n]), args.events)
    warm = per_call(lambda n: enrich(properties[n], contexts[n]), args.events)
    fresh_count = min(args.events, 2000)
    fresh = agents(fresh_count, salt=" fresh")
    new_agents = per_call(
        lambda n: enrich(properties[n], {"userAgent": fresh[n], "ip": "81.2.69.160"}),
        fresh_count,
    )
    native = ua_parser.Parser.from_matchers(ua_parser.load_lazy_builtins())
    pure = ua_parser.Parser(ua_parser.BasicResolver(ua_parser.load_builtins()))
    unseen = agents(fresh_count, salt=" bare")
    native_us = per_call(lambda n: native(unseen[n], ua_parser.Domain.ALL).complete(), fresh_count)
    pure_count = min(fresh_count, 300)  # ~1 ms each
    pure_us = per_call(lambda n: pure(unseen[n], ua_parser.Domain.ALL).complete(), pure_count)
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"tables loaded in {load:.2f} s (ua-parser, crawlerdetect, geolocation)")
    mix = f"{args.events} events, {args.agents} agents, {args.addresses} addresses"
    print(f"enrichment, {mix}, caches cold: {cold:8.1f} µs/event")
    print(f"enrichment, {mix}, caches warm: {warm:8.1f} µs/event")
    print(f"enrichment, every agent new:           {new_agents:8.1f} µs/event")
    print(f"bare ua-parser parse, native (rs):     {native_us:8.1f} µs/agent")
    print(f"bare ua-parser parse, pure Python:     {pure_us:8.1f} µs/agent")


if __name__ == "__main__":
    main()
