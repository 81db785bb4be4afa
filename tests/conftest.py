"""Suite-wide pytest set-up: the real-server fixtures and the markers that gate them."""

import os

import pytest

# pytester: the fixtures' own tests run small inner sessions with them.
pytest_plugins = ["pytester", "tests.fixtures.services"]

MARKERS = {
    "integration": "talks to the real PostgreSQL, Redis and Kafka started by scripts/services.sh",
    "e2e": "runs whole processes against the real services",
}

# RA_* variables configure the services; a caller's (say, the demo's .local/demo.env
# sourced to try the stack) must not reach the tests or the processes they start. Tests
# set what they rely on. Kept: where the Kafka jars are cached, a machine setting.
KEPT_VARIABLES = frozenset({"RA_CACHE_DIR"})


def clear_service_variables() -> None:
    for name in [n for n in os.environ if n.startswith("RA_") and n not in KEPT_VARIABLES]:
        del os.environ[name]


def pytest_configure(config: pytest.Config) -> None:
    clear_service_variables()
    # pyproject.toml registers these too; registering whatever it lacks keeps
    # --strict-markers working when the suite runs with another ini file.
    registered = {line.split(":", 1)[0].strip() for line in config.getini("markers")}
    for name, description in MARKERS.items():
        if name not in registered:
            config.addinivalue_line("markers", f"{name}: {description}")
