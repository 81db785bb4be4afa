"""Readers beside the load: a query (query API) and a project list (control plane) sent
through the App API twice a second with the member's bearer token, every answer kept, so a
fault shows what a dashboard or the CLI met meanwhile."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from tests.faults.stack import Stack

INTERVAL = 0.5


@dataclass(frozen=True)
class Probe:
    kind: str  # "query" or "projects"
    sent_at: float
    answered_at: float
    status: int  # 0: no HTTP answer
    code: str | None
    retry_after: str | None


@dataclass
class Probes:
    answers: list[Probe] = field(default_factory=list)

    def between(self, start: float, end: float) -> list[Probe]:
        return [p for p in self.answers if p.sent_at >= start and p.answered_at <= end]

    def first_200_sent_after(self, moment: float) -> float | None:
        """When every kind had been answered 200 to a request sent after ``moment``."""
        firsts = [
            min(
                (p.answered_at for p in self.answers if p.kind == k and p.status == 200
                 and p.sent_at >= moment),
                default=None,
            )
            for k in ("query", "projects")
        ]  # fmt: skip
        return None if None in firsts else max(f for f in firsts if f is not None)


async def probe(session: aiohttp.ClientSession, stack: Stack, kind: str) -> Probe:
    headers = {"Authorization": f"Bearer {stack.token}"}
    now = datetime.now(UTC)
    document = {
        "type": "metric",
        "projectId": stack.project.id,
        "event": "$pageview",
        "dateRange": {
            "start": (now - timedelta(hours=4)).isoformat(),
            "end": now.isoformat(),
        },
    }
    sent_at = time.monotonic()
    try:
        if kind == "query":
            request = session.post(f"{stack.app.url}/api/query", json=document, headers=headers)
        else:
            request = session.get(f"{stack.app.url}/api/projects", headers=headers)
        async with request as response:
            body: Any = await response.json(content_type=None)
            status, retry_after = response.status, response.headers.get("Retry-After")
        code = body.get("code") if isinstance(body, dict) else None
    except (aiohttp.ClientError, TimeoutError, ValueError):
        status, code, retry_after = 0, None, None
    return Probe(kind, sent_at, time.monotonic(), status, code, retry_after)


@contextlib.asynccontextmanager
async def probing(stack: Stack) -> AsyncIterator[Probes]:
    probes = Probes()

    async def loop() -> None:
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                answers = await asyncio.gather(
                    probe(session, stack, "query"), probe(session, stack, "projects")
                )
                probes.answers.extend(answers)
                await asyncio.sleep(INTERVAL)

    task = asyncio.create_task(loop())
    try:
        yield probes
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
