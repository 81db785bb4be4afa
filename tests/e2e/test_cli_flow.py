"""The whole CLI flow against running processes: the App API (`python -m app_api`) and the
`realanalytics` command, on the real PostgreSQL, Redis and Kafka.

`realanalytics signup` → the mailed code → `confirm` → a browser's one-time token →
`realanalytics login` → `projects create` → ingest with the new public key → `deploy
realanalytics.yaml` → the config is on the control topic; plans by an operator only,
invitations accepted by the invitee.
"""

import asyncio
import json
import os
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestClient, TestServer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ingest_gateway.app import create_app as create_gateway
from ingest_gateway.settings import Settings as GatewaySettings
from tests.fixtures.services import Services, unique_suffix
from tests.integration.control_plane.conftest import mailed_code
from tests.support.kafka import read_topic

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
YAML = """\
project: shop
tracking_plan:
  mode: strict
  events:
    signup_completed:
      properties: {plan: string}
breakdown_keys: [plan]
allowed_origins: [https://shop.example]
retention_days: 90
"""


@pytest.fixture
async def events_topic(services: Services) -> AsyncIterator[str]:
    topic = f"t-{unique_suffix()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=services.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
        yield topic
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def cli(config_dir: Path, url: str, *args: str, stdin: str = "") -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "control_plane.cli",
        "--url",
        url,
        *args,
        env={**os.environ, "RA_CLI_CONFIG_DIR": str(config_dir)},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # no controlling terminal: prompts read stdin
    )
    output, _ = await process.communicate(stdin.encode())
    assert process.returncode is not None
    return process.returncode, output.decode()


async def server_command(database: str, *args: str) -> tuple[int, str]:
    """``python -m control_plane …`` on the server, with the database's credentials."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "control_plane",
        *args,
        env={**os.environ, "RA_DATABASE_URL": database},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_signup_login_create_ingest_deploy(
    app_url: str,
    services: Services,
    pg_schema: str,
    kafka_topic: str,
    events_topic: str,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    config_dir = tmp_path / "cli"
    mail_dir = tmp_path / "mail"
    # Sign up from the CLI: the code to confirm the address comes by mail.
    code, out = await cli(
        config_dir,
        app_url,
        "signup",
        "--email",
        "founder@shop.example",
        stdin="password123\npassword123\n",
    )
    assert code == 1 and "Too easy to guess" in out, out
    code, out = await cli(
        config_dir,
        app_url,
        "signup",
        "--email",
        "founder@shop.example",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert code == 0 and "realanalytics confirm <code>" in out, out
    confirmation = await mailed_code(mail_dir, "founder@shop.example", "ra_confirm_")
    code, out = await cli(config_dir, app_url, "confirm", confirmation)
    assert code == 0 and "Logged in to" in out, out
    code, out = await cli(config_dir, app_url, "whoami")
    assert (code, out.strip()) == (0, f"founder@shop.example at {app_url}")

    # A browser session makes a one-time token for another machine's CLI.
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as browser:  # IP host
        response = await browser.post(
            f"{app_url}/api/auth/login",
            json={"email": "founder@shop.example", "password": PASSWORD},
            headers={"Origin": app_url},
        )
        assert response.status == 200
        response = await browser.post(f"{app_url}/api/cli/tokens", headers={"Origin": app_url})
        assert response.status == 201
        one_time = (await response.json())["token"]

    code, out = await cli(config_dir, app_url, "login", "--token", one_time)
    assert code == 0, out
    credentials = config_dir / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    code, out = await cli(config_dir, app_url, "login", "--token", one_time)
    assert (code, out.strip()) == (1, "Error: Invalid, expired or already used CLI token")

    code, out = await cli(config_dir, app_url, "projects", "create", "shop", "--json")
    assert code == 0, out
    created = json.loads(out)
    project_id = created["project"]["id"]
    code, out = await cli(config_dir, app_url, "projects", "list")
    assert code == 0 and "shop" in out and "10000" in out

    # The new public key works at the gateway straight away.
    gateway_settings = GatewaySettings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        events_topic=events_topic,
        redis_prefix=redis_prefix,
    )
    async with TestClient(TestServer(create_gateway(gateway_settings))) as gateway:
        event = {
            "event": "signup_completed",
            "timestamp": "2026-02-03T15:30:00.000Z",
            "distinctId": "user_123",
            "sessionId": "sess_abc",
            "properties": {"plan": "pro"},
        }
        response = await gateway.post("/", json=event, headers={"X-API-Key": created["publicKey"]})
        assert response.status == 200, await response.text()

    config_file = tmp_path / "realanalytics.yaml"
    config_file.write_text(YAML)
    code, out = await cli(
        config_dir, app_url, "deploy", str(config_file), "--secret-key", "sk_live_nope"
    )
    assert (code, out.strip().splitlines()[-1]) == (1, "Error: Invalid secret key")
    code, out = await cli(
        config_dir, app_url, "deploy", str(config_file), "--secret-key", created["secretKey"]
    )
    assert code == 0, out
    assert '+  "retentionDays": 90' in out and "Deployed version 1 of shop." in out

    records = await read_topic(services.kafka_bootstrap, kafka_topic, expected=1)
    assert [(r["_key"], r["type"], r["version"]) for r in records] == [
        (project_id, "config_deployed", 1)
    ]
    config = records[0]["config"]
    assert config["breakdownKeys"] == ["plan"]  # type: ignore[index]
    assert config["allowedOrigins"] == ["https://shop.example"]  # type: ignore[index]
    assert config["trackingPlan"]["mode"] == "strict"  # type: ignore[index]

    code, out = await cli(config_dir, app_url, "deploy", str(config_file), "--dry-run")
    assert (code, out.strip()) == (0, "No changes against version 1 of shop.")

    # Versions, rollback, keys and plan from the CLI.
    second = config_file.read_text().replace("retention_days: 90", "retention_days: 30")
    config_file.write_text(second)
    code, out = await cli(
        config_dir, app_url, "deploy", str(config_file), "--secret-key", created["secretKey"]
    )
    assert code == 0 and "Deployed version 2 of shop." in out, out
    code, out = await cli(
        config_dir,
        app_url,
        "rollback",
        "1",
        "--project",
        "shop",
        "--secret-key",
        created["secretKey"],
    )
    assert (code, out.strip()) == (0, "Deployed version 3 of shop (the config of 1).")
    code, out = await cli(config_dir, app_url, "history", "shop")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[2:]] == ["3", "2", "1"]
    # Plans are the operators'; an operator is made on the server's command line.
    code, out = await cli(config_dir, app_url, "projects", "plan", "shop", "pro")
    assert (code, out.strip()) == (1, "Error: Only an operator can change a project's plan")
    code, out = await server_command(pg_schema, "operators", "grant", "founder@shop.example")
    assert (code, out.strip()) == (0, "founder@shop.example is now an operator")
    code, out = await cli(config_dir, app_url, "projects", "plan", "shop", "pro")
    assert (code, out.strip()) == (0, "shop: plan pro, 1000000 events/month")
    # A colleague joins by accepting the mailed invitation.
    code, out = await cli(
        config_dir, app_url, "projects", "add-member", "shop", "mate@shop.example"
    )
    assert code == 0 and "Invited mate@shop.example to shop as member" in out, out
    code, out = await cli(config_dir, app_url, "projects", "invitations", "shop")
    assert code == 0 and "mate@shop.example" in out
    mate_dir = tmp_path / "mate"
    code, out = await cli(
        mate_dir,
        app_url,
        "signup",
        "--email",
        "mate@shop.example",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert code == 0, out
    mate_code = await mailed_code(mail_dir, "mate@shop.example", "ra_confirm_")
    assert (await cli(mate_dir, app_url, "confirm", mate_code))[0] == 0
    invitation = await mailed_code(mail_dir, "mate@shop.example", "ra_invite_")
    code, out = await cli(mate_dir, app_url, "invitations", "accept", invitation)
    assert (code, out.strip()) == (0, "You are now member of shop")
    # Deleting a person is the owners' (carried out by the workers: test_erasure.py).
    code, out = await cli(
        config_dir, app_url, "delete-person", "--project", "shop", "--no-wait", "user_123"
    )
    assert code == 0 and out.startswith("Deletion ") and out.strip().endswith(": pending"), out
    code, out = await cli(
        mate_dir, app_url, "delete-person", "--project", "shop", "--no-wait", "user_123"
    )
    assert (code, out.strip()) == (1, "Error: Forbidden"), out
    code, out = await cli(config_dir, app_url, "projects", "rotate-keys", "shop")
    assert code == 0 and "secret key: sk_live_" in out
    code, out = await cli(config_dir, app_url, "projects", "show", "shop")
    assert code == 0 and "founder@shop.example" in out and created["publicKey"] not in out
    assert "usage " in out and "of 1000000 events" in out and "mate@shop.example" in out
    records = await read_topic(services.kafka_bootstrap, kafka_topic, expected=3)
    assert [r["version"] for r in records] == [1, 2, 3]
    assert records[2]["config"] == records[0]["config"]

    # The query API answers on the same origin with the same bearer token.
    query_file = tmp_path / "query.json"
    query = {
        "type": "metric",
        "projectId": "shop",
        "event": "signup_completed",
        "metric": "count",
        "dateRange": {"start": "2026-02-01T00:00:00.000Z", "end": "2026-02-03T23:59:59.999Z"},
    }
    query_file.write_text(json.dumps(query))
    code, out = await cli(config_dir, app_url, "query", str(query_file))
    assert code == 0, out
    assert out.splitlines()[0].split() == ["value", "previous"]
    code, out = await cli(config_dir, app_url, "query", "--json", stdin=json.dumps(query))
    assert code == 0 and json.loads(out)["type"] == "metric"
    query_file.write_text(json.dumps({**query, "projectId": "someone-elses"}))
    code, out = await cli(config_dir, app_url, "query", str(query_file))
    assert code == 1 and len(out.strip().splitlines()) == 1 and out.startswith("Error: ")

    code, out = await cli(config_dir, app_url, "logout")
    assert code == 0
    code, out = await cli(config_dir, app_url, "projects", "list")
    assert code == 1 and "not logged in" in out

    # Logging in with email and password runs the same token flow from the CLI.
    code, out = await cli(
        config_dir, app_url, "login", "--email", "founder@shop.example", stdin="wrong pw\n"
    )
    assert (code, out.strip().splitlines()[-1]) == (1, "Error: Invalid email or password")
    code, out = await cli(
        config_dir, app_url, "login", "--email", "founder@shop.example", stdin=f"{PASSWORD}\n"
    )
    assert code == 0, out
    code, out = await cli(config_dir, app_url, "whoami")
    assert (code, out.strip()) == (0, f"founder@shop.example at {app_url}")
