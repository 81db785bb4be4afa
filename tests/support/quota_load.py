"""Senders that fill a project's monthly limit through real gateways, counting what was
answered: the load of the quota exactness test and of ``benchmarks.quota_exactness``."""

import asyncio
import random
import re
from datetime import UTC, datetime
from typing import Any

import aiohttp


class Load:
    """``senders`` connections posting batches of 1 to ``max_batch`` events, spread over
    ``urls``, each until the limit refuses it three times in a row (or ``stop`` is set)."""

    def __init__(self, urls: list[str], key: str, limit: int, max_batch: int = 100) -> None:
        self.urls, self.key, self.limit, self.max_batch = urls, key, limit, max_batch
        self.answered = 0  # events answered 200
        self.requests = 0
        self.refused = 0  # requests answered 429 EVENT_LIMIT_EXCEEDED
        self.other: list[int] = []  # any other status: a failure of the run
        self._next = 0
        self._timestamp = datetime.now(UTC).isoformat()

    def _batch(self, rng: random.Random) -> list[dict[str, Any]]:
        size = rng.randint(1, self.max_batch)
        first, self._next = self._next, self._next + size
        return [
            {
                "event": "e",
                "timestamp": self._timestamp,
                "distinctId": f"u{n % 500}",
                "sessionId": f"s{n % 500}",
                "properties": {},
                "insertId": f"i{n}",
            }
            for n in range(first, first + size)
        ]

    async def _sender(self, session: aiohttp.ClientSession, n: int, stop: asyncio.Event) -> None:
        rng = random.Random(n)
        refusals_in_a_row = 0
        while refusals_in_a_row < 3 and not stop.is_set():
            batch = self._batch(rng)
            url = self.urls[n % len(self.urls)]
            async with session.post(url, json=batch, headers={"X-API-Key": self.key}) as r:
                body = await r.json()
            self.requests += 1
            if r.status == 200:
                assert body == {"success": True, "events": len(batch)}
                self.answered += len(batch)
                refusals_in_a_row = 0
            elif r.status == 429:
                assert body["code"] == "EVENT_LIMIT_EXCEEDED" and body["limit"] == self.limit
                assert body["remaining"] == max(0, self.limit - body["used"])
                self.refused += 1
                refusals_in_a_row += 1
            else:
                self.other.append(r.status)
                return

    async def run(self, senders: int, stop: asyncio.Event | None = None) -> None:
        done = stop or asyncio.Event()
        connector = aiohttp.TCPConnector(limit=senders)
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(self._sender(session, n, done) for n in range(senders)))


async def unreserved(urls: list[str]) -> int:
    """Events the gateways answered 200 without a reservation (Redis down), from /metrics."""
    pattern = re.compile(r"^ingest_unreserved_events_total\{.*\} (\S+)$", re.M)
    total = 0.0
    async with aiohttp.ClientSession() as session:
        for url in urls:
            async with session.get(f"{url}/metrics") as response:
                total += sum(float(v) for v in pattern.findall(await response.text()))
    return int(total)
