"""The service fixtures keep their promises: they clean up, and only marked tests get them.

Each test runs a small inner pytest session with the fixtures plugin, as a suite would.
"""

import asyncio
import json
from pathlib import Path

import psycopg
import pytest
import redis
from aiokafka.admin import AIOKafkaAdminClient

from tests.fixtures.services import Services

pytestmark = pytest.mark.integration

# The suite's own settings, so the inner sessions are as strict as the outer one.
INNER_INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers
filterwarnings = error
markers =
    integration: real servers
    e2e: whole processes
"""


def run_inner(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makeini(INNER_INI)
    pytester.makepyfile(source)
    return pytester.runpytest_inprocess("-p", "tests.fixtures.services", "-p", "no:cacheprovider")


def test_an_unmarked_test_cannot_reach_the_servers(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        def test_unmarked(services):
            raise AssertionError("must not run")
        """,
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*uses the real servers*not marked*integration*"])
    assert "must not run" not in result.stdout.str()


def test_a_local_fixture_named_services_is_not_gated(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        import pytest

        @pytest.fixture
        def services():
            return {"web": {}}

        def test_unmarked(services):
            assert services == {"web": {}}
        """,
    )
    result.assert_outcomes(passed=1)


# Synchronous on purpose: the inner session runs its own event loop for `kafka_topic`.
def test_per_test_schema_topic_and_keys_are_gone_after_the_test(
    pytester: pytest.Pytester, services: Services, tmp_path: Path
) -> None:
    record = tmp_path / "names.json"
    result = run_inner(
        pytester,
        f"""
        import json, pathlib, psycopg, pytest, redis

        @pytest.mark.integration
        def test_leaves_things_behind(services, pg_schema, kafka_topic, redis_prefix):
            with psycopg.connect(pg_schema, autocommit=True) as conn:
                schema = conn.execute("select current_schema()").fetchone()[0]
                conn.execute("create table leftover (id int)")
            with redis.Redis.from_url(services.redis_url) as client:
                client.set(redis_prefix + "leftover", "1")
            names = {{"schema": schema, "topic": kafka_topic, "prefix": redis_prefix}}
            pathlib.Path({str(record)!r}).write_text(json.dumps(names))
        """,
    )
    result.assert_outcomes(passed=1)
    names = json.loads(record.read_text())

    with psycopg.connect(services.database_url) as conn:
        found = conn.execute(
            "select 1 from pg_namespace where nspname = %s", (names["schema"],)
        ).fetchall()
        assert found == []
    with redis.Redis.from_url(services.redis_url) as client:
        assert list(client.scan_iter(match=names["prefix"] + "*")) == []
    assert not asyncio.run(topic_exists(services.kafka_bootstrap, names["topic"]))


async def topic_exists(bootstrap: str, topic: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        # Deletion finishes asynchronously on the broker; give it a moment.
        for _ in range(50):
            if topic not in await admin.list_topics():
                return False
            await asyncio.sleep(0.1)
        return True
    finally:
        await admin.close()
