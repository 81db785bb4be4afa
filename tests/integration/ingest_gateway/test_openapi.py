"""The gateway's OpenAPI document is valid and its answers match it."""

import io
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

from control_plane.projects import CreatedProject
from tests.integration.ingest_gateway.test_ingest import event

pytestmark = pytest.mark.integration


def check_answer(document: dict[str, Any], status: int, body: Any) -> None:
    responses = document["paths"]["/"]["post"]["responses"]
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    OAS30Validator({**schema, "components": document["components"]}).validate(body)


async def test_document_is_valid_and_answers_match_it(
    gateway: TestClient, project: CreatedProject
) -> None:
    document = await (await gateway.get("/openapi.json")).json()
    validate_spec(document)
    key = {"X-API-Key": project.public_key}
    requests: list[tuple[bytes, dict[str, str]]] = [
        (orjson.dumps([event(1), event(2)]), key),
        (orjson.dumps({"apiKey": project.public_key, "events": [event(3)]}), {}),
        (orjson.dumps([event(4, event="")]), key),
        (orjson.dumps([event(n, event="", distinctId="") for n in range(100)]), key),
        (b"{broken", key),
        (orjson.dumps(event(5)), {"X-API-Key": "pk_live_nope"}),
        (orjson.dumps(event(6)), {**key, "Content-Encoding": "br"}),
        (b"x" * (1024 * 1024 + 1), key),
    ]
    seen, cut = set(), (0, 0)
    for body, headers in requests:
        response = await gateway.post("/", data=io.BytesIO(body), headers=headers)
        answer = await response.json()
        check_answer(document, response.status, answer)
        if "omittedDetails" in answer:  # 200 problems, the first 100 listed
            cut = (len(answer["details"]), answer["omittedDetails"])
        seen.add(response.status)
    assert seen == {200, 400, 401, 413, 415}
    assert cut == (100, 100)
    # The request body schema accepts what the gateway accepts.
    request_schema = document["paths"]["/"]["post"]["requestBody"]["content"]["application/json"]
    validator = OAS30Validator({**request_schema["schema"], "components": document["components"]})
    validator.validate([event(7)])
    validator.validate({"apiKey": "pk_live_x", "events": [event(8)]})
    assert not validator.is_valid([event(9, properties={str(i): i for i in range(101)})])


async def test_every_route_the_gateway_serves_is_in_the_document(gateway: TestClient) -> None:
    document = await (await gateway.get("/openapi.json")).json()
    served = {
        (route.resource.canonical, route.method.lower())
        for route in gateway.app.router.routes()
        if route.resource is not None and route.method in ("GET", "POST")
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    undocumented = served - documented - {
        ("/health", "get"), ("/ready", "get"), ("/metrics", "get"), ("/openapi.json", "get")
    }  # fmt: skip
    assert not undocumented
    assert ("/v1/batch", "post") in documented and ("/import", "post") in documented
