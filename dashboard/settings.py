"""The dashboard's settings, read from the environment in one place."""

from dataclasses import dataclass

from environs import Env

from common.settings import (
    APP_ORIGINS,
    StoreSettings,
    app_origins,
    environment,
    kafka_bootstrap,
    stores,
)
from contracts.lanes import Lane, lane_group, lane_topic
from contracts.shards import DEFAULT_SHARD, shard_group
from contracts.topics import Topic


@dataclass(frozen=True, slots=True)
class Settings(StoreSettings):
    """The shared stores' fields (``StoreSettings``: each shard's database, where its
    workers' lag and its projects' usage are read; Redis), then the dashboard's own."""

    kafka_bootstrap: str
    # The App API's own pages: a cookie request from any other origin is refused.
    app_origins: tuple[str, ...] = APP_ORIGINS
    # Whose lag the ops view shows: the stream workers' group and the topics it reads,
    # for each lane (contracts/lanes.py; the overflow topic by default the events
    # topic's name plus "-overflow", its group the main one's plus "-overflow").
    worker_group: str = "stream-workers"
    events_topic: str = Topic.EVENTS.value
    overflow_topic: str | None = None
    dead_letter_topic: str = Topic.DEAD_LETTER.value
    # A new sample of Kafka's offsets at most this often, however many viewers poll.
    sample_min_seconds: float = 1.0
    # Samples kept in memory for rates and the "lag keeps growing" banner.
    history_seconds: float = 120.0
    # The banner shows when lag has risen, without ever falling, for longer than this.
    lag_growth_alert_seconds: float = 10.0
    probe_timeout_seconds: float = 5.0
    # Wait this long for one of the two pooled connections, then answer 503 + Retry-After.
    db_pool_timeout_seconds: float = 5.0

    def lanes(self, shard: str = DEFAULT_SHARD) -> list[tuple[Lane, str, str]]:
        """(lane, consumer group, topic) of every lane of ``shard``'s workers, main first."""
        return [
            (
                lane,
                lane_group(shard_group(self.worker_group, shard), lane),
                lane_topic(lane, self.events_topic, self.overflow_topic),
            )
            for lane in Lane
        ]


def load_settings(env: Env | None = None) -> Settings:
    env = environment(env)
    return Settings(
        **stores(env),
        kafka_bootstrap=kafka_bootstrap(env),
        app_origins=app_origins(env),
        worker_group=env.str("RA_WORKER_GROUP", "stream-workers"),
        events_topic=env.str("RA_EVENTS_TOPIC", Topic.EVENTS.value),
        overflow_topic=env.str("RA_OVERFLOW_TOPIC", None),
        dead_letter_topic=env.str("RA_WORKER_DEAD_LETTER_TOPIC", Topic.DEAD_LETTER.value),
        sample_min_seconds=env.float("RA_OPS_SAMPLE_MIN_SECONDS", 1.0),
        history_seconds=env.float("RA_OPS_HISTORY_SECONDS", 120.0),
        lag_growth_alert_seconds=env.float("RA_OPS_LAG_GROWTH_ALERT_SECONDS", 10.0),
    )
