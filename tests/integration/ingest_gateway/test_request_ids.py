"""The request id from the HTTP answer to the records on Kafka (common/request_ids.py):
every answer names it, and every record the request appended carries it as a header,
which the workers log and dead-letter with the record."""

from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from control_plane.projects import CreatedProject
from tests.integration.ingest_gateway.pipeline import raw_records
from tests.integration.ingest_gateway.test_ingest import event

pytestmark = pytest.mark.integration


async def test_the_answer_and_every_record_carry_the_request_id(
    gateway: TestClient, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    headers = {"X-API-Key": project.public_key, "X-Request-Id": "edge-42"}
    response = await gateway.post("/", data=orjson.dumps([event(0), event(1)]), headers=headers)
    assert (response.status, response.headers["X-Request-Id"]) == (200, "edge-42")
    second = await gateway.post(
        "/", data=orjson.dumps(event(2)), headers={"X-API-Key": project.public_key}
    )
    fresh = second.headers["X-Request-Id"]
    assert second.status == 200 and len(fresh) == 32
    records = await raw_records(services.kafka_bootstrap, kafka_topic, 3)
    assert sorted(str(r.request_id) for r in records) == sorted(["edge-42", "edge-42", fresh])


async def test_a_refusal_names_its_request_id_too(gateway: TestClient) -> None:
    response = await gateway.post(
        "/", data=b"{}", headers={"X-API-Key": "pk_live_nope", "X-Request-Id": "bad id!"}
    )
    assert response.status == 401
    assert len(response.headers["X-Request-Id"]) == 32  # a hostile id is replaced
