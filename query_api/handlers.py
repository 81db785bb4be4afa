"""Thin HTTP handlers: authenticate, parse, check membership, admit, answer, add ``meta``.

The membership check takes a connection of its own for one short statement; the answer
takes another only once the project's admission (``admission.py``) lets it run, inside a
transaction with the statement timeout.
"""

import time
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg import AsyncConnection

from common.auth import Refused
from common.database import database_answers
from common.health import readiness
from contracts.shards import DEFAULT_SHARD, shard_group
from query_api import answers, funnels, lifecycle, paths, retention
from query_api.app_keys import LIMITER, METRICS, PROJECT, REDIS, SETTINGS, SHARD_POOLS, SPEC
from query_api.auth import caller_id, readable_project
from query_api.database import connection, timed_transaction
from query_api.errors import QueryApiError, Unavailable
from query_api.freshness import freshness
from query_api.model import (
    Breakdown,
    Funnel,
    Lifecycle,
    MetricQuery,
    Paths,
    Query,
    Retention,
    Timeseries,
)
from query_api.parsing import decode_json, parse_query
from query_api.persons import UniqueBy, bots_meta
from query_api.planner import Plan


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _connection(
    request: web.Request, shard: str = DEFAULT_SHARD
) -> AbstractAsyncContextManager[AsyncConnection]:
    """A connection to the control database, or to ``shard``'s (contracts/shards.py)."""
    settings = request.app[SETTINGS]
    pool = request.app[SHARD_POOLS].get(shard)
    if pool is None:  # placed on a shard this process was not given: a deployment's error
        raise Unavailable(settings.retry_after_seconds, "SHARD_NOT_CONFIGURED")
    return connection(pool, settings.pool_wait_seconds, settings.retry_after_seconds)


async def _answer(
    conn: Any, project: str, q: Query, funnel_workers: int
) -> tuple[dict[str, Any], Plan | None]:
    if isinstance(q, Timeseries):
        return await answers.timeseries(conn, project, q)
    if isinstance(q, Breakdown):
        return await answers.breakdown(conn, project, q)
    if isinstance(q, MetricQuery):
        return await answers.metric(conn, project, q)
    if isinstance(q, Retention):
        return await retention.retention(conn, project, q), None
    if isinstance(q, Paths):
        return await paths.paths(conn, project, q), None
    if isinstance(q, Lifecycle):
        return await lifecycle.lifecycle(conn, project, q), None
    assert isinstance(q, Funnel)
    return await funnels.funnel(conn, project, q, funnel_workers), None


def unique_by(q: Query, source: str) -> UniqueBy | None:
    """What the answer's unique counts count: persons (merged ids) from the raw store,
    distinct ids from rollups (whose sketches cannot be re-keyed); None when it has none."""
    if isinstance(q, Timeseries | Breakdown | MetricQuery) and q.metric != "unique_users":
        return None
    return "person" if source == "raw" else "distinctId"


async def query(request: web.Request) -> web.Response:
    started = time.perf_counter()
    metrics, settings = request.app[METRICS], request.app[SETTINGS]
    kind = "invalid"
    try:
        user = await caller_id(request, lambda: _connection(request))
        q = parse_query(decode_json(await request.read()), settings.max_range_seconds)
        kind = type(q).__name__.lower()
        async with _connection(request) as conn:
            project, shard = await readable_project(conn, user, q.project)
        request[PROJECT] = project
        async with request.app[LIMITER].slot(project), _connection(request, shard) as conn:
            async with timed_transaction(conn, settings.statement_timeout_ms):
                body, plan = await _answer(conn, project, q, settings.funnel_workers)
            group = shard_group(settings.worker_group, shard)
            fresh = await freshness(conn, group, settings.events_topic)
    except (QueryApiError, Refused) as exc:  # the API's refusals and common.auth's
        metrics.requests.labels(kind, str(exc.status)).inc()
        raise
    source = plan.source if plan else "raw"
    body["meta"] = {
        "source": source,
        "rollup": plan.granularity if plan else None,
        "rawEdges": bool(plan and plan.raw_edges),
        "bots": bots_meta(q.include_bots),
        "uniqueBy": unique_by(q, source),
        "freshness": fresh,
    }
    metrics.requests.labels(kind, "200").inc()
    metrics.seconds.labels(kind, source).observe(time.perf_counter() - started)
    return _json(body)


async def openapi(request: web.Request) -> web.Response:
    return _json(request.app[SPEC])


async def ready(request: web.Request) -> web.Response:
    app, pools = request.app, request.app[SHARD_POOLS]
    probes = {"redis": app[REDIS].ping(), "database": database_answers(pools[DEFAULT_SHARD])}
    return await readiness(probes, pools)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
