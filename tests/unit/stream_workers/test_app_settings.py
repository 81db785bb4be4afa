from pathlib import Path

import pytest
from environs import Env

from stream_workers.app import create_app
from stream_workers.settings import Settings, load_settings


def test_fetch_size_reaches_the_kafka_consumer(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql://unused",
        redis_url="redis://unused",
        kafka_bootstrap="127.0.0.1:9",
        fetch_bytes=3 * 1024 * 1024,
        data_dir=str(tmp_path),
    )
    app, _ = create_app(settings)
    assert app.conf.consumer_max_fetch_size == 3 * 1024 * 1024


def test_fetch_size_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "RA_DATABASE_URL": "postgresql://unused",
        "RA_REDIS_URL": "redis://unused",
        "RA_KAFKA_BOOTSTRAP": "127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    assert load_settings(Env()).fetch_bytes == 4 * 1024 * 1024  # larger than Faust's 1 MiB
    monkeypatch.setenv("RA_WORKER_FETCH_BYTES", "2097152")
    assert load_settings(Env()).fetch_bytes == 2 * 1024 * 1024


def test_each_lane_reads_its_topic_in_a_group_of_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "RA_DATABASE_URL": "postgresql://unused",
        "RA_REDIS_URL": "redis://unused",
        "RA_KAFKA_BOOTSTRAP": "127.0.0.1:9",
        "RA_WORKER_DATA_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    main = load_settings(Env())
    assert (main.lane, main.topic, main.consumer_group) == ("main", "events", "stream-workers")
    monkeypatch.setenv("RA_WORKER_LANE", "overflow")
    overflow = load_settings(Env())
    assert (overflow.topic, overflow.consumer_group) == (
        "events-overflow",
        "stream-workers-overflow",
    )
    assert (
        overflow.lanes()
        == main.lanes()
        == [
            ("stream-workers", "events"),
            ("stream-workers-overflow", "events-overflow"),
        ]
    )
    app, _ = create_app(overflow)
    assert app.conf.id == "stream-workers-overflow"
    [agent] = app.agents.values()
    assert agent.channel.get_topic_name() == "events-overflow"
    monkeypatch.setenv("RA_WORKER_LANE", "fast")
    with pytest.raises(ValueError, match="RA_WORKER_LANE"):
        load_settings(Env())
