"""The threaded Client's queue without a server: the full-queue policy, flush, close."""

import asyncio
import gzip
import json
import os
import time

import pytest
from realanalytics_sdk import Client
from realanalytics_sdk.transport import Answer


class Gate:
    """Opened by the test's thread; awaited on the client's loop."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def wait(self) -> None:
        self._loop = asyncio.get_running_loop()
        async with asyncio.timeout(10):
            await self._event.wait()

    def open(self) -> None:
        if self._loop is None:
            self._event.set()
        else:
            self._loop.call_soon_threadsafe(self._event.set)


class GatedTransport:
    """Answers 200 once the test opens the gate; records the batch sizes it was sent."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.sizes: list[int] = []

    async def send(self, body: bytes) -> Answer:
        await self.gate.wait()
        self.sizes.append(body.count(b'"insertId"'))
        return Answer(200, b'{"success": true}')

    async def close(self) -> None:
        pass


def test_a_full_queue_drops_the_newest_events_and_counts_them() -> None:
    gate = Gate()
    transports: list[GatedTransport] = []

    def factory() -> GatedTransport:
        transports.append(GatedTransport(gate))
        return transports[-1]

    client = Client(
        "pk_test",
        "http://127.0.0.1:1",
        max_queue_size=5,
        flush_interval=60,
        concurrency=1,
        transport_factory=factory,
    )
    taken = [client.track("e", "u", {"i": i}) for i in range(7)]
    assert taken == [True] * 5 + [False] * 2
    assert client.stats().dropped == 2 and client.stats().queued == 5
    gate.open()
    assert client.flush(5)
    client.close(5)
    assert transports[0].sizes == [5]
    assert client.stats().sent == 5
    assert client.track("e", "u") is False  # closed


def test_close_gives_up_after_its_timeout_and_counts_the_rest() -> None:
    gate = Gate()  # never opened: the gateway "hangs"
    transport = GatedTransport(gate)
    client = Client(
        "pk_test",
        "http://127.0.0.1:1",
        batch_size=1,
        flush_interval=60,
        concurrency=1,
        transport_factory=lambda: transport,
    )
    for i in range(3):
        client.track("e", "u", {"i": i})
    started = time.monotonic()
    client.close(timeout=0.2)
    assert time.monotonic() - started < 2.0
    # The two still queued and the one in flight (its request abandoned).
    assert client.stats().discarded == 3 and client.stats().sent == 0
    assert client.track("e", "u") is False


def test_secret_keys_are_refused() -> None:
    try:
        Client("sk_live_abc", "http://127.0.0.1:1")
    except ValueError as exc:
        assert "public key" in str(exc)
    else:
        raise AssertionError("a secret key was accepted")


class CountingTransport:
    def __init__(self) -> None:
        self.events = 0

    async def send(self, body: bytes) -> Answer:
        self.events += body.count(b'"insertId"')
        return Answer(200, b'{"success": true}')

    async def close(self) -> None:
        pass


# Python 3.12+ warns about fork() in a threaded process; forking one is the point here.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_gets_sender_threads_and_a_queue_of_its_own() -> None:
    client = Client(
        "pk_test",
        "http://127.0.0.1:1",
        flush_interval=60,
        concurrency=1,
        transport_factory=CountingTransport,
    )
    for i in range(5):
        client.track("parent", "u", {"i": i})
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sent, then leave without pytest's teardown
        code = 1
        try:
            client.track("child", "u")
            client.track("child", "u")
            flushed = client.flush(5)
            os.write(write_end, f"{flushed} {client.stats().sent}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        report = reader.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report == "True 2"  # the child's own two, not the parent's five
    assert client.flush(5)
    assert client.stats().sent == 5
    client.close(5)


def test_flush_from_the_sender_thread_raises_instead_of_hanging() -> None:
    errors: list[BaseException] = []

    class Refusing(CountingTransport):
        async def send(self, body: bytes) -> Answer:
            return Answer(400, b'{"error": "Validation failed", "details": []}')

    def on_error(message: str, events: object) -> None:
        try:
            client.flush(1)
        except RuntimeError as exc:
            errors.append(exc)

    client = Client("pk_test", "http://127.0.0.1:1", on_error=on_error, transport_factory=Refusing)
    client.track("e", "u")
    assert client.flush(5)
    client.close(5)
    assert len(errors) == 1 and "sender thread" in str(errors[0])


class RecordingTransport:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def send(self, body: bytes) -> Answer:
        self.bodies.append(body)
        return Answer(200, b'{"success": true}')

    async def close(self) -> None:
        pass


def test_identify_and_alias_send_the_merge_the_workers_apply() -> None:
    transport = RecordingTransport()
    client = Client(
        "pk_test", "http://127.0.0.1:1", flush_interval=60, transport_factory=lambda: transport
    )
    assert client.identify("user_1", "anon_1", {"plan": "pro"})
    assert client.alias("backend_7", "user_1")
    with pytest.raises(ValueError):
        client.identify("user_1", "")
    assert client.flush(5)
    client.close(5)
    sent = [e for body in transport.bodies for e in json.loads(gzip_or_plain(body))]
    assert [(e["event"], e["distinctId"], e["properties"]) for e in sent] == [
        ("$identify", "user_1", {"plan": "pro", "$anonDistinctId": "anon_1"}),
        ("$identify", "user_1", {"$anonDistinctId": "backend_7"}),
    ]


def gzip_or_plain(body: bytes) -> bytes:
    return gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
