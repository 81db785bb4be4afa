"""The delivery engine without a server: requests in flight, Retry-After, what is never
retried, and what happens to requests abandoned at close."""

import asyncio
import json

from realanalytics_sdk import AsyncClient
from realanalytics_sdk.client import DEFAULT_CONCURRENCY
from realanalytics_sdk.transport import Answer

RATE_LIMITED = Answer(429, b'{"error": "Rate limit exceeded"}', "0.3")
OK = Answer(200, b'{"success": true}')


class ScriptedTransport:
    """Answers from a script (then 200) after ``delay`` seconds; records what it saw."""

    def __init__(self, answers: list[Answer] | None = None, delay: float = 0.0) -> None:
        self.answers = list(answers or [])
        self.delay = delay
        self.started: list[float] = []
        self.bodies: list[bytes] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.sent_one = asyncio.Event()

    async def send(self, body: bytes) -> Answer:
        self.sent_one.set()
        self.started.append(asyncio.get_running_loop().time())
        self.bodies.append(body)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        return self.answers.pop(0) if self.answers else OK

    async def close(self) -> None:
        pass


def client_with(transport: ScriptedTransport, **options: object) -> AsyncClient:
    return AsyncClient(
        "pk_test", "http://127.0.0.1:1", transport_factory=lambda: transport, **options
    )  # type: ignore[arg-type]


async def test_requests_in_flight_grow_only_while_full_batches_wait() -> None:
    transport = ScriptedTransport(delay=0.05)
    async with client_with(transport, flush_interval=60) as client:
        for round_ in range(3):  # a quiet producer: one batch at a time
            for i in range(100):
                client.track("e", "u", {"round": round_, "i": i})
            await client.flush()
        assert transport.most_in_flight == 1
        for i in range(100 * (DEFAULT_CONCURRENCY + 4)):  # a backlog
            client.track("e", "u", {"i": i})
        await client.flush()
        assert transport.most_in_flight == DEFAULT_CONCURRENCY
        assert client.stats().sent == 100 * (DEFAULT_CONCURRENCY + 7)


async def test_a_retry_after_holds_back_every_request_not_only_the_refused_one() -> None:
    transport = ScriptedTransport([RATE_LIMITED])
    async with client_with(transport, flush_interval=60) as client:
        for i in range(100):
            client.track("e", "u", {"batch": 1, "i": i})
        await transport.sent_one.wait()  # the first batch has gone out (and gets a 429)
        await asyncio.sleep(0.01)
        for i in range(100):
            client.track("e", "u", {"batch": 2, "i": i})
        await client.flush()
        assert client.stats().sent == 200
    first, *others = transport.started
    assert len(others) == 2 and all(at >= first + 0.3 for at in others)
    assert transport.bodies[0] in transport.bodies[1:]  # the refused batch, resent as it was


async def test_a_400_is_never_retried_and_on_error_gets_the_events() -> None:
    given_up: list[tuple[str, object]] = []
    transport = ScriptedTransport([Answer(400, b'{"error": "Validation failed", "details": []}')])
    async with client_with(
        transport,
        flush_interval=60,
        on_error=lambda message, events: given_up.append((message, events)),
    ) as client:
        client.track("e", "u", {"i": 1}, insert_id="fixed")
        await client.flush()
        assert client.stats().discarded == 1 and client.stats().sent == 0
    assert len(transport.bodies) == 1
    assert given_up[0][1] == [json.loads(transport.bodies[0])[0]]
    assert given_up[0][1][0]["insertId"] == "fixed"  # type: ignore[index]


async def test_requests_abandoned_at_close_count_as_discarded() -> None:
    transport = ScriptedTransport(delay=30)  # the gateway "hangs"
    client = client_with(transport, batch_size=10, flush_interval=60)
    await client.start()
    for i in range(50):
        client.track("e", "u", {"i": i})
    await client.aclose(grace=0.2)
    stats = client.stats()
    assert stats.discarded == 50 and stats.sent == 0 and stats.queued == 0
    assert client.track("e", "u") is False
