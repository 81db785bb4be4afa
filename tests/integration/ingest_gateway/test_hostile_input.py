"""Hostile but valid-looking input against the real gateway: a clear 4xx (or 200), never a 500.

Each case here once gave a 500 or a record the store cannot hold (issue 14, cases 1 and 5).
"""

from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from control_plane.projects import CreatedProject
from tests.integration.ingest_gateway.rawhttp import raw_post
from tests.integration.ingest_gateway.test_ingest import event, post
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

ASTRAL = "\U0001f600"  # 4 bytes in UTF-8


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


async def still_serving(gateway: TestClient, key: str) -> None:
    assert await post(gateway, event(99), key) == (200, {"success": True, "events": 1})


async def test_a_value_the_store_cannot_index_is_refused_and_nothing_is_appended(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    poison = event(1, properties={"plan": ASTRAL * 3000})
    status, body = await post(gateway, [event(0), poison], project.public_key)
    assert status == 400
    [detail] = body["details"]
    assert (detail["index"], detail["field"]) == (1, "properties.plan")
    assert "1024 bytes" in detail["message"]
    assert await read_topic(services.kafka_bootstrap, kafka_topic, timeout=1.5) == []


async def test_values_and_keys_at_the_caps_are_accepted_one_byte_over_refused(
    gateway: TestClient, project: CreatedProject
) -> None:
    key = project.public_key
    at_caps = {"k" * 200: ASTRAL * 256, "list": ["x" * 4000, "y" * 4000]}
    assert (await post(gateway, event(1, properties=at_caps), key))[0] == 200
    status, body = await post(gateway, event(2, properties={"plan": ASTRAL * 256 + "x"}), key)
    assert (status, body["details"][0]["field"]) == (400, "properties.plan")
    status, body = await post(gateway, event(3, properties={"k" * 201: 1}), key)
    assert status == 400
    assert body["details"][0]["field"].startswith("properties.kkk")
    assert "200 characters" in body["details"][0]["message"]
    status, body = await post(gateway, event(4, properties={"items": ["x" * 9000]}), key)
    assert (status, body["details"][0]["field"]) == (400, "properties.items")
    assert "8192 bytes" in body["details"][0]["message"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event": "sign\x00up"}, "event"),
        ({"distinctId": "u\x00"}, "distinctId"),
        ({"sessionId": "\x00"}, "sessionId"),
        ({"insertId": "i\x00"}, "insertId"),
        ({"properties": {"plan": "pro\x00"}}, "properties.plan"),
        ({"properties": {"pl\x00an": "pro"}}, "properties.pl\\u0000an"),
        ({"properties": {"cart": {"items": [{"sku": "\x00"}]}}}, "properties.cart"),
    ],
)
async def test_nul_characters_are_refused_where_postgresql_cannot_store_them(
    gateway: TestClient, project: CreatedProject, overrides: dict[str, Any], field: str
) -> None:
    status, body = await post(gateway, event(1, **overrides), project.public_key)
    assert status == 400
    assert body["details"][0]["field"] == field
    assert "NUL" in body["details"][0]["message"]


@pytest.mark.parametrize(
    "timestamp",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:30+00:31"],
)
async def test_timestamps_that_overflow_in_utc_are_a_400(
    gateway: TestClient, project: CreatedProject, timestamp: str
) -> None:
    status, body = await post(gateway, event(1, timestamp=timestamp), project.public_key)
    assert status == 400
    assert body["details"][0]["field"] == "timestamp"
    await still_serving(gateway, project.public_key)


async def test_the_extreme_dates_themselves_are_valid(
    gateway: TestClient, project: CreatedProject
) -> None:
    for n, timestamp in enumerate(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999+00:00"]):
        assert (await post(gateway, event(n, timestamp=timestamp), project.public_key))[0] == 200


@pytest.mark.parametrize("depth", [33, 255, 256, 500, 1023, 1024, 1025, 5000])
async def test_deeply_nested_json_is_a_400(
    gateway: TestClient, project: CreatedProject, depth: int
) -> None:
    body = b'{"event":"e","timestamp":"2026-02-03T15:30:00Z","distinctId":"u","sessionId":"s",'
    body += b'"properties":{"deep":' + b"[" * depth + b"]" * depth + b"}}"
    status, answer = await post(gateway, body, project.public_key)
    assert status == 400
    assert answer["error"] == "Validation failed"
    await still_serving(gateway, project.public_key)


async def test_nesting_within_the_cap_is_accepted(
    gateway: TestClient, project: CreatedProject
) -> None:
    assert (await post(gateway, event(1, properties={"deep": nested(32)}), project.public_key))[
        0
    ] == 200


@pytest.mark.parametrize(
    ("number", "status"),
    [
        (b"1e400", 400),
        (b"-1e400", 400),
        (b"NaN", 400),
        (b"Infinity", 400),
        (b"-Infinity", 400),
        (b"18446744073709551616", 400),  # past 64 bits: refused, not rounded to a double
        (b"-9223372036854775809", 400),
        (b"18446744073709551615", 200),
        (b"-9223372036854775808", 200),
        (b"1" * 4000, 400),
        (b"1e-400", 200),
    ],
)
async def test_huge_numbers_and_non_finite_literals(
    gateway: TestClient, project: CreatedProject, number: bytes, status: int
) -> None:
    body = b'{"event":"e","timestamp":"2026-02-03T15:30:00Z","distinctId":"u","sessionId":"s",'
    body += b'"properties":{"n":' + number + b"}}"
    answer = await post(gateway, body, project.public_key)
    assert answer[0] == status, answer


@pytest.mark.parametrize(
    "text", [b'"\\ud800"', b'"\\udfff x"', b'"\xed\xa0\x80"', b'"\xff\xfe"', b'"\xc0\xaf"']
)
async def test_surrogates_and_invalid_utf8_in_strings_are_a_400(
    gateway: TestClient, project: CreatedProject, text: bytes
) -> None:
    body = b'{"event":"e","timestamp":"2026-02-03T15:30:00Z","distinctId":"u","sessionId":"s",'
    body += b'"properties":{"s":' + text + b"}}"
    status, answer = await post(gateway, body, project.public_key)
    assert (status, answer["error"]) == (400, "Validation failed")


@pytest.mark.parametrize(
    ("name", "value", "status"),
    [
        (b"X-API-Key", b"pk_live_\xff\xfe", 400),
        (b"X-API-Key", b"\xc3\x28", 400),
        (b"Content-Encoding", b"gz\xffip", 415),
        (b"User-Agent", b"Mozilla/5.0 \xff\xfe", 200),
        (b"Origin", b"https://\xe9.example", 200),
    ],
)
async def test_header_values_that_are_not_utf8(
    gateway: TestClient,
    project: CreatedProject,
    services: Any,
    kafka_topic: str,
    name: bytes,
    value: bytes,
    status: int,
) -> None:
    headers = [(name, value)]
    if name != b"X-API-Key":
        headers.append((b"X-API-Key", project.public_key.encode()))
    host, port = str(gateway.server.host), int(gateway.port or 0)
    answer = await raw_post(host, port, headers, orjson.dumps(event(1)))
    assert answer[0] == status, answer
    assert isinstance(answer[1], dict)
    await still_serving(gateway, project.public_key)
    if status == 200:
        records = await read_topic(services.kafka_bootstrap, kafka_topic, expected=2)
        [record] = [r for r in records if r["insertId"] == "ins-1"]
        context_field = {b"User-Agent": "userAgent", b"Origin": "origin"}[name]
        assert "\ufffd" in record["context"][context_field]  # type: ignore[index]
