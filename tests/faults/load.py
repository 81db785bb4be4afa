"""The steady load a fault runs under: senders posting batches of new events with known
insertIds (several users, so every partition gets some; timestamps spread over the last
three hours), each batch resent unchanged until it is answered 200, every answer kept."""

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

# The load's own user agent: the workers enrich each event from it (a browser's, so the
# truth's breakdowns by $browser, $os and $deviceType have values to match).
LOAD_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0.0.0 Safari/537.36"
)

USERS = 300
HOURS = 3
EVENTS = ("$pageview", "signup")
PATHS = ("/", "/pricing", "/docs", "/blog")
RESEND_PAUSE = 0.25  # seconds between tries of a refused batch: fine enough to time recovery
FINISH_SECONDS = 120.0  # how long a batch in hand may keep being resent once the load stops


@dataclass(frozen=True)
class Answer:
    """One try of one batch (``time.monotonic()`` clock; status 0: no HTTP answer)."""

    batch: int
    sent_at: float
    answered_at: float
    status: int
    code: str | None
    retry_after: str | None


@dataclass
class Load:
    url: str
    api_key: str
    senders: int = 3
    batch_size: int = 20
    pause: float = 0.05  # between a sender's batches: a steady, modest rate on 2 cores
    seed: int = 16
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # insertId -> body
    batches: list[list[str]] = field(default_factory=list)  # insertIds of each batch
    answers: list[Answer] = field(default_factory=list)
    acknowledged: dict[int, float] = field(default_factory=dict)  # batch -> time of its 200
    unfinished: list[int] = field(default_factory=list)  # batches never answered 200
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def new_batch(self, rng: random.Random) -> int:
        now = datetime.now(UTC).replace(microsecond=0)
        ids = []
        for _ in range(self.batch_size):
            n = next(self._numbers)
            user = rng.randrange(USERS)
            properties: dict[str, Any] = {"$pathname": rng.choice(PATHS)}
            if rng.random() < 0.5:
                properties["$browser"] = rng.choice(["Chrome", "Firefox", "Safari"])
            insert_id = f"f{self.seed}-{n}"
            self.events[insert_id] = {
                "event": rng.choice(EVENTS),
                "timestamp": (now - timedelta(seconds=rng.randrange(HOURS * 3600)))
                .isoformat()
                .replace("+00:00", "Z"),
                "distinctId": f"u{user}",
                "sessionId": f"s{user}-{rng.randrange(3)}",
                "properties": properties,
                "insertId": insert_id,
            }
            ids.append(insert_id)
        self.batches.append(ids)
        return len(self.batches) - 1

    async def send(self, session: aiohttp.ClientSession, batch: int) -> Answer:
        body = [self.events[i] for i in self.batches[batch]]
        sent_at = time.monotonic()
        try:
            async with session.post(
                self.url, json=body, headers={"X-API-Key": self.api_key}
            ) as response:
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = None
                code = payload.get("code") if isinstance(payload, dict) else None
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError):
            status, code, retry_after = 0, None, None
        answer = Answer(batch, sent_at, time.monotonic(), status, code, retry_after)
        self.answers.append(answer)
        return answer

    async def sender(self, n: int, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        rng = random.Random(self.seed * 1000 + n)
        while not stop.is_set():
            batch = self.new_batch(rng)
            finish_by: float | None = None
            while (await self.send(session, batch)).status != 200:
                if stop.is_set():
                    finish_by = finish_by or time.monotonic() + FINISH_SECONDS
                    if time.monotonic() > finish_by:
                        self.unfinished.append(batch)
                        return
                await asyncio.sleep(RESEND_PAUSE)  # resent unchanged, as a client must
            self.acknowledged[batch] = time.monotonic()
            await asyncio.sleep(self.pause)

    # --- what the answers say ---------------------------------------------------------

    def acknowledged_ids(self) -> list[str]:
        return [i for batch in self.acknowledged for i in self.batches[batch]]

    def answered_200(self) -> int:
        return len(self.acknowledged) * self.batch_size

    def failures(self) -> list[Answer]:
        return [a for a in self.answers if a.status != 200]

    def first_200_sent_after(self, moment: float) -> float | None:
        """When the first request sent after ``moment`` was answered 200."""
        return min(
            (a.answered_at for a in self.answers if a.status == 200 and a.sent_at >= moment),
            default=None,
        )

    async def until_acknowledged(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.answered_200() < count:
            if time.monotonic() > deadline:
                statuses = sorted({a.status for a in self.answers})
                raise AssertionError(
                    f"{self.answered_200()} of {count} events answered 200 "
                    f"within {timeout}s (statuses {statuses})"
                )
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running(load: Load) -> AsyncIterator[Load]:
    """The load's senders run for the body of the ``async with``; on the way out each
    finishes the batch in hand (resending it until 200, within ``FINISH_SECONDS``)."""
    stop = asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=30)
    headers = {"User-Agent": LOAD_AGENT}
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        tasks = [asyncio.create_task(load.sender(n, session, stop)) for n in range(load.senders)]
        try:
            yield load
        finally:
            stop.set()
            await asyncio.gather(*tasks)
