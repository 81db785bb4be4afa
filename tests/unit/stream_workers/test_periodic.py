"""A periodic task's run never lets an error escape into Faust (which would crash the
worker), but is still cancelled when the worker stops."""

import asyncio
import logging

import psycopg
import pytest

from stream_workers.app import first_connection, survive


async def test_a_lost_database_connection_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def resync() -> None:
        raise psycopg.OperationalError("the connection is lost")

    with caplog.at_level(logging.WARNING):
        await survive("usage resync", resync())
    assert "usage resync failed (OperationalError)" in caplog.text
    assert "the connection is lost" not in caplog.text  # the type only, never a message


async def test_cancellation_still_stops_it() -> None:
    async def refresh() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await survive("lag refresh", refresh())


async def test_a_run_that_succeeds_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[bool] = []

    async def resync() -> None:
        ran.append(True)

    await survive("usage resync", resync())
    assert ran == [True] and caplog.text == ""


async def test_the_first_connection_is_waited_for_while_the_database_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tries: list[int] = []
    conn = object()

    async def connect() -> object:
        tries.append(1)
        if len(tries) < 3:
            raise psycopg.OperationalError("connection refused")
        return conn

    with caplog.at_level(logging.WARNING):
        got = await first_connection(connect, max_delay=0.01)  # type: ignore[arg-type]
    assert got is conn and len(tries) == 3
    assert caplog.text.count("database unreachable at start (OperationalError)") == 2
