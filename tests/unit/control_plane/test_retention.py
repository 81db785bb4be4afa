"""A project's raw retention: the owner's choice against the operators' maximum, and that
maximum read from the environment (never past the database's own bound)."""

import pytest
from environs import Env, EnvValidationError

from control_plane.retention import MAX_RAW_RETENTION_DAYS, retention_problem
from control_plane.settings import load_settings


def test_retention_is_from_one_day_to_the_operators_maximum() -> None:
    assert retention_problem(1, 1825) is None
    assert retention_problem(1825, 1825) is None
    assert retention_problem(0, 1825) == "Must be at least 1 day."
    assert retention_problem(1826, 1825) == "Must be at most 1825 days (the operators' maximum)."
    assert retention_problem(91, 90) == "Must be at most 90 days (the operators' maximum)."


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in {
        "RA_DATABASE_URL": "postgresql://unused",
        "RA_REDIS_URL": "redis://unused",
        "RA_KAFKA_BOOTSTRAP": "127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RA_MAX_RAW_RETENTION_DAYS", raising=False)
    return monkeypatch


def test_the_maximum_is_read_from_the_environment(environment: pytest.MonkeyPatch) -> None:
    assert load_settings(Env()).max_raw_retention_days == 1825  # five years
    environment.setenv("RA_MAX_RAW_RETENTION_DAYS", "90")
    assert load_settings(Env()).max_raw_retention_days == 90


@pytest.mark.parametrize("value", ["0", str(MAX_RAW_RETENTION_DAYS + 1), "a year"])
def test_a_maximum_the_database_would_refuse_stops_the_start(
    environment: pytest.MonkeyPatch, value: str
) -> None:
    environment.setenv("RA_MAX_RAW_RETENTION_DAYS", value)
    with pytest.raises(EnvValidationError):
        load_settings(Env())
