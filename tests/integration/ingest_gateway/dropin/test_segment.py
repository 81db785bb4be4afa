"""Segment's own Python library (segment-analytics-python) against the gateway: what it sends
is what ``POST /api/query`` shows, exactly once, through Kafka and the workers' sink.

The library is synchronous (requests, a consumer thread): its calls run in a thread so the
in-process gateway keeps serving.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from segment.analytics import Client
from segment.analytics.request import APIError, post

from contracts.events import DERIVE_SESSION
from control_plane.projects import CreatedProject
from tests.integration.ingest_gateway.pipeline import apply, ask, raw_records, stored
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

DAY = datetime(2026, 2, 3, tzinfo=UTC)
WHEN = DAY + timedelta(hours=15, minutes=20)  # mid-hour: the hour bucket is unambiguous
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
RANGE = {
    "start": DAY.isoformat(),
    "end": (DAY + timedelta(days=1, milliseconds=-1)).isoformat(),
}


def host(gateway: TestClient) -> str:
    return str(gateway.server.make_url("/")).rstrip("/")


def query(project: CreatedProject, kind: str, event: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "projectId": project.slug, "event": event, "dateRange": RANGE, **extra}


async def send(client: Client, *calls: Callable[[], Any]) -> None:
    """The calls, then a flush (one /v1/batch request at least), in a thread."""

    def run() -> None:
        for call in calls:
            call()
        client.flush()

    await asyncio.to_thread(run)


def batching_client(gateway: TestClient, key: str, gzip: bool) -> tuple[Client, list[Any]]:
    errors: list[Any] = []
    client = Client(
        write_key=key,
        host=host(gateway),
        gzip=gzip,
        upload_interval=0.05,
        max_retries=1,
        on_error=lambda error, batch: errors.append(error),
    )
    return client, errors


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
async def test_segment_calls_count_exactly_once(
    gateway: TestClient,
    project: CreatedProject,
    services: Any,
    kafka_topic: str,
    database: str,
    redis_prefix: str,
    query_api: tuple[TestClient, str],
    gzip: bool,
) -> None:
    client, errors = batching_client(gateway, project.public_key, gzip)
    plans = {"u1": "pro", "u2": "free", "u3": "pro"}
    try:
        await send(
            client,
            *[
                lambda user=user, plan=plan: client.track(
                    user_id=user,
                    event="Order Completed",
                    properties={"plan": plan},
                    timestamp=WHEN,
                    message_id=f"order-{user}",
                )
                for user, plan in plans.items()
            ],
            lambda: client.page(
                user_id="u1",
                name="Pricing",
                properties={"path": "/pricing", "url": "https://shop.test/pricing"},
                context={
                    "campaign": {"source": "newsletter", "medium": "email"},
                    "userAgent": IPHONE,  # the end user's, relayed by this server
                    "ip": "8.8.8.8",
                },
                timestamp=WHEN,
            ),
            lambda: client.screen(user_id="u2", name="Home", timestamp=WHEN),
        )
        # The same message again (as a client retries a request whose answer it lost).
        await send(
            client,
            lambda: client.track(
                user_id="u1",
                event="Order Completed",
                properties={"plan": "pro"},
                timestamp=WHEN,
                message_id="order-u1",
            ),
        )
    finally:
        await asyncio.to_thread(client.join)
    assert errors == []

    raws = await raw_records(services.kafka_bootstrap, kafka_topic, 6, settle=0.5)
    assert len(raws) == 6  # the repeat reached the topic ...
    applied = await apply(database, services.redis_url, redis_prefix, raws)
    assert applied == 5  # ... and was not applied again

    orders = query(project, "metric", "Order Completed", metric="count")
    assert (await ask(query_api, orders))["value"] == 3
    users = {**orders, "metric": "unique_users"}
    assert (await ask(query_api, users))["value"] == 3
    by_plan = await ask(query_api, query(project, "breakdown", "Order Completed", breakdown="plan"))
    assert sorted((g["key"], g["value"]) for g in by_plan["data"]) == [("free", 1), ("pro", 2)]
    hourly = await ask(query_api, query(project, "timeseries", "Order Completed", interval="hour"))
    assert [b["value"] for b in hourly["data"] if b["value"]] == [3]
    assert datetime.fromisoformat(next(b["t"] for b in hourly["data"] if b["value"])) == (
        WHEN.replace(minute=0)
    )
    pages = await ask(query_api, query(project, "breakdown", "$pageview", breakdown="$pathname"))
    assert [(g["key"], g["value"]) for g in pages["data"]] == [("/pricing", 1)]
    sources = await ask(query_api, query(project, "breakdown", "$pageview", breakdown="utm_source"))
    assert [(g["key"], g["value"]) for g in sources["data"]] == [("newsletter", 1)]
    for key, value in (("$deviceType", "mobile"), ("$os", "iOS"), ("$country", "US")):
        found = await ask(query_api, query(project, "breakdown", "$pageview", breakdown=key))
        assert [(g["key"], g["value"]) for g in found["data"]] == [(value, 1)], key
    screens = await ask(query_api, query(project, "breakdown", "$screen", breakdown="$screen_name"))
    assert [(g["key"], g["value"]) for g in screens["data"]] == [("Home", 1)]


async def test_identify_and_alias_merge_ids_into_one_person(
    gateway: TestClient,
    project: CreatedProject,
    services: Any,
    kafka_topic: str,
    database: str,
    redis_prefix: str,
    query_api: tuple[TestClient, str],
) -> None:
    client = Client(write_key=project.public_key, host=host(gateway), sync_mode=True)

    def calls() -> None:  # sync_mode: one request per call, in this order
        minute = timedelta(minutes=1)
        client.track(anonymous_id="anon_1", event="Viewed", timestamp=WHEN)
        client.identify(
            user_id="user_1", anonymous_id="anon_1", traits={"plan": "pro"}, timestamp=WHEN + minute
        )
        client.track(user_id="user_1", event="Viewed", timestamp=WHEN + 2 * minute)
        client.alias(previous_id="backend_7", user_id="user_1", timestamp=WHEN + 3 * minute)
        client.track(user_id="backend_7", event="Viewed", timestamp=WHEN + 4 * minute)

    await asyncio.to_thread(calls)
    raws = await raw_records(services.kafka_bootstrap, kafka_topic, 5)
    assert await apply(database, services.redis_url, redis_prefix, raws) == 5

    aliases = stored(
        database,
        "SELECT distinct_id, person FROM person_aliases WHERE project_id=%s",
        (project.id,),
    )
    assert sorted(aliases) == [("anon_1", "user_1"), ("backend_7", "user_1")]
    viewers = query(project, "metric", "Viewed", metric="unique_users", includeBots=True)
    persons = await ask(query_api, viewers)  # read raw: persons
    assert (persons["value"], persons["meta"]["uniqueBy"]) == (1, "person")
    traits = await ask(query_api, query(project, "breakdown", "$identify", breakdown="traits.plan"))
    # The identify's traits; the alias is an $identify without traits.
    assert [(g["key"], g["value"]) for g in traits["data"]] == [("pro", 1), (None, 1)]


async def test_refusals_reach_the_library_and_append_nothing(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    url = host(gateway)

    def refused(key: str, batch: list[dict[str, Any]]) -> APIError:
        try:
            post(key, host=url, batch=batch)
        except APIError as error:
            return error
        raise AssertionError("accepted")

    def message(**extra: Any) -> dict[str, Any]:
        return {
            "type": "track",
            "userId": "u",
            "event": "e",
            "timestamp": WHEN.isoformat(),
            **extra,
        }

    # A secret key: the client raises what the gateway answered (sync_mode).
    client = Client(write_key=project.secret_key, host=url, sync_mode=True)
    with pytest.raises(APIError) as secret:
        await asyncio.to_thread(client.track, user_id="u", event="e")
    assert (secret.value.status, secret.value.code) == (401, "invalid_key")
    # Over Segment's caps (the library splits its own batches below them: sent by hand).
    too_big = [message(properties={"blob": "x" * 20_000}) for _ in range(30)]  # ~600 KB
    assert (await asyncio.to_thread(refused, project.public_key, too_big)).status == 413
    over_32_kb = [message(), message(properties={"blob": "x" * 33_000}), message()]
    error = await asyncio.to_thread(refused, project.public_key, over_32_kb)
    assert error.status == 400
    assert [d["index"] for d in error.response.json()["details"]] == [1]
    assert await read_topic(services.kafka_bootstrap, kafka_topic, timeout=1.5) == []


async def test_an_analytics_js_call_with_its_key_in_a_text_plain_body(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    # What analytics.js sends to <apiHost>/p: text/plain (no CORS preflight), key in the body.
    call = {
        "type": "page",
        "writeKey": project.public_key,
        "anonymousId": "anon_9",
        "messageId": "ajs-next-1",
        "timestamp": WHEN.isoformat(),
        "sentAt": WHEN.isoformat(),
        "properties": {"path": "/docs", "url": "https://x.test/docs?utm_source=hn"},
        "context": {"page": {"referrer": "https://news.ycombinator.com/"}},
    }
    response = await gateway.post(
        "/v1/p",
        data=orjson.dumps(call),
        headers={"Content-Type": "text/plain", "User-Agent": "Mozilla/5.0 Firefox/120.0"},
    )
    assert (response.status, await response.json()) == (200, {"success": True})
    [record] = await read_topic(services.kafka_bootstrap, kafka_topic, expected=1)
    assert (record["event"], record["distinctId"], record["insertId"]) == (
        "$pageview",
        "anon_9",
        "ajs-next-1",
    )
    assert record["properties"] == {
        "path": "/docs",
        "url": "https://x.test/docs?utm_source=hn",
        "$pathname": "/docs",
        "$url": "https://x.test/docs?utm_source=hn",
        "$referrer": "https://news.ycombinator.com/",
    }
    assert record["sessionId"] == DERIVE_SESSION  # the workers derive it
