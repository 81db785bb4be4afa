"""The query API's settings, read from the environment in one place."""

from dataclasses import dataclass, field

from environs import Env

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
    redis_prefix: str = "ra:"
    # Whose applied offsets say how fresh the rollups are (the stream workers' group).
    worker_group: str = "stream-workers"
    events_topic: str = Topic.EVENTS.value
    # Cookie-authenticated requests carrying an Origin must come from the App API.
    app_origins: tuple[str, ...] = ("http://127.0.0.1:8081", "http://localhost:8081")
    max_range_seconds: dict[str, int] = field(
        default_factory=lambda: dict(DEFAULT_MAX_RANGE_SECONDS)
    )
    statement_timeout_ms: int = 30_000
    db_pool_size: int = 8
    # Processes (this session's and parallel workers) computing one funnel: its users are
    # cut into this many slices. 1 keeps a funnel to one core.
    funnel_workers: int = 2


def load_settings(env: Env | None = None) -> Settings:
    env = env or Env()
    env.read_env(".local/services.env", recurse=False)
    app_port = env.int("RA_APP_PORT", 8081)
    origins = env.list(
        "RA_APP_ORIGINS", [f"http://127.0.0.1:{app_port}", f"http://localhost:{app_port}"]
    )
    limits = {
        name: env.int(f"RA_QUERY_MAX_{name.upper()}_RANGE_SECONDS", default)
        for name, default in DEFAULT_MAX_RANGE_SECONDS.items()
    }
    return Settings(
        database_url=env.str("RA_DATABASE_URL"),
        redis_url=env.str("RA_REDIS_URL"),
        host=env.str("RA_QUERY_HOST", "127.0.0.1"),
        port=env.int("RA_QUERY_PORT", 8082),
        redis_prefix=env.str("RA_REDIS_PREFIX", "ra:"),
        worker_group=env.str("RA_WORKER_GROUP", "stream-workers"),
        events_topic=env.str("RA_EVENTS_TOPIC", Topic.EVENTS.value),
        app_origins=tuple(origins),
        max_range_seconds=limits,
        statement_timeout_ms=env.int("RA_QUERY_STATEMENT_TIMEOUT_MS", 30_000),
        db_pool_size=env.int("RA_QUERY_DB_POOL_SIZE", 8),
        funnel_workers=env.int("RA_QUERY_FUNNEL_WORKERS", 2),
    )
