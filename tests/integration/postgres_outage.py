"""A short PostgreSQL outage for the restart tests: ``scripts/services.sh stop postgres``,
then ``start postgres`` again whatever happens.

Other tests share this machine's PostgreSQL, so an outage is kept to a few seconds, it is
always ended in a ``finally``, and one test process at a time takes one (a file lock under
``.local/``): two overlapping outages would make each other's figures meaningless. Any
test session that starts meanwhile runs ``services.sh start`` and so may end an outage
early: ``Outage.held`` says whether it lasted, and the tests take another when it did not.
"""

import asyncio
import fcntl
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TextIO

from psycopg.conninfo import conninfo_to_dict

from tests.fixtures.services import Services

LOCK_WAIT_SECONDS = 300


@dataclass
class Outage:
    """When the database went away and came back (``time.monotonic()``)."""

    stopped_at: float = 0.0
    started_at: float = 0.0
    held: bool = False  # still down when the outage ended (nobody started it meanwhile)

    def since_back(self) -> float:
        return time.monotonic() - self.started_at


def services_script(services: Services, *args: str) -> None:
    subprocess.run(
        ["bash", str(services.repo_root / "scripts" / "services.sh"), *args],
        check=True,
        capture_output=True,
        timeout=120,
    )


def accepting(services: Services) -> bool:
    """Whether PostgreSQL accepts TCP connections on its port."""
    address = conninfo_to_dict(services.database_url)
    try:
        with socket.create_connection((str(address["host"]), int(str(address["port"]))), 1):
            return True
    except OSError:
        return False


def _take_lock(services: Services) -> TextIO:
    """The outage lock's file, locked (waits while another test process holds it)."""
    handle = (services.repo_root / ".local" / "postgres-outage.lock").open("w")
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                raise TimeoutError("another test held the PostgreSQL outage lock") from None
            time.sleep(0.2)


@asynccontextmanager
async def postgres_stopped(services: Services) -> AsyncIterator[Outage]:
    """PostgreSQL stopped for the body of the ``async with``; started again on the way out
    (``Outage.started_at`` is set once it accepts connections again)."""
    lock = await asyncio.to_thread(_take_lock, services)
    outage = Outage()
    try:
        try:
            await asyncio.to_thread(services_script, services, "stop", "postgres")
            outage.stopped_at = time.monotonic()
            yield outage
            outage.held = not await asyncio.to_thread(accepting, services)
        finally:
            await asyncio.to_thread(services_script, services, "start", "postgres")
            outage.started_at = time.monotonic()
    finally:
        lock.close()  # closing the file releases the lock
