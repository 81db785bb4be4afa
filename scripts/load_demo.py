"""Sends a small, realistic load for the demo project through the ingest gateway, so the
dashboard's charts are not empty: visitors over the last 7 days (more by day than by
night, a few in the last hour), page views, sign-ups and purchases.

Reads the gateway's URL and the public key from .local/demo.env (scripts/demo_project.py).
insertIds are derived from the seed (by default today's date), so running it again the
same day adds nothing: the workers count a repeated insertId once.

    python scripts/load_demo.py [--visitors 400] [--seed 2026-02-03]
"""

import argparse
import asyncio
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

DEMO_ENV = Path(".local/demo.env")
BATCH = 100
PATHS = (
    ("/", 30),
    ("/pricing", 18),
    ("/docs", 14),
    ("/docs/quickstart", 10),
    ("/blog/launch", 8),
    ("/blog/funnels", 5),
    ("/changelog", 4),
    ("/about", 3),
)
REFERRERS = ("", "", "https://news.ycombinator.com/", "https://www.google.com/", "https://x.com/")
BROWSERS = (("Chrome", 60), ("Safari", 22), ("Firefox", 12), ("Edge", 6))
COUNTRIES = (("US", 40), ("DE", 15), ("GB", 12), ("FR", 9), ("IN", 9), ("BR", 8), ("JP", 7))
PLANS = (("free", 60), ("pro", 32), ("enterprise", 8))


def pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def visit_start(rng: random.Random, now: datetime) -> datetime:
    """A moment in the last 7 days, daytime more likely; a few in the last hour."""
    if rng.random() < 0.03:
        return now - timedelta(seconds=rng.uniform(30, 3600))
    while True:
        at = now - timedelta(seconds=rng.uniform(3600, 7 * 86400))
        if rng.random() < (0.25 if at.hour < 7 else 1.0):
            return at


def visitor_events(rng: random.Random, now: datetime, who: int, seed: str) -> list[dict[str, Any]]:
    user, session = f"demo-{seed}-{who}", f"s-{seed}-{who}"
    common = {
        "$browser": pick(rng, BROWSERS),
        "$country": pick(rng, COUNTRIES),
        "$referrer": rng.choice(REFERRERS),
    }
    at = visit_start(rng, now)
    events: list[dict[str, Any]] = []

    def add(event: str, properties: dict[str, Any]) -> None:
        n = len(events)
        events.append(
            {
                "event": event,
                "timestamp": min(at, now).isoformat().replace("+00:00", "Z"),
                "distinctId": user,
                "sessionId": session,
                "properties": {**common, **properties},
                "insertId": f"{user}-{n}",
            }
        )

    for _ in range(rng.choices((1, 2, 3, 4, 6), (30, 25, 20, 15, 10))[0]):
        add("$pageview", {"$pathname": pick(rng, PATHS)})
        at += timedelta(seconds=rng.uniform(5, 120))
    if rng.random() < 0.35:
        plan = pick(rng, PLANS)
        add("signup", {"$pathname": "/signup", "plan": plan})
        at += timedelta(seconds=rng.uniform(30, 1800))
        if rng.random() < 0.4:
            amount = {"free": 0, "pro": 49, "enterprise": 499}[plan]
            add("purchase", {"$pathname": "/checkout", "plan": plan, "amount": amount})
    return events


async def send(url: str, key: str, events: list[dict[str, Any]]) -> int:
    sent = 0
    async with aiohttp.ClientSession(headers={"X-API-Key": key}) as http:
        for start in range(0, len(events), BATCH):
            batch = events[start : start + BATCH]
            for attempt in range(5):
                async with http.post(url, json=batch) as response:
                    if response.status == 200:
                        sent += len(batch)
                        break
                    body = await response.text()
                    if response.status not in (429, 503) or attempt == 4:
                        raise RuntimeError(f"gateway answered {response.status}: {body}")
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    return sent


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=400)
    parser.add_argument("--seed", default=datetime.now(UTC).date().isoformat())
    args = parser.parse_args()
    if not DEMO_ENV.exists():
        sys.exit(f"no {DEMO_ENV}: run scripts/demo_project.py first (make run does)")
    env = read_env(DEMO_ENV)
    rng = random.Random(args.seed)  # noqa: S311 - demo data, not secrets
    now = datetime.now(UTC)
    events = [e for who in range(args.visitors) for e in visitor_events(rng, now, who, args.seed)]
    sent = asyncio.run(send(env["RA_INGEST_URL"], env["RA_PK"], events))
    print(f"load_demo: sent {sent} events from {args.visitors} visitors to {env['RA_INGEST_URL']}")


if __name__ == "__main__":
    main()
