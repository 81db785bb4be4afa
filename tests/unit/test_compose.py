"""compose.yaml stays valid and in step with the code: no engine needed, only docker-compose."""

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.tools import require_tool

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose.yaml"

INFRA_SERVICES = {"kafka", "kafka-init", "timescaledb", "redis"}
APP_SERVICES = {"migrate", "ingest_gateway", "stream_workers", "stream_workers_overflow"}
OPS_SERVICES = {"prometheus", "grafana"}
APP_ENV_KEYS = {
    "RA_DATABASE_URL",
    "RA_REDIS_URL",
    "RA_KAFKA_BOOTSTRAP",
    "RA_EVENTS_TOPIC",
    "RA_OVERFLOW_TOPIC",
    "RA_CONTROL_TOPIC",
    "RA_WORKER_LANE",
    "RA_INGEST_HOST",
    "RA_INGEST_PORT",
    "RA_APP_HOST",
    "RA_APP_PORT",
}
# Set in compose for services still being written; remove a name from here once its
# settings module reads it. Every service of compose.yaml reads its names today.
NOT_YET_READ: set[str] = set()

_LISTENING = re.compile(r'listening\(\s*\w+,\s*"(RA_[A-Z0-9_]+)"')
LISTENING_SUFFIXES = ("HOST", "PORT", "REUSE_PORT")  # common.settings.listening
_RA_LITERAL = re.compile(r"""["'](RA_[A-Z0-9_]+)["']""")


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The file as docker-compose itself resolves it (anchors, defaults, port syntax)."""
    exe = require_tool("docker-compose", "docker-compose")
    result = subprocess.run(
        [exe, "-f", str(COMPOSE_FILE), "config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = yaml.safe_load(result.stdout)
    return parsed


@pytest.fixture(scope="module")
def services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = config["services"]
    return found


def app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services run from the project's own image (built from ./Dockerfile)."""
    return {name: svc for name, svc in services.items() if "build" in svc}


def env_names_read_by_code() -> set[str]:
    """Every RA_* literal of the settings modules, and the names ``common.settings.listening``
    makes from each prefix it is given (``listening(env, "RA_APP", …)``)."""
    sources = [*REPO.glob("*/settings.py"), REPO / "migrations" / "__main__.py"]
    texts = [path.read_text() for path in sources]
    names = {name for text in texts for name in _RA_LITERAL.findall(text)}
    prefixes = {p for text in texts for p in _LISTENING.findall(text)}
    return names | {f"{p}_{suffix}" for p in prefixes for suffix in LISTENING_SUFFIXES}


def test_the_stack_has_its_services(services: dict[str, dict[str, Any]]) -> None:
    assert services.keys() >= INFRA_SERVICES | APP_SERVICES | OPS_SERVICES
    assert app_services(services).keys() >= APP_SERVICES


def test_the_gateway_publishes_its_port(services: dict[str, dict[str, Any]]) -> None:
    gateway = services["ingest_gateway"]
    published = {(int(p["published"]), int(p["target"])) for p in gateway["ports"]}
    assert (8080, 8080) in published
    assert gateway["environment"]["RA_INGEST_PORT"] == "8080"


def test_every_app_service_gets_the_same_settings(services: dict[str, dict[str, Any]]) -> None:
    envs = {name: svc.get("environment", {}) for name, svc in app_services(services).items()}
    keys = {name: set(env) for name, env in envs.items()}
    assert len({frozenset(k) for k in keys.values()}) == 1, keys
    assert next(iter(keys.values())) >= APP_ENV_KEYS


def test_compose_sets_only_variables_the_code_reads(services: dict[str, dict[str, Any]]) -> None:
    in_compose = {
        name
        for svc in services.values()
        for name in svc.get("environment", {})
        if name.startswith("RA_")
    }
    read = env_names_read_by_code()
    assert read, "no RA_* names found in the settings modules"
    assert in_compose - NOT_YET_READ <= read, in_compose - NOT_YET_READ - read


def test_every_app_command_runs_a_module_of_the_repo(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, svc in app_services(services).items():
        command = svc["command"]
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        assert argv[:2] == ["python", "-m"] and len(argv) > 2, (name, argv)
        module = REPO.joinpath(*argv[2].split("."))
        assert (module / "__main__.py").is_file(), (name, argv[2])


def test_kafka_init_creates_the_topics_the_services_use(
    services: dict[str, dict[str, Any]],
) -> None:
    script = " ".join(services["kafka-init"]["command"])
    env = services["ingest_gateway"]["environment"]
    assert f"--topic {env['RA_EVENTS_TOPIC']} --partitions 12" in script
    assert f"--topic {env['RA_OVERFLOW_TOPIC']} --partitions 12" in script
    assert f"--topic {env['RA_CONTROL_TOPIC']} --partitions 1" in script
    assert "cleanup.policy=compact" in script


def test_each_lane_has_its_workers(services: dict[str, dict[str, Any]]) -> None:
    lanes = {
        name: svc["environment"]["RA_WORKER_LANE"]
        for name, svc in app_services(services).items()
        if "stream_workers" in str(svc["command"])
    }
    assert sorted(lanes.values()) == ["main", "overflow"], lanes


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """A service's bind mounts of the repository's files: target -> file in the repo."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("/"):
            found[target] = Path(source)
    return found


def test_prometheus_runs_with_the_repositorys_config_and_rules(
    services: dict[str, dict[str, Any]],
) -> None:
    prometheus = services["prometheus"]
    assert mounts(prometheus)["/etc/prometheus"] == REPO / "deploy" / "prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    for rules in config["rule_files"]:
        assert (REPO / "deploy" / "prometheus" / rules).is_file(), rules


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard(
    services: dict[str, dict[str, Any]],
) -> None:
    grafana = REPO / "deploy" / "grafana"
    mounted = mounts(services["grafana"])
    provisioning = "/etc/grafana/provisioning"
    assert mounted[f"{provisioning}/datasources"] == grafana / "provisioning" / "datasources"
    assert mounted[f"{provisioning}/dashboards"] == grafana / "provisioning" / "dashboards"
    providers = yaml.safe_load((grafana / "provisioning/dashboards/realanalytics.yml").read_text())
    folder = providers["providers"][0]["options"]["path"]
    assert mounted[f"{folder}/realanalytics.json"] == grafana / "realanalytics.json"
    sources = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yml").read_text())
    prometheus_port = services["prometheus"]["ports"][0].split(":")[-1].split("/")[0]
    assert sources["datasources"][0]["url"] == f"http://prometheus:{prometheus_port}"


def test_workers_serve_their_metrics_to_prometheus(services: dict[str, dict[str, Any]]) -> None:
    """Faust's web server binds 127.0.0.1 by default: unreachable from another container."""
    workers = [svc for svc in app_services(services).values() if "stream_workers" in svc["command"]]
    assert workers
    assert all(w["environment"]["RA_WORKER_HOST"] == "0.0.0.0" for w in workers)
