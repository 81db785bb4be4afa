"""Case 6 of issue 14: bodies and headers that once got a 500 from the real stack are each a
4xx with a JSON detail, and the service answers the next good query."""

import asyncio
import json
from typing import Any

import pytest

from tests.integration.query_api.conftest import World
from tests.integration.query_api.openapi_check import assert_matches_spec

pytestmark = pytest.mark.integration

RANGE = {"start": "2026-02-01T00:00:00.000Z", "end": "2026-02-03T23:59:59.999Z"}
ALL_TIME = {"start": "0001-01-01T00:00:00Z", "end": "9999-12-31T23:59:59.999Z"}
STEPS = [{"event": "$pageview"}, {"event": "signup"}]


def metric(**change: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "projectId": "alpha",
        "event": "$pageview",
        "dateRange": RANGE,
        **change,
    }


def funnel(**change: Any) -> dict[str, Any]:
    return {"type": "funnel", "projectId": "alpha", "dateRange": RANGE, "steps": STEPS, **change}


HOSTILE: dict[str, tuple[dict[str, Any], str | None]] = {
    "NUL in the event": (metric(event="$page\x00view"), "event"),
    "NUL in the project": (metric(projectId="alpha\x00"), "projectId"),
    "NUL in a filter key": (metric(filter={"key": "k\x00", "op": "is_set"}), "filter.key"),
    "NUL in an eq value": (
        metric(filter={"key": "k", "op": "eq", "value": "\x00"}),
        "filter.value",
    ),
    "NUL in a gt value": (
        metric(filter={"key": "k", "op": "gt", "value": "a\x00"}),
        "filter.value",
    ),
    "NUL in a step": (funnel(steps=[{"event": "a"}, {"event": "b\x00"}]), "steps.1.event"),
    "year 1 to 9999": (metric(dateRange=ALL_TIME), "dateRange.start"),
    "year 1 to 9999, series": (
        {**metric(dateRange=ALL_TIME), "type": "timeseries"},
        "dateRange.start",
    ),
    "year 1 to 9999, breakdown": (
        {**metric(dateRange=ALL_TIME), "type": "breakdown", "breakdown": "$pathname"},
        "dateRange.start",
    ),
    "year 1 to 9999, funnel": (funnel(dateRange=ALL_TIME), "dateRange.start"),
    "year 1 with an offset": (
        metric(dateRange={"start": "0001-01-01T00:00:00+05:00", "end": RANGE["end"]}),
        "dateRange.start",
    ),
    "year 9999 in a zone": (
        {
            **metric(dateRange={"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T00:00:00Z"}),
            "type": "timeseries",
            "timezone": "Asia/Tokyo",
        },
        "dateRange.start",
    ),
    "window of 2^63 seconds": (
        funnel(conversionWindow={"value": 2**63, "unit": "second"}),
        "conversionWindow.value",
    ),
    "window of 2^63 weeks": (
        funnel(conversionWindow={"value": 2**63, "unit": "week"}),
        "conversionWindow.value",
    ),
    "negative window": (
        funnel(conversionWindow={"value": -5, "unit": "day"}),
        "conversionWindow.value",
    ),
    "float window": (
        funnel(conversionWindow={"value": 0.5, "unit": "day"}),
        "conversionWindow.value",
    ),
    "huge limit": ({**metric(), "type": "breakdown", "breakdown": "k", "limit": 2**64}, "limit"),
    "wrong types everywhere": (
        {"type": "metric", "projectId": 1, "event": [], "dateRange": "today", "filters": {}},
        "projectId",
    ),
}


async def post(client: Any, body: bytes, **kwargs: Any) -> tuple[int, Any]:
    response = await client.post(
        "/api/query", data=body, headers={"Content-Type": "application/json"}, **kwargs
    )
    return response.status, await response.json()


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_bodies_are_400_with_the_field(module_world: World, client, name):
    document, field = HOSTILE[name]
    cookies = {"ra_session": module_world.cookie}
    status, body = await post(client, json.dumps(document).encode(), cookies=cookies)
    assert status == 400, body
    assert body["error"] == "Validation failed"
    assert field in [d["field"] for d in body["details"]], body
    assert_matches_spec(body, 400)
    status, answer = await post(client, json.dumps(metric()).encode(), cookies=cookies)
    assert status == 200, answer


async def test_deep_nesting_and_huge_error_bodies_stay_small_400s(module_world: World, client):
    cookies = {"ra_session": module_world.cookie}
    deep = b'{"type": "metric", "filter": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    status, body = await post(client, deep, cookies=cookies)
    assert status == 400 and "Nested" in body["details"][0]["message"]
    many = metric(filters=[{"key": "k" * 400, "op": "?"} for _ in range(400)])
    response = await client.post("/api/query", json=many, cookies=cookies)
    assert response.status == 400
    assert len(await response.read()) < 64 * 1024
    assert (await response.json())["omittedDetails"] > 0


async def test_a_series_where_the_zone_was_off_the_quarter_grid_answers(module_world, client):
    document = {
        **metric(dateRange={"start": "1975-06-01T00:00:00Z", "end": "1975-06-01T05:59:59.999Z"}),
        "type": "timeseries",
        "interval": "hour",
        "timezone": "Pacific/Kiritimati",
    }
    status, body = await post(
        client, json.dumps(document).encode(), cookies={"ra_session": module_world.cookie}
    )
    assert status == 200, body
    assert [p["t"][-11:] for p in body["data"][:2]] == ["00:00-10:40", "00:00-10:40"]


async def raw_request(client: Any, headers: bytes) -> bytes:
    """A request written by hand: aiohttp's client would not send these header bytes."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    body = json.dumps(metric()).encode()
    writer.write(
        b"POST /api/query HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), headers, body)
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


@pytest.mark.parametrize(
    "headers",
    [
        b"Cookie: ra_session=\xff\xfe\x80abc\r\n",
        b"Cookie: other=\xc3; ra_session=\x80\r\n",
        b"Authorization: Bearer ra_cli_\xff\xfe\r\n",
        b"Origin: http://\xff\r\nCookie: ra_session=x\r\n",
    ],
)
async def test_non_utf8_credentials_are_401(module_world: World, client, headers):
    answer = await raw_request(client, headers)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 401"), answer
    assert rest.split(b"\r\n\r\n", 1)[1].startswith(b'{"error"')
