"""Property-based fuzzing of a real gateway process with real Kafka, Redis and PostgreSQL.

Whatever a client sends, the answer is never a 5xx, the gateway still answers afterwards,
and every event it accepted is a record the stream workers can store. Bounded in time:
a few hundred requests from Hypothesis strategies (``benchmarks/ingest_fuzzing.py``) and
a few hundred from Schemathesis, generated from the served ``GET /openapi.json``.
"""

import asyncio
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from benchmarks.ingest_fuzzing import Sender, fuzz
from contracts.events import decode_record
from control_plane.projects import CreatedProject
from ingest_gateway.limits import event_problems
from ingest_gateway.settings import Settings
from tests.integration.ingest_gateway.conftest import gateway_process
from tests.integration.ingest_gateway.test_ingest import event
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

HYPOTHESIS_REQUESTS = 400
SCHEMATHESIS_REQUESTS = 300


@pytest.fixture
def gateway_url(settings: Settings) -> Iterator[str]:
    with gateway_process(settings, RA_RATE_LIMIT="1000000000") as url:
        yield url


def accepted_events(url: str) -> int:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(r"^ingest_events_accepted_total (\S+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


async def still_answers(url: str, key: str) -> None:
    sender = Sender(url)
    try:
        status = await asyncio.to_thread(
            sender.post, orjson.dumps(event(1)), {"X-API-Key": key, "Content-Type": "text/plain"}
        )
    finally:
        sender.close()
    assert status == 200


async def test_hostile_requests_never_get_a_5xx_and_every_accepted_event_is_storable(
    gateway_url: str, project: CreatedProject, services: Any, kafka_topic: str
) -> None:
    sent, errors = await asyncio.to_thread(
        fuzz, gateway_url, project.public_key, HYPOTHESIS_REQUESTS
    )
    assert (sent, errors) == (HYPOTHESIS_REQUESTS, 0)
    await still_answers(gateway_url, project.public_key)
    accepted = accepted_events(gateway_url)
    assert accepted > 1  # the strategies do reach the topic, not only the refusals
    records = await read_topic(services.kafka_bootstrap, kafka_topic, expected=accepted)
    assert len(records) == accepted
    for record in records:
        raw = orjson.dumps({k: v for k, v in record.items() if not k.startswith("_")})
        stored = decode_record(raw)
        fields = {"event": stored.event, "sessionId": stored.session_id}
        assert event_problems({**fields, "properties": stored.properties}) == []


async def test_schemathesis_from_the_served_openapi_document_finds_no_5xx(
    gateway_url: str, project: CreatedProject
) -> None:
    schema = schemathesis.openapi.from_url(f"{gateway_url}/openapi.json")
    operation = schema["/"]["POST"]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    seen = {"sent": 0}

    @settings(
        max_examples=SCHEMATHESIS_REQUESTS,
        phases=[Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, keyed=st.booleans())
    def run(case: Any, keyed: bool) -> None:
        if keyed:  # half with the project's key, so requests get past authentication
            case.headers = {**(case.headers or {}), "X-API-Key": project.public_key}
        try:
            response = case.call(base_url=gateway_url)
        except UnicodeEncodeError:
            return  # a header value the HTTP client cannot send; the raw fuzz covers those
        seen["sent"] += 1
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    await asyncio.to_thread(run)
    assert seen["sent"] > SCHEMATHESIS_REQUESTS // 2
    await still_answers(gateway_url, project.public_key)
