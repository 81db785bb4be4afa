"""No service logs a key, a token, a password or an event's payload (issue 15).

The real processes — the App API (control plane and query API), the gateway and a stream
worker — are driven down every path that handles one: sign-up, a wrong and a right
password, CLI tokens used, reused and forged, deploys with a wrong secret key and with an
invalid config, events accepted, refused for a wrong key, a secret key, a malformed body
or an unparsable header, and poison records the worker dead-letters. Their logs are then
read: they must hold what the services did (so this test can fail) and none of the keys,
tokens, passwords or payload markers. The end-of-run scan (tests/conftest.py) reads every
other log of the run for the same.
"""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from aiokafka.admin import AIOKafkaAdminClient
from yarl import URL

from contracts.api_keys import KeyKind, generate_key
from contracts.events import encode_record, record_key
from contracts.sessions import ACCESS_TOKEN_PREFIX, SESSION_COOKIE, new_token
from ingest_gateway.settings import Settings as GatewaySettings
from migrations.runner import apply_migrations
from tests.fixtures.services import Services, fresh_topic
from tests.integration.control_plane.conftest import PASSWORD, mailed_code
from tests.integration.ingest_gateway.conftest import gateway_process
from tests.integration.stream_workers.test_poison_worker import metric, send
from tests.integration.stream_workers.test_sink_poison import refuse_poison
from tests.integration.stream_workers.truth import record
from tests.integration.stream_workers.workers import (
    WorkerProcess,
    applied_offsets,
    free_port,
    wait_until,
)
from tests.support.logscan import SecretsSeen, report, scan_files
from tests.support.testlogs import service_log

pytestmark = pytest.mark.integration


@pytest.fixture
def database(pg_schema: str) -> str:
    apply_migrations(pg_schema)
    return pg_schema


@pytest.fixture
async def events_topic(services: Services, kafka_topic: str) -> AsyncIterator[str]:
    async with fresh_topic(services.kafka_bootstrap, f"{kafka_topic}-events") as topic:
        yield topic


@contextlib.contextmanager
def app_api_process(env: dict[str, str], log: Path, repo_root: Path) -> Iterator[str]:
    """``python -m app_api`` on a free port, its output in ``log``; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        **env,
        "RA_APP_HOST": "127.0.0.1",
        "RA_APP_PORT": str(port),
        "RA_APP_ORIGINS": url,
    }
    with log.open("wb") as output:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "app_api"],
            env=environment,
            cwd=repo_root,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(300):  # 30 s: a loaded machine starts Python slowly
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the App API did not become healthy")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


async def raw_exchange(url: str, request: bytes) -> bytes:
    """One request as raw bytes (one aiohttp would refuse to send); the raw answer."""
    address = URL(url)
    reader, writer = await asyncio.open_connection(address.host, address.port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def delete_worker_topics(bootstrap: str, prefixes: tuple[str, ...]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        mine = [topic for topic in await admin.list_topics() if topic.startswith(prefixes)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


async def drive_the_app_api(app: str, mail_dir: Path, seen: SecretsSeen) -> dict[str, str]:
    """Accounts, CLI tokens and deploys, right and wrong; what the gateway needs after."""
    origin = {"Origin": app}
    email = f"ops-{uuid.uuid4().hex[:8]}@shop.example"
    seen.register(PASSWORD, "password")
    wrong = seen.register(f"wrong-{uuid.uuid4().hex}", "wrong password")
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as browser:
        answer = await browser.post(
            f"{app}/api/auth/signup", json={"email": email, "password": PASSWORD}, headers=origin
        )
        assert answer.status == 202, await answer.text()
        code = seen.register(await mailed_code(mail_dir, email, "ra_confirm_"), "confirmation")
        answer = await browser.post(f"{app}/api/auth/confirm", json={"token": code})
        assert answer.status == 200, await answer.text()
        answer = await browser.post(
            f"{app}/api/auth/login", json={"email": email, "password": wrong}, headers=origin
        )
        assert answer.status == 401
        answer = await browser.post(
            f"{app}/api/auth/login", json={"email": email, "password": PASSWORD}, headers=origin
        )
        assert answer.status == 200, await answer.text()
        session = browser.cookie_jar.filter_cookies(URL(app))[SESSION_COOKIE].value
        seen.register(session, "session id")
        answer = await browser.post(
            f"{app}/api/projects", json={"name": "Shop", "slug": "shop"}, headers=origin
        )
        assert answer.status == 201, await answer.text()
        created = await answer.json()
        answer = await browser.post(f"{app}/api/cli/tokens", headers=origin)
        assert answer.status == 201, await answer.text()
        once = seen.register((await answer.json())["token"], "CLI login token")
    async with ClientSession() as cli:
        answer = await cli.post(f"{app}/api/cli/validate", json={"token": once})
        assert answer.status == 201, await answer.text()
        access = seen.register((await answer.json())["accessToken"], "CLI access token")
        answer = await cli.post(f"{app}/api/cli/validate", json={"token": once})
        assert answer.status == 401  # used once already
        forged = seen.register(new_token(ACCESS_TOKEN_PREFIX), "forged CLI token")
        answer = await cli.get(f"{app}/api/projects", headers={"Authorization": f"Bearer {forged}"})
        assert answer.status == 401
        bearer = {"Authorization": f"Bearer {access}"}
        project_id = created["project"]["id"]
        secret = seen.register(created["secretKey"], "secret key")
        wrong_secret = seen.register(generate_key(KeyKind.SECRET), "wrong secret key")
        config = {"breakdownKeys": ["plan"]}
        deploy = {"projectId": project_id, "config": config}
        answer = await cli.post(
            f"{app}/api/deploy", json=deploy, headers={**bearer, "X-Secret-Key": wrong_secret}
        )
        assert answer.status == 401
        marker = seen.register(f"marker-config-{uuid.uuid4().hex}", "payload marker")
        invalid = {"projectId": project_id, "config": {"trackingPlan": {"mode": marker}}}
        answer = await cli.post(
            f"{app}/api/deploy", json=invalid, headers={**bearer, "X-Secret-Key": secret}
        )
        assert answer.status == 400
        answer = await cli.post(
            f"{app}/api/deploy", json=deploy, headers={**bearer, "X-Secret-Key": secret}
        )
        assert answer.status == 201, await answer.text()
        marker = seen.register(f"marker-query-{uuid.uuid4().hex}", "payload marker")
        query = {"project": project_id, "type": marker, "event": marker}
        answer = await cli.post(f"{app}/api/query", json=query, headers=bearer)
        assert answer.status == 400, await answer.text()
    public = seen.register(created["publicKey"], "public key")
    return {"project": project_id, "public": public, "secret": secret}


async def drive_the_gateway(gateway: str, project: dict[str, str], seen: SecretsSeen) -> int:
    """Events accepted and refused (a wrong key, a secret key, a malformed body, a header
    the HTTP parser refuses); how many the gateway appended."""
    marker = seen.register(f"marker-event-{uuid.uuid4().hex}", "payload marker")
    poison = seen.register(f"poison-{uuid.uuid4().hex}", "payload (distinct id)")

    def event(distinct_id: str) -> dict[str, Any]:
        return {
            "event": "checkout",
            "timestamp": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.000Z}",
            "distinctId": distinct_id,
            "sessionId": "s1",
            "properties": {"plan": marker, "note": marker},
        }

    async def post(body: Any, key: str) -> int:
        data = body if isinstance(body, bytes) else None
        json = None if isinstance(body, bytes) else body
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        async with session.post(gateway, data=data, json=json, headers=headers) as answer:
            return answer.status

    wrong_key = seen.register(generate_key(KeyKind.PUBLIC), "wrong public key")
    async with ClientSession() as session:
        assert await post([event("u1"), event(poison)], project["public"]) == 200
        assert await post(event("u2"), wrong_key) == 401
        assert await post(event("u3"), project["secret"]) == 401  # a secret key, sent by mistake
        truncated = b'{"event": "checkout", "properties": {"plan": "' + marker.encode()
        assert await post(truncated, project["public"]) == 400
    key = project["public"].encode()
    answer = await raw_exchange(
        gateway,
        b"POST / HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key + b"\x01\r\nContent-Length: 2\r\n\r\n{}",
    )
    assert answer.split(b" ", 2)[1] == b"400"
    return 2


async def test_no_process_logs_a_key_a_token_a_password_or_a_payload(
    services: Services,
    database: str,
    kafka_topic: str,
    events_topic: str,
    redis_prefix: str,
    unique_group: str,
    tmp_path: Path,
    secrets_seen: SecretsSeen,
) -> None:
    seen = secrets_seen
    bootstrap = services.kafka_bootstrap
    control = kafka_topic
    logs = {name: service_log(name) for name in ("app_api", "ingest_gateway", "worker")}
    refuse_poison(database)  # the worker dead-letters the gateway's "poison-…" event
    worker = WorkerProcess(
        {
            **services.as_env(),
            "RA_DATABASE_URL": database,
            "RA_EVENTS_TOPIC": events_topic,
            "RA_CONTROL_TOPIC": control,
            "RA_WORKER_DEAD_LETTER_TOPIC": f"{events_topic}-dlq",
            "RA_WORKER_GROUP": unique_group,
            "RA_REDIS_PREFIX": redis_prefix,
            "RA_WORKER_DATA_DIR": str(tmp_path / "faust"),
            "RA_WORKER_BATCH_SECONDS": "0.3",
        },
        logs["worker"],
        services.repo_root,
    )
    app_env = {
        **services.as_env(),
        "RA_DATABASE_URL": database,
        "RA_CONTROL_TOPIC": control,
        "RA_REDIS_PREFIX": redis_prefix,
        "RA_OUTBOX_POLL_SECONDS": "0.2",
        "RA_MAIL_DIR": str(tmp_path / "mail"),  # mails hold codes: never in the log directory
    }
    gateway_settings = GatewaySettings(
        database_url=database,
        redis_url=services.redis_url,
        kafka_bootstrap=bootstrap,
        events_topic=events_topic,
        control_topic=control,
        redis_prefix=redis_prefix,
    )
    worker.start()
    try:
        with (
            app_api_process(app_env, logs["app_api"], services.repo_root) as app,
            gateway_process(gateway_settings, log=logs["ingest_gateway"]) as gateway,
        ):
            project = await drive_the_app_api(app, tmp_path / "mail", seen)
            appended = await drive_the_gateway(gateway, project, seen)
            marker = seen.register(f"marker-record-{uuid.uuid4().hex}", "payload marker")
            unreadable = b'{"not json": "' + marker.encode()
            await send(bootstrap, events_topic, [(b"k", unreadable)])
            stray = record(project["project"], "e", datetime.now(UTC), "poison-stray")
            stray_marker = seen.register(f"marker-stray-{uuid.uuid4().hex}", "payload marker")
            stray.properties["plan"] = stray_marker
            key = record_key(stray.project_id, stray.distinct_id)
            await send(bootstrap, events_topic, [(key, encode_record(stray))])
            total = appended + 2
            await wait_until(
                lambda: applied_offsets(database, unique_group) == total,
                60,
                "every record applied or dead-lettered",
                [worker.log],
            )
            await wait_until(
                lambda: sum(metric(worker.port, "worker_dead_lettered_total").values()) == 3,
                20,
                "the three dead letters",
                [worker.log],
            )
    finally:
        worker.stop()
        await delete_worker_topics(bootstrap, (unique_group, f"{events_topic}-"))

    written = {name: path.read_text() for name, path in logs.items()}
    # What the services did is there: the logs were written, so the scan below can fail.
    assert "mounting control_plane at /api" in written["app_api"], written["app_api"][-3000:]
    assert "config version 1 deployed" in written["app_api"]
    assert "malformed HTTP request refused" in written["ingest_gateway"]
    assert "dead-lettered" in written["worker"], written["worker"][-3000:]
    findings = scan_files(logs.values(), seen.labels())
    assert not findings, report(findings)
