"""The real ``posthog`` Python client pointed at the gateway: what ``POST /api/query`` shows
is what it sent, exactly once (the whole path: gateway → Kafka → the workers' sink → query
API, tests/integration/ingest_gateway/pipeline.py)."""

import asyncio
import gzip
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from posthog import Posthog
from posthog.request import APIError

from contracts.events import DERIVE_SESSION
from control_plane.projects import CreatedProject
from ingest_gateway.dropin.posthog import MAX_EVENTS
from tests.integration.ingest_gateway.pipeline import apply, ask, raw_records, stored
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

DAY = datetime(2026, 2, 3, tzinfo=UTC)
WHEN = DAY + timedelta(hours=15, minutes=30)  # mid-hour: PostHog's clock-skew shift is ms


def range_of_day() -> dict[str, str]:
    return {
        "start": DAY.isoformat(),
        "end": (DAY + timedelta(days=1, milliseconds=-1)).isoformat(),
    }


def at(minutes: int) -> datetime:
    return WHEN + timedelta(minutes=minutes)


def send(url: str, key: str, calls: Callable[[Posthog], None], **options: Any) -> list[int]:
    """Run ``calls`` on a real client for ``url``, flush it, and return the HTTP status of
    every batch it could not deliver (the client's on_error)."""
    refused: list[int] = []

    def on_error(error: Exception, batch: list[Any]) -> None:
        refused.append(error.status if isinstance(error, APIError) else -1)  # type: ignore[arg-type]

    client = Posthog(project_api_key=key, host=url, on_error=on_error, max_retries=0, **options)
    try:
        calls(client)
        client.flush()
    finally:
        client.shutdown()
    return refused


async def test_capture_identify_alias_and_a_retry_are_counted_exactly_once(
    gateway: TestClient,
    project: CreatedProject,
    services: Any,
    kafka_topic: str,
    database: str,
    redis_prefix: str,
    query_api: tuple[TestClient, str],
) -> None:
    url = str(gateway.server.make_url("/"))
    signup = str(uuid.uuid4())

    def browse(client: Posthog) -> None:  # one batch a call (sync_mode), no gzip
        page = "http://shop.test/pricing?utm_source=news"
        client.capture(
            "$pageview",
            distinct_id="anon-1",
            properties={"$current_url": page, "$session_id": "s-1"},
            timestamp=at(0),
        )
        client.capture(
            "signup", distinct_id="anon-1", properties={"plan": "pro"}, timestamp=at(1), uuid=signup
        )
        # The same message again, as a client retrying after a lost answer does.
        client.capture(
            "signup", distinct_id="anon-1", properties={"plan": "pro"}, timestamp=at(1), uuid=signup
        )
        client.capture(
            "$identify",
            distinct_id="user_42",
            properties={"$anon_distinct_id": "anon-1"},
            timestamp=at(2),
        )

    def later(client: Posthog) -> None:  # batched and gzip'd (Content-Encoding: gzip)
        client.capture(
            "$pageview",
            distinct_id="anon-2",
            properties={"$current_url": "http://shop.test/docs"},
            timestamp=at(70),
        )
        client.alias(previous_id="anon-2", distinct_id="user_42", timestamp=at(71))
        client.set(distinct_id="user_42", properties={"name": "Max"}, timestamp=at(72))
        client.capture("purchase", distinct_id="user_42", timestamp=at(73))

    assert await asyncio.to_thread(send, url, project.public_key, browse, sync_mode=True) == []
    assert await asyncio.to_thread(send, url, project.public_key, later, gzip=True) == []

    raws = await raw_records(services.kafka_bootstrap, kafka_topic, 8, settle=1.0)
    assert len(raws) == 8  # the retry reached the topic too
    records = sorted((orjson.loads(r.value) for r in raws), key=lambda r: r["timestamp"])
    assert [r["event"] for r in records] == [
        "$pageview",
        "signup",
        "signup",
        "$identify",
        "$pageview",
        "$identify",  # the alias
        "$set",
        "purchase",
    ]
    assert records[0]["sessionId"] == "s-1"
    assert records[4]["sessionId"] == DERIVE_SESSION  # none sent: the workers derive it
    assert records[0]["properties"]["$url"] == "http://shop.test/pricing?utm_source=news"
    assert records[0]["properties"]["$pathname"] == "/pricing"
    assert all("token" not in r["properties"] for r in records)
    assert records[1]["insertId"] == signup

    applied = await apply(
        database, services.redis_url, redis_prefix, raws, breakdown_keys=("$pathname",)
    )
    assert applied == 7  # the retry was not

    slug = project.slug
    signups = await ask(
        query_api,
        {
            "type": "metric",
            "projectId": slug,
            "event": "signup",
            "metric": "count",
            "dateRange": range_of_day(),
        },
    )
    assert signups["value"] == 1
    views = await ask(
        query_api,
        {
            "type": "timeseries",
            "projectId": slug,
            "event": "$pageview",
            "metric": "count",
            "interval": "hour",
            "dateRange": range_of_day(),
        },
    )
    by_hour = {point["t"]: point["value"] for point in views["data"] if point["value"]}
    assert by_hour == {"2026-02-03T15:00:00+00:00": 1, "2026-02-03T16:00:00+00:00": 1}
    pages = await ask(
        query_api,
        {
            "type": "breakdown",
            "projectId": slug,
            "event": "$pageview",
            "breakdown": "$pathname",
            "dateRange": range_of_day(),
        },
    )
    assert sorted((g["key"], g["value"]) for g in pages["data"]) == [("/docs", 1), ("/pricing", 1)]

    # anon-1 (identify) and anon-2 (alias) are user_42: one person, read from raw events.
    aliases = stored(
        database,
        "SELECT distinct_id, person FROM person_aliases WHERE project_id=%s",
        (project.id,),
    )
    person = dict(aliases)  # an id without a row is its own person (a root)
    assert len({person.get(i, i) for i in ("anon-1", "anon-2", "user_42")}) == 1
    assert len(aliases) == 2
    people = await ask(
        query_api,
        {
            "type": "metric",
            "projectId": slug,
            "event": "$pageview",
            "metric": "unique_users",
            "includeBots": True,  # read from the raw events, which count persons
            "dateRange": range_of_day(),
        },
    )
    assert (people["value"], people["meta"]["uniqueBy"]) == (1, "person")


async def test_refused_batches_count_nothing(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    url = str(gateway.server.make_url("/"))

    def many(count: int, size: int = 0) -> Callable[[Posthog], None]:
        def calls(client: Posthog) -> None:
            filler = {f"f{n}": "x" * 1000 for n in range(size)}
            for n in range(count):
                client.capture("tick", distinct_id=f"u{n}", properties=filler, timestamp=WHEN)

        return calls

    one = many(1)
    # A secret key is never a capture key.
    assert await asyncio.to_thread(send, url, project.secret_key, one) == [401]
    # Over the count cap: one batch of MAX_EVENTS + 1 (the client's flush_at allows it).
    over = dict(flush_at=MAX_EVENTS + 1, flush_interval=30, max_queue_size=MAX_EVENTS + 10)
    assert await asyncio.to_thread(send, url, project.public_key, many(MAX_EVENTS + 1), **over) == [
        400
    ]
    # Over the byte cap: 200 events of ~6 KB, each one valid alone (1.2 MB in one batch).
    assert await asyncio.to_thread(send, url, project.public_key, many(200, 6), flush_at=200) == [
        413
    ]
    assert await read_topic(services.kafka_bootstrap, kafka_topic, timeout=1.5) == []


async def test_posthog_js_bodies_on_each_path(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    """posthog-js's shapes, sent by hand: a gzip-js list (no Content-Encoding) on /e/ with its
    query string, one event on /i/v0/e without the slash, and its success body."""

    def js_event(n: int) -> dict[str, Any]:
        return {
            "event": "$pageview",
            "uuid": str(uuid.uuid4()),
            "timestamp": WHEN.isoformat(),
            "properties": {
                "token": project.public_key,
                "distinct_id": f"anon-{n}",
                "$session_id": f"s-{n}",
                "$current_url": f"http://shop.test/p/{n}",
                "utm_medium": None,
            },
        }

    body = gzip.compress(orjson.dumps([js_event(1), js_event(2)]))
    response = await gateway.post(
        "/e/?ip=1&_=1770132600000&ver=1.449.2&compression=gzip-js",
        data=body,
        headers={"Content-Type": "text/plain"},
    )
    assert (response.status, await response.json()) == (200, {"status": 1})
    response = await gateway.post("/i/v0/e", json=js_event(3))
    assert (response.status, await response.json()) == (200, {"status": 1})
    records = await read_topic(services.kafka_bootstrap, kafka_topic, 3)
    assert sorted(r["properties"]["$pathname"] for r in records) == ["/p/1", "/p/2", "/p/3"]

    nameless = js_event(4)
    del nameless["properties"]["distinct_id"]
    response = await gateway.post("/capture/", json=nameless)
    assert response.status == 400
    answer = await response.json()
    assert (answer["type"], answer["code"]) == ("validation_error", "invalid_payload")
    assert answer["attr"] == "distinct_id" and answer["details"][0]["index"] == 0
