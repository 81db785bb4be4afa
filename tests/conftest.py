"""Suite-wide pytest set-up: the real-server fixtures and the markers that gate them."""

import pytest

# pytester: the fixtures' own tests run small inner sessions with them.
pytest_plugins = ["pytester", "tests.fixtures.services"]

MARKERS = {
    "integration": "talks to the real PostgreSQL, Redis and Kafka started by scripts/services.sh",
    "e2e": "runs whole processes against the real services",
}


def pytest_configure(config: pytest.Config) -> None:
    # pyproject.toml registers these too; registering whatever it lacks keeps
    # --strict-markers working when the suite runs with another ini file.
    registered = {line.split(":", 1)[0].strip() for line in config.getini("markers")}
    for name, description in MARKERS.items():
        if name not in registered:
            config.addinivalue_line("markers", f"{name}: {description}")
