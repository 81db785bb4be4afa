"""POST / against real Kafka, PostgreSQL and Redis: the contract's answers and the records."""

import asyncio
import gzip
import io
import json
import subprocess
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from control_plane.projects import CreatedProject
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

SEED_BODY = """[
    {
      "event": "signup_completed",
      "timestamp": "2026-02-03T15:30:00.000Z",
      "distinctId": "user_123",
      "sessionId": "sess_abc",
      "properties": {
        "plan": "pro",
        "source": "pricing_page"
      }
    }
  ]"""


def event(n: int = 0, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event": "page_viewed",
        "timestamp": "2026-02-03T15:30:00.000Z",
        "distinctId": f"user_{n}",
        "sessionId": f"sess_{n}",
        "properties": {"$pathname": f"/p/{n}"},
        "insertId": f"ins-{n}",
    }
    base.update(overrides)
    return base


async def post(gateway: TestClient, body: Any, key: str | None, **kwargs: Any) -> tuple[int, Any]:
    headers = kwargs.pop("headers", {})
    if key is not None:
        headers["X-API-Key"] = key
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    headers.setdefault("Content-Type", "application/json")
    response = await gateway.post("/", data=data, headers=headers, **kwargs)
    return response.status, await response.json()


async def test_seed_curl_example_appends_the_event(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    url = str(gateway.make_url("/"))
    before = datetime.now(UTC)
    completed = await asyncio.to_thread(
        subprocess.run,
        [
            "curl",
            "-sS",
            "-X",
            "POST",
            url,
            "-H",
            "Content-Type: application/json",
            "-H",
            f"X-API-Key: {project.public_key}",
            "-d",
            SEED_BODY,
        ],
        capture_output=True,
        check=True,
    )
    assert json.loads(completed.stdout) == {"success": True, "events": 1}

    [record] = await read_topic(services.kafka_bootstrap, kafka_topic, expected=1)
    assert record["projectId"] == project.id
    assert record["event"] == "signup_completed"
    assert record["timestamp"] == "2026-02-03T15:30:00.000000Z"
    assert record["distinctId"] == "user_123"
    assert record["sessionId"] == "sess_abc"
    assert record["properties"] == {"plan": "pro", "source": "pricing_page"}
    assert record["insertId"] is None
    assert record["context"]["userAgent"].startswith("curl/")
    assert record["context"]["ip"] == "127.0.0.1"  # the peer (the workers drop it)
    assert record["_key"] == f"{project.id}:user_123"
    received = datetime.fromisoformat(str(record["receivedAt"]))
    assert before <= received <= datetime.now(UTC)
    assert str(record["id"])[14] == "7"  # UUIDv7


async def test_three_shapes_and_text_plain_beacon(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    assert await post(gateway, event(1), project.public_key) == (
        200,
        {"success": True, "events": 1},
    )
    assert await post(gateway, [event(2), event(3)], project.public_key) == (
        200,
        {"success": True, "events": 2},
    )
    beacon = orjson.dumps({"apiKey": project.public_key, "events": [event(4)]})
    status, body = await post(
        gateway, beacon, None, headers={"Content-Type": "text/plain;charset=UTF-8"}
    )
    assert (status, body) == (200, {"success": True, "events": 1})
    records = await read_topic(services.kafka_bootstrap, kafka_topic, expected=4)
    assert sorted(r["insertId"] for r in records) == ["ins-1", "ins-2", "ins-3", "ins-4"]


async def test_gzip_body_is_accepted(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    body = gzip.compress(orjson.dumps([event(n) for n in range(100)]))
    status, answer = await post(
        gateway, body, project.public_key, headers={"Content-Encoding": "gzip"}
    )
    assert (status, answer) == (200, {"success": True, "events": 100})
    assert len(await read_topic(services.kafka_bootstrap, kafka_topic, expected=100)) == 100


async def test_invalid_batch_is_refused_whole_and_nothing_is_appended(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    batch = [
        event(0),
        event(1, event="x" * 101),
        event(2, properties={f"k{i}": i for i in range(101)}),
        event(3, timestamp="not a date"),
        "not an object",
    ]
    status, body = await post(gateway, batch, project.public_key)
    assert status == 400
    assert body["error"] == "Validation failed"
    assert [(d["index"], d["field"]) for d in body["details"]] == [
        (1, "event"),
        (2, "properties"),
        (3, "timestamp"),
        (4, None),
    ]
    assert await read_topic(services.kafka_bootstrap, kafka_topic, timeout=1.5) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"event": ', "Malformed JSON"),
        (b"[]", "At least one event"),
        (orjson.dumps([event(n) for n in range(101)]), "At most 100 events"),
        (b"null", "Body must be"),
        (orjson.dumps({"event": "x", "timestamp": "2026-01-01", "distinctId": 5}), "Missing"),
    ],
)
async def test_bad_bodies_get_a_clear_400(
    gateway: TestClient, project: CreatedProject, body: bytes, message: str
) -> None:
    status, answer = await post(gateway, body, project.public_key)
    assert status == 400
    assert answer["error"] == "Validation failed"
    assert any(message in d["message"] for d in answer["details"])


async def test_body_over_one_mebibyte_is_413(gateway: TestClient, project: CreatedProject) -> None:
    big = io.BytesIO(orjson.dumps([event(0, properties={"blob": "x" * (1024 * 1024)})]))
    response = await gateway.post("/", data=big, headers={"X-API-Key": project.public_key})
    assert (response.status, await response.json()) == (413, {"error": "Payload too large"})


async def test_gzip_that_inflates_past_the_limit_is_413(
    gateway: TestClient, project: CreatedProject
) -> None:
    bomb = gzip.compress(orjson.dumps([event(0, properties={"blob": "a" * (3 * 1024 * 1024)})]))
    assert len(bomb) < 64 * 1024
    status, answer = await post(
        gateway, bomb, project.public_key, headers={"Content-Encoding": "gzip"}
    )
    assert (status, answer) == (413, {"error": "Payload too large"})


@pytest.mark.parametrize(
    ("encoding", "body", "status", "error"),
    [
        ("br", b"\x1b\x00", 415, "Unsupported Content-Encoding"),
        ("deflate", b"not deflate", 400, "Validation failed"),
        ("gzip", b"\x1f\x8b truncated", 400, "Validation failed"),
    ],
)
async def test_unknown_or_corrupt_encodings_get_a_json_4xx(
    gateway: TestClient,
    project: CreatedProject,
    encoding: str,
    body: bytes,
    status: int,
    error: str,
) -> None:
    answer = await post(gateway, body, project.public_key, headers={"Content-Encoding": encoding})
    assert answer[0] == status
    assert answer[1]["error"] == error


async def test_keys_that_are_not_a_live_public_key_get_401(
    gateway: TestClient, project: CreatedProject
) -> None:
    invalid = {"error": "Invalid API key"}
    assert await post(gateway, event(), None) == (401, invalid)
    assert await post(gateway, event(), "pk_live_unknown") == (401, invalid)
    assert await post(gateway, event(), project.secret_key) == (401, invalid)
    envelope = {"apiKey": project.secret_key, "events": [event()]}
    assert await post(gateway, envelope, None) == (401, invalid)


async def test_cors_preflight_and_headers_for_browsers(gateway: TestClient) -> None:
    response = await gateway.options(
        "/",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "X-API-Key" in response.headers["Access-Control-Allow-Headers"]
    refused = await gateway.post("/", data=b"{}", headers={"Origin": "https://shop.example"})
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]


async def test_health_ready_and_metrics(gateway: TestClient, project: CreatedProject) -> None:
    assert (await gateway.get("/health")).status == 200
    ready = await gateway.get("/ready")
    assert (ready.status, await ready.json()) == (200, {"kafka": True, "redis": True})
    await post(gateway, [event(1), event(2)], project.public_key)
    await post(gateway, b"[]", project.public_key)
    text = await (await gateway.get("/metrics")).text()
    assert 'ingest_requests_total{status="200"} 1.0' in text
    assert 'ingest_requests_total{status="400"} 1.0' in text
    assert "ingest_events_accepted_total 2.0" in text
    assert "ingest_append_seconds_count 1.0" in text


async def test_unknown_routes_answer_json(gateway: TestClient) -> None:
    response = await gateway.get("/nope")
    assert response.status == 404
    assert await response.json() == {"error": "Not Found"}
