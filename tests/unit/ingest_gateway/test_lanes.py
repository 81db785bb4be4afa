import pytest
from environs import Env

from contracts.lanes import Lane
from ingest_gateway.lanes import LaneDecision, choose_lane
from ingest_gateway.settings import Settings, load_settings


@pytest.mark.parametrize("count", [1, 2999, 3000])
def test_a_project_up_to_the_threshold_stays_on_the_main_lane(count: int) -> None:
    assert choose_lane(count, hot_ms_left=-2, threshold=3000) == LaneDecision(Lane.MAIN, False)


def test_the_request_that_passes_the_threshold_enters_the_overflow_lane() -> None:
    assert choose_lane(3001, hot_ms_left=-2, threshold=3000) == LaneDecision(Lane.OVERFLOW, True)


def test_a_hot_project_stays_on_the_overflow_lane_below_the_threshold() -> None:
    # Sticky: a project that fell under the threshold for a second does not flap back.
    assert choose_lane(5, hot_ms_left=42_000, threshold=3000) == LaneDecision(Lane.OVERFLOW, False)
    assert choose_lane(9000, hot_ms_left=1, threshold=3000).entered is False


@pytest.mark.parametrize("left", [0, -1, -2])  # expired, no expiry (never set so), absent
def test_a_mark_without_time_left_is_no_mark(left: int) -> None:
    assert choose_lane(10, hot_ms_left=left, threshold=3000).lane is Lane.MAIN


def test_the_overflow_topic_goes_with_the_events_topic() -> None:
    base = Settings(database_url="x", redis_url="y", kafka_bootstrap="z")
    assert base.topic_of(Lane.MAIN) == "events"
    assert base.topic_of(Lane.OVERFLOW) == "events-overflow"
    mine = Settings(database_url="x", redis_url="y", kafka_bootstrap="z", events_topic="t-1")
    assert mine.topic_of(Lane.OVERFLOW) == "t-1-overflow"


def test_routing_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "RA_DATABASE_URL": "postgresql://unused",
        "RA_REDIS_URL": "redis://unused",
        "RA_KAFKA_BOOTSTRAP": "127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    defaults = load_settings(Env())
    assert defaults.overflow_events_per_second == 3000
    assert defaults.overflow_sticky_seconds == 60.0
    assert defaults.topic_of(Lane.OVERFLOW) == "events-overflow"
    monkeypatch.setenv("RA_OVERFLOW_TOPIC", "hot")
    monkeypatch.setenv("RA_INGEST_OVERFLOW_EVENTS_PER_SECOND", "0")
    monkeypatch.setenv("RA_INGEST_OVERFLOW_STICKY_SECONDS", "5")
    changed = load_settings(Env())
    assert changed.topic_of(Lane.OVERFLOW) == "hot"
    assert changed.overflow_events_per_second == 0
    assert changed.overflow_sticky_seconds == 5.0
