"""The query API's settings, read from the environment in one place."""

from dataclasses import dataclass, field

from environs import Env

from common.auth import app_origins
from contracts.shards import parse_shard_databases
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
class Settings:
    database_url: str
    redis_url: str
    host: str = "127.0.0.1"
    port: int = 8082
    # SO_REUSEPORT when serving alone (python -m query_api): several processes on one port,
    # the kernel spreading connections over them. Off: a stray second copy fails loudly.
    reuse_port: bool = False
    redis_prefix: str = "ra:"
    # Whose applied offsets say how fresh the rollups are (the stream workers' group).
    worker_group: str = "stream-workers"
    events_topic: str = Topic.EVENTS.value
    # Cookie-authenticated requests carrying an Origin must come from the App API.
    app_origins: tuple[str, ...] = ("http://127.0.0.1:8081", "http://localhost:8081")
    max_range_seconds: dict[str, int] = field(
        default_factory=lambda: dict(DEFAULT_MAX_RANGE_SECONDS)
    )
    # Every shard's database by name (contracts/shards.py): a project's query runs on its
    # shard's; empty: one database, ``database_url``.
    shard_databases: dict[str, str] = field(default_factory=dict)
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
    env = env or Env()
    env.read_env(".local/services.env", recurse=False)
    limits = {
        name: env.int(f"RA_QUERY_MAX_{name.upper()}_RANGE_SECONDS", default)
        for name, default in DEFAULT_MAX_RANGE_SECONDS.items()
    }
    return Settings(
        database_url=env.str("RA_DATABASE_URL"),
        redis_url=env.str("RA_REDIS_URL"),
        host=env.str("RA_QUERY_HOST", "127.0.0.1"),
        port=env.int("RA_QUERY_PORT", 8082),
        reuse_port=env.bool("RA_QUERY_REUSE_PORT", False),
        redis_prefix=env.str("RA_REDIS_PREFIX", "ra:"),
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
        shard_databases=parse_shard_databases(
            env.str("RA_SHARD_DATABASES", ""), env.str("RA_DATABASE_URL")
        ),
    )
