"""Property-based fuzzing of ``POST /api/query`` against the real app, PostgreSQL and Redis:
whatever the body or the credentials, the answer is never a 5xx and the service still
answers a good query afterwards. Bounded: a few hundred examples, tens of seconds.

Two generators: this project's own Hypothesis strategies (``benchmarks/query_fuzzing.py``,
also the benchmark's), and Schemathesis reading the OpenAPI document the app serves.
"""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.query_fuzzing import Sender, query_bodies
from query_api.app import create_standalone_app
from tests.integration.query_api import truth
from tests.integration.query_api.conftest import World, fill
from tests.integration.query_api.served import serving

pytestmark = pytest.mark.integration

PROJECTS = ("alpha", "beta")
GOOD = {
    "type": "metric",
    "projectId": "alpha",
    "event": "$pageview",
    "dateRange": {"start": "2026-02-01T00:00:00Z", "end": "2026-02-03T23:59:59.999Z"},
}
BOUNDED = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def served(module_world: World, services: Any) -> Iterator[tuple[str, World]]:
    records = truth.generate(module_world.project, datetime(2026, 2, 1, tzinfo=UTC), 3, 500)
    asyncio.run(fill(module_world, records, services))
    with serving(create_standalone_app(module_world.settings())) as url:
        yield url, module_world


def credentials(world: World) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly the member's session; sometimes none, garbage or bytes that are not UTF-8."""
    garbage = st.binary(min_size=1, max_size=40).map(
        lambda b: b"ra_session=" + b.replace(b"\r", b"").replace(b"\n", b"")
    )
    return st.one_of(
        st.just({"Cookie": f"ra_session={world.cookie}"}),
        st.just({"Cookie": f"ra_session={world.cookie}"}),
        st.just({"Cookie": f"ra_session={world.cookie}"}),
        st.just({}),
        garbage.map(lambda value: {"Cookie": value}),
        st.text(max_size=30).map(
            lambda t: {
                "Authorization": "Bearer "
                + t.encode("utf-8").decode("latin-1").replace("\r", "").replace("\n", "")
            }
        ),
    )


def still_answers(url: str, world: World) -> None:
    response = requests.post(
        f"{url}/api/query", json=GOOD, cookies={"ra_session": world.cookie}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert requests.get(f"{url}/health", timeout=30).status_code == 200


def test_fuzzed_bodies_and_credentials_never_get_a_5xx(served):
    url, world = served
    sender = Sender(url, {})

    @BOUNDED
    @given(body=query_bodies(PROJECTS), headers=credentials(world))
    def check(body: bytes, headers: dict[str, Any]) -> None:
        status = sender.post(body, headers)
        assert status < 500, (status, body[:300], headers)

    try:
        check()
    finally:
        sender.close()
    still_answers(url, world)


def test_schemathesis_from_the_served_openapi_document_finds_no_5xx(served):
    url, world = served
    schema = schemathesis.openapi.from_url(f"{url}/api/query/openapi.json")
    operation = schema["/api/query"]["POST"]
    cases = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    @BOUNDED
    @given(case=cases)
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, cookies={"ra_session": world.cookie}, timeout=30)
        assert response.status_code < 500, (response.status_code, case.body, response.text[:300])
        if response.status_code in (400, 401, 403, 413, 429, 503):
            assert "error" in orjson.loads(response.content)

    check()
    still_answers(url, world)
