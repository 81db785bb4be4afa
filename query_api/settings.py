"""The query API's settings, read from the environment in one place."""

from dataclasses import dataclass, field

from environs import Env

from common.settings import APP_ORIGINS, StoreSettings, app_origins, environment, listening, stores
from contracts.topics import Topic

DAY_SECONDS = 86_400

# The longest range each interval may span (a chart of more points is unreadable and
# costly); a range over it is a 400.
DEFAULT_MAX_RANGE_SECONDS: dict[str, int] = {
    "minute": 2 * DAY_SECONDS,
    "hour": 93 * DAY_SECONDS,
    "day": 3 * 366 * DAY_SECONDS,
    "week": 10 * 366 * DAY_SECONDS,
    "month": 20 * 366 * DAY_SECONDS,
}


@dataclass(frozen=True, slots=True)
class Settings(StoreSettings):
    """The shared stores' fields (``StoreSettings``: each shard's database, where its
    projects' queries run; Redis), then the query API's own."""

    host: str = "127.0.0.1"
    port: int = 8082
    # SO_REUSEPORT when serving alone (python -m query_api; common.settings.listening).
    reuse_port: bool = False
    # Whose applied offsets say how fresh the rollups are (the stream workers' group).
    worker_group: str = "stream-workers"
    events_topic: str = Topic.EVENTS.value
    # Cookie-authenticated requests carrying an Origin must come from the App API.
    app_origins: tuple[str, ...] = APP_ORIGINS
    max_range_seconds: dict[str, int] = field(
        default_factory=lambda: dict(DEFAULT_MAX_RANGE_SECONDS)
    )
    # Every statement of a query is cancelled after this: a 503 QUERY_TIMEOUT.
    statement_timeout_ms: int = 15_000
    db_pool_size: int = 8
    # How long a request waits for a free pool connection before its 503.
    pool_wait_seconds: float = 5.0
    # Per project and process: queries running at once (below db_pool_size, so one project
    # never holds every connection), queries queued behind them and how long one may wait;
    # beyond either, a 429 QUERY_CONCURRENCY_LIMIT. The queue holds a whole dashboard's
    # charts (24 at most, contracts/dashboards.py) asked at once.
    project_concurrency: int = 2
    project_queue: int = 32
    project_queue_wait_seconds: float = 10.0
    # The Retry-After of every 429 and 503 this service answers.
    retry_after_seconds: int = 2
    # Processes (this session's and parallel workers) computing one funnel: its users are
    # cut into this many slices. 1 keeps a funnel to one core.
    funnel_workers: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.project_concurrency < self.db_pool_size:
            raise ValueError(
                "project_concurrency must be at least 1 and below db_pool_size, or one "
                "project's queries could hold every database connection"
            )


def load_settings(env: Env | None = None) -> Settings:
    env = environment(env)
    limits = {
        name: env.int(f"RA_QUERY_MAX_{name.upper()}_RANGE_SECONDS", default)
        for name, default in DEFAULT_MAX_RANGE_SECONDS.items()
    }
    return Settings(
        **stores(env),
        **listening(env, "RA_QUERY", 8082),
        worker_group=env.str("RA_WORKER_GROUP", "stream-workers"),
        events_topic=env.str("RA_EVENTS_TOPIC", Topic.EVENTS.value),
        app_origins=app_origins(env),
        max_range_seconds=limits,
        statement_timeout_ms=env.int("RA_QUERY_STATEMENT_TIMEOUT_MS", 15_000),
        db_pool_size=env.int("RA_QUERY_DB_POOL_SIZE", 8),
        pool_wait_seconds=env.float("RA_QUERY_POOL_WAIT_SECONDS", 5.0),
        project_concurrency=env.int("RA_QUERY_PROJECT_CONCURRENCY", 2),
        project_queue=env.int("RA_QUERY_PROJECT_QUEUE", 32),
        project_queue_wait_seconds=env.float("RA_QUERY_PROJECT_QUEUE_WAIT_SECONDS", 10.0),
        retry_after_seconds=env.int("RA_QUERY_RETRY_AFTER_SECONDS", 2),
        funnel_workers=env.int("RA_QUERY_FUNNEL_WORKERS", 2),
    )
