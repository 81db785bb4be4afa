"""Kafka stopped: 503, never 200; started again: 200 — and every 200 is on the topic."""

import asyncio
import subprocess
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from control_plane.projects import CreatedProject
from tests.integration.ingest_gateway.test_ingest import event, post
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


def services_script(services: Any, *args: str) -> None:
    subprocess.run(
        ["bash", str(services.repo_root / "scripts" / "services.sh"), *args],
        check=True,
        capture_output=True,
    )


async def test_no_200_for_an_event_that_is_not_on_the_topic(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    answered: dict[str, int] = {}

    async def send(n: int) -> int:
        status, _ = await post(gateway, event(n), project.public_key)
        answered[f"ins-{n}"] = status
        return status

    assert await send(0) == 200
    await asyncio.to_thread(services_script, services, "stop", "kafka")
    try:
        down = [await send(n) for n in range(1, 4)]
        assert down == [503, 503, 503]
        response = await gateway.post("/", data=b"[]", headers={"X-API-Key": project.public_key})
        assert response.status == 400  # bad input is still refused as such
        unavailable = await gateway.post(
            "/", json=event(99), headers={"X-API-Key": project.public_key}
        )
        assert unavailable.status == 503
        assert int(unavailable.headers["Retry-After"]) >= 1
        assert await unavailable.json() == {"error": "Service unavailable"}
        answered["ins-99"] = 503
    finally:
        await asyncio.to_thread(services_script, services, "start", "kafka")

    n, status = 100, 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while status != 200 and loop.time() < deadline:
        status = await send(n)
        n += 1
        if status != 200:
            await asyncio.sleep(0.5)
    assert status == 200, "the gateway did not recover after Kafka came back"

    on_topic = {
        r["insertId"] for r in await read_topic(services.kafka_bootstrap, kafka_topic, timeout=5)
    }
    accepted = {insert_id for insert_id, code in answered.items() if code == 200}
    assert accepted <= on_topic
    assert "ins-0" in on_topic
