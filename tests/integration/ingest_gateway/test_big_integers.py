"""Integers past 2^53 end to end: gateway → Kafka → the workers' sink → PostgreSQL → query API.

A JavaScript number holds integers exactly only up to 2^53 - 1; the stack must not round
through a double anywhere. Within 64 bits an integer is kept exact (the raw store's jsonb,
a breakdown's key, a filter); past 64 bits the JSON parser would make it a float, so the
gateway refuses it (docs/api.md).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
from aiohttp.test_utils import TestClient

from control_plane.projects import CreatedProject
from query_api import answers
from query_api.parsing import parse_query
from query_api.settings import DEFAULT_MAX_RANGE_SECONDS
from tests.integration.ingest_gateway.pipeline import apply, raw_records
from tests.integration.ingest_gateway.test_ingest import event, post
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

DAY = datetime(2026, 2, 3, tzinfo=UTC)
WHEN = DAY + timedelta(hours=15, minutes=30)
PAST_DOUBLE = 2**53 + 1  # the first integer a double cannot hold: it reads back as 2^53
BIGS = [PAST_DOUBLE, 2**53, 2**63 - 1, 2**64 - 1, -(2**63)]


def breakdown(slug: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "breakdown",
        "projectId": slug,
        "event": "page_viewed",
        "breakdown": "big",
        "limit": 100,
        "dateRange": {  # whole days: the breakdown rollup answers
            "start": DAY.isoformat(),
            "end": (DAY + timedelta(days=1, milliseconds=-1)).isoformat(),
        },
        **extra,
    }


def by_key(group: dict[str, Any]) -> str:
    return str(group["key"])


async def test_integers_within_64_bits_are_exact_from_gateway_to_query_api(
    gateway: TestClient,
    project: CreatedProject,
    services: Any,
    kafka_topic: str,
    database: str,
    redis_prefix: str,
    query_api: tuple[TestClient, str],
) -> None:
    batch = [
        event(n, timestamp=WHEN.isoformat(), properties={"big": big, "nested": {"big": [big]}})
        for n, big in enumerate(BIGS)
    ]
    status, _ = await post(gateway, orjson.dumps(batch), project.public_key)
    assert status == 200
    raws = await raw_records(services.kafka_bootstrap, kafka_topic, len(BIGS))
    on_topic = sorted(orjson.loads(r.value)["properties"]["big"] for r in raws)
    assert on_topic == sorted(BIGS)

    await apply(database, services.redis_url, redis_prefix, raws, breakdown_keys=("big",))
    with psycopg.connect(database) as conn:
        stored = conn.execute(
            "SELECT properties ->> 'big', properties #>> '{nested,big,0}' FROM events"
        ).fetchall()
    assert sorted(stored) == sorted((str(b), str(b)) for b in BIGS)

    api, cookie = query_api
    expected = [{"key": str(b), "value": 1} for b in sorted(BIGS, key=str)]
    response = await api.post(
        "/api/query", json=breakdown(project.slug), cookies={"ra_session": cookie}
    )
    assert response.status == 200, await response.text()
    from_rollup = await response.json()
    assert from_rollup["meta"]["source"] == "rollup"  # the breakdown key the worker wrote
    assert sorted(from_rollup["data"], key=by_key) == expected
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        raw_answer, _ = await answers.breakdown(
            conn,
            project.id,
            parse_query(breakdown(project.slug), DEFAULT_MAX_RANGE_SECONDS),  # type: ignore[arg-type]
            force_raw=True,
        )
    assert sorted(raw_answer["data"], key=by_key) == expected  # type: ignore[arg-type,index]

    # A filter tells 2^53 + 1 from 2^53, which a double cannot.
    filtered = breakdown(project.slug, filter={"key": "big", "op": "eq", "value": PAST_DOUBLE})
    response = await api.post("/api/query", json=filtered, cookies={"ra_session": cookie})
    assert response.status == 200, await response.text()
    assert (await response.json())["data"] == [{"key": str(PAST_DOUBLE), "value": 1}]


@pytest.mark.parametrize(
    ("literal", "field"),
    [
        (b'{"big": 18446744073709551616}', "properties.big"),  # 2^64
        (b'{"big": -9223372036854775809}', "properties.big"),  # -2^63 - 1
        (b'{"ids": {"order": [123456789012345678901234567890]}}', "properties.ids"),
    ],
    ids=["2^64", "-2^63-1", "nested-30-digits"],
)
async def test_integers_past_64_bits_are_refused_not_rounded(
    gateway: TestClient,
    project: CreatedProject,
    services: Any,
    kafka_topic: str,
    literal: bytes,
    field: str,
) -> None:
    # Written by hand: no JSON encoder here writes an integer past 64 bits.
    bad = orjson.dumps(event(1, properties="HERE")).replace(b'"HERE"', literal)
    body = b"[" + orjson.dumps(event(0)) + b"," + bad + b"]"
    status, answer = await post(gateway, body, project.public_key)
    assert status == 400, answer
    [detail] = answer["details"]
    assert (detail["index"], detail["field"]) == (1, field)
    assert "64-bit" in detail["message"]
    assert await read_topic(services.kafka_bootstrap, kafka_topic, timeout=1.5) == []
