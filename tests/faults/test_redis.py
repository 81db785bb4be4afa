"""Redis stopped and started again, or flushed (every key lost), under a steady load: the
gateway fails open (200s, counted by the workers), nothing answers 500, every event
answered 200 is counted exactly once, the usage state rebuilds from PostgreSQL, and the
sessions a flush lost mean logging in again (CLI tokens live in PostgreSQL and survive)."""

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
import psycopg
import pytest
import redis

from contracts.sessions import Session, encode_session, new_token, session_key
from contracts.usage import month_of, total_used, usage_key
from tests.faults.fault import outage_seconds, port_open, recovered, warmed_up
from tests.faults.judgement import Verdict, drained, judge, watching
from tests.faults.load import Load, running
from tests.faults.probes import probing
from tests.faults.servers import Servers
from tests.faults.stack import Stack, running_stack
from tests.support.quota_load import Load as QuotaLoad

pytestmark = pytest.mark.faults

OUTAGE = outage_seconds(10, 30)
REBUILT_WITHIN = 30.0


def new_session(stack: Stack) -> str:
    """A browser session of the member, as a login makes one (Redis only)."""
    session_id = new_token()
    session = Session(stack.user, f"{stack.user}@faults.test", datetime.now(UTC))
    with redis.Redis.from_url(stack.servers.redis_url) as client:
        client.set(session_key(stack.prefix, session_id), encode_session(session), ex=3600)
    return session_id


async def me(stack: Stack, session_id: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{stack.app.url}/api/me", cookies={"ra_session": session_id}) as response,
    ):
        return response.status


def usage_in_postgres(stack: Stack) -> int:
    with psycopg.connect(stack.database) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(used), 0) FROM usage_months WHERE project_id = %s",
            (stack.project.id,),
        ).fetchone()
    return int(row[0]) if row else 0


def usage_in_redis(stack: Stack) -> int:
    key = usage_key(stack.prefix, stack.project.id, month_of(datetime.now(UTC)))
    with redis.Redis.from_url(stack.servers.redis_url) as client:
        return total_used(client.hgetall(key))


async def usage_rebuilt(stack: Stack) -> None:
    """Redis's usage state says what PostgreSQL says (the workers rewrote it)."""
    deadline = time.monotonic() + REBUILT_WITHIN
    while (want := usage_in_postgres(stack)) != (got := usage_in_redis(stack)):
        assert time.monotonic() < deadline, f"usage in Redis {got}, in PostgreSQL {want}"
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("how", ["stop", "FLUSHALL"])
async def test_redis_away_or_flushed(
    how: str, servers: Servers, tmp_path, verdict: Callable[[str], Verdict]
) -> None:
    row = verdict(f"Redis stopped, {OUTAGE:.0f} s" if how == "stop" else "Redis FLUSHALL")
    async with (
        running_stack(servers, tmp_path) as stack,
        watching(stack) as progress,
        probing(stack) as probes,
    ):
        session = new_session(stack)
        assert await me(stack, session) == 200
        load = Load(f"{stack.gateway_url}/", stack.project.public_key)
        async with running(load):
            await warmed_up(stack, load)
            if how == "stop":
                await asyncio.to_thread(servers.stop, "redis")
                await asyncio.sleep(OUTAGE)
                restart = asyncio.create_task(asyncio.to_thread(servers.restart, "redis"))
                back_at = await port_open(servers.redis_address)
                await restart
            else:
                await asyncio.to_thread(servers.flush_redis)
                back_at = time.monotonic()
            await recovered(load, progress, back_at, row)
        for p in probes.answers:
            row.record_5xx(p.status, p.code, p.kind)
        await judge(stack, load, row)
        await usage_rebuilt(stack)
        after = await me(stack, session)

    assert {a.status for a in load.answers} == {200}, "Redis away: the gateway fails open"
    assert {p.status for p in probes.answers} == {200}, "bearer readers never need Redis"
    # A restart keeps the sessions (append-only file); a flush loses them: log in again.
    assert after == (200 if how == "stop" else 401)


async def test_a_flush_does_not_reopen_a_full_monthly_limit(
    servers: Servers, tmp_path, verdict: Callable[[str], Verdict]
) -> None:
    """A project that reached its monthly limit stays refused after Redis lost its usage
    state: the gateway does not admit another month's worth until the workers' resync."""
    limit = 2_000
    row = verdict("Redis FLUSHALL at the monthly limit")
    async with running_stack(servers, tmp_path) as stack:
        with psycopg.connect(stack.database, autocommit=True) as conn:
            conn.execute(
                "UPDATE projects SET monthly_event_limit = %s WHERE id = %s",
                (limit, stack.project.id),
            )
        full = QuotaLoad([stack.gateway_url], stack.project.public_key, limit)
        await full.run(senders=4)
        assert full.other == [] and limit - 100 < full.answered <= limit
        await drained(stack)
        await asyncio.to_thread(servers.flush_redis)
        again = QuotaLoad([stack.gateway_url], stack.project.public_key, limit)
        again._next = 10 * limit  # new insertIds: every 200 would be one more event
        await again.run(senders=4)
        await drained(stack)
        row.answered_200 = full.answered + again.answered
        counted = usage_in_postgres(stack)
    for status in full.other + again.other:
        row.record_5xx(status, None, "ingest")
    print(f"\nat the limit: {full.answered} answered 200; after FLUSHALL {again.answered} more")
    assert counted == full.answered + again.answered  # every 200 counted
    # Nothing past the limit: what the flush let through is only what the limit had left.
    assert full.answered + again.answered <= limit, f"{again.answered} admitted after the flush"
