from pathlib import Path

import pytest
from environs import Env

from stream_workers.settings import load_settings
from stream_workers.shards import scope_of

FOUND = {"a": ("default", 100), "b": ("eu", 200), "c": ("eu", 300)}


def test_a_shard_applies_its_own_projects_with_their_limits() -> None:
    eu = scope_of("eu", FOUND, ["a", "b", "c"])
    assert eu.mine == {"b", "c"} and eu.limits == {"b": 200, "c": 300}
    assert eu.takes("b") and not eu.takes("a")


def test_unknown_projects_and_unreadable_records_are_the_default_shards() -> None:
    """A deleted project's records are dropped once, by the default shard (it has no
    limit: not live); an unreadable record is dead-lettered once, by the default shard."""
    default = scope_of("default", FOUND, ["a", "b", "gone"])
    assert default.mine == {"a", "gone"} and default.limits == {"a": 100}
    assert default.takes(None) and default.takes("gone")
    eu = scope_of("eu", FOUND, ["a", "b", "gone"])
    assert not eu.takes(None) and not eu.takes("gone")


def test_a_shard_worker_uses_its_shards_database_and_group(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "RA_DATABASE_URL": "postgresql://control",
        "RA_SHARD_DATABASES": "eu=postgresql://eu",
        "RA_REDIS_URL": "redis://unused",
        "RA_KAFKA_BOOTSTRAP": "127.0.0.1:9",
        "RA_WORKER_DATA_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    default = load_settings(Env())
    assert (default.database_url, default.consumer_group) == (
        "postgresql://control",
        "stream-workers",
    )
    assert default.sharded
    monkeypatch.setenv("RA_WORKER_SHARD", "eu")
    monkeypatch.setenv("RA_WORKER_LANE", "overflow")
    eu = load_settings(Env())
    assert (eu.database_url, eu.control_database_url) == ("postgresql://eu", "postgresql://control")
    assert eu.consumer_group == "stream-workers-shard-eu-overflow"
    monkeypatch.setenv("RA_WORKER_SHARD", "us")
    with pytest.raises(ValueError, match="RA_WORKER_SHARD"):
        load_settings(Env())
