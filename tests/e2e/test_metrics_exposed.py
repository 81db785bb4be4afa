"""Every metric the Grafana dashboard and the Prometheus rules in deploy/ read is exposed by
the running services: the gateway, a stream worker and the App API (query API and
control plane), each started as its own process and scraped at the paths
deploy/prometheus/prometheus.yml scrapes. A renamed metric would otherwise leave an empty
panel and an alert that never fires, without anyone noticing.

Labelled metrics with no sample yet (no refusal, no dead letter) still count: the
services register them at start, so /metrics lists them by name (HELP and TYPE).
"""

import asyncio
import json
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient

from ingest_gateway.settings import Settings as GatewaySettings
from tests.fixtures.services import Services
from tests.integration.ingest_gateway.conftest import gateway_process
from tests.integration.stream_workers.workers import WorkerProcess
from tests.support.metric_names import (
    dashboard_expressions,
    exposed_metric_names,
    promql_metric_names,
    rule_expressions,
)
from tests.support.testlogs import service_log

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# Series Prometheus makes itself for every target, not read from any service.
PROMETHEUS_OWN = {"up"}


def used_metric_names() -> dict[str, set[str]]:
    """Each metric name the dashboard and the rules read -> the files that read it."""
    dashboard = json.loads((DEPLOY / "grafana" / "realanalytics.json").read_text())
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    used: dict[str, set[str]] = {}
    for where, expressions in (
        ("deploy/grafana/realanalytics.json", dashboard_expressions(dashboard)),
        ("deploy/prometheus/alerts.yml", rule_expressions(rules)),
    ):
        assert expressions, where
        for expression in expressions:
            for name in promql_metric_names(expression):
                used.setdefault(name, set()).add(where)
    return used


def scrape_paths() -> dict[str, str]:
    """Each job of the scrape config -> the path Prometheus scrapes."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = config["scrape_configs"]
    return {job["job_name"]: job.get("metrics_path", "/metrics") for job in jobs}


def scrape(url: str, seconds: float = 90) -> str:
    """The page at ``url`` once it answers (a worker serves only after its start-up)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
async def worker_topics(
    services: Services, kafka_topic: str, unique_group: str
) -> AsyncIterator[None]:
    """The topics the processes make for themselves (control, dead letters, Faust's own),
    deleted afterwards."""
    yield
    admin = AIOKafkaAdminClient(bootstrap_servers=services.kafka_bootstrap)
    await admin.start()
    try:
        prefixes = (unique_group, f"{kafka_topic}-")
        mine = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


async def test_every_metric_the_dashboard_and_alerts_read_is_exposed(
    services: Services,
    app_url: str,
    pg_schema: str,
    kafka_topic: str,
    unique_group: str,
    redis_prefix: str,
    worker_topics: None,
    tmp_path: Path,
) -> None:
    env = {
        **services.as_env(),
        "RA_DATABASE_URL": pg_schema,
        "RA_EVENTS_TOPIC": kafka_topic,
        "RA_CONTROL_TOPIC": f"{kafka_topic}-control",
        "RA_WORKER_DEAD_LETTER_TOPIC": f"{kafka_topic}-dlq",
        "RA_WORKER_GROUP": unique_group,
        "RA_REDIS_PREFIX": redis_prefix,
        "RA_WORKER_DATA_DIR": str(tmp_path / "faust"),
    }
    worker = WorkerProcess(env, service_log("worker-metrics"), services.repo_root)
    gateway = GatewaySettings(
        database_url=pg_schema,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        events_topic=kafka_topic,
        control_topic=env["RA_CONTROL_TOPIC"],
        redis_prefix=redis_prefix,
    )
    paths = scrape_paths()
    with ExitStack() as stack:
        worker.start()
        stack.callback(worker.stop)
        gateway_url = await asyncio.to_thread(stack.enter_context, gateway_process(gateway))
        bases = {
            "ingest_gateway": gateway_url,
            "stream_workers": f"http://127.0.0.1:{worker.port}",
            "query_api": app_url,
            "control_plane": app_url,
        }
        assert paths.keys() == bases.keys()
        try:
            pages = await asyncio.gather(
                *(asyncio.to_thread(scrape, bases[job] + path) for job, path in paths.items())
            )
        except OSError:
            pytest.fail(f"a service did not serve its metrics:\n{worker.log.read_text()[-3000:]}")
    exposed: set[str] = set().union(*(exposed_metric_names(page) for page in pages))
    missing: dict[str, Any] = {
        name: sorted(where)
        for name, where in used_metric_names().items()
        if name not in exposed | PROMETHEUS_OWN
    }
    assert not missing, f"read by deploy/ but exposed by no service: {missing}"
