"""The gateway's settings, read from the environment in one place."""

from dataclasses import dataclass

from environs import Env

from common.client_address import LOOPBACK, IpNetwork, parse_trusted_proxies
from common.settings import StoreSettings, environment, kafka_bootstrap, listening, stores
from contracts.lanes import Lane, lane_topic
from contracts.topics import Topic


@dataclass(frozen=True, slots=True)
class Settings(StoreSettings):
    """The shared stores' fields (``StoreSettings``: the control database, where keys are
    resolved; each shard's, from which a project's usage is rebuilt after Redis lost it;
    Redis), then the gateway's own."""

    kafka_bootstrap: str
    host: str = "127.0.0.1"
    port: int = 8080
    events_topic: str = Topic.EVENTS.value
    control_topic: str = Topic.CONTROL.value
    # Lanes (ingest_gateway.lanes): a project over overflow_events_per_second (counted over
    # every gateway) goes to the overflow topic for overflow_sticky_seconds, renewed while
    # it stays over; 0 turns routing off. The overflow topic defaults to the events topic's
    # name plus "-overflow". 3000 ev/s is about a tenth of what one worker applies.
    overflow_topic: str | None = None
    overflow_events_per_second: int = 3000
    overflow_sticky_seconds: float = 60.0
    rate_window_seconds: int = 60
    rate_limit_override: int | None = None
    key_cache_ttl_seconds: float = 10.0
    max_body_bytes: int = 1024 * 1024
    append_timeout_seconds: float = 5.0
    producer_linger_ms: int = 5
    redis_timeout_seconds: float = 0.25
    retry_after_unavailable_seconds: int = 2
    cors_origins: tuple[str, ...] = ("*",)
    # Connections (ingest_gateway.server): a client must send a whole request head within
    # idle_timeout_seconds of connecting or of its last answer, and its body within
    # body_timeout_seconds; past max_connections open at once, new ones get a 503.
    idle_timeout_seconds: float = 15.0
    body_timeout_seconds: float = 30.0
    max_connections: int = 4096
    backlog: int = 1024
    # SO_REUSEPORT (common.settings.listening; docs/operations.md, Running more than one
    # of each).
    reuse_port: bool = False
    # Proxies whose X-Forwarded-For is believed: the client address recorded with each
    # event (common.client_address; the workers turn it into a country and drop it).
    trusted_proxies: tuple[IpNetwork, ...] = parse_trusted_proxies(LOOPBACK)

    def topic_of(self, lane: Lane) -> str:
        return lane_topic(lane, self.events_topic, self.overflow_topic)


def load_settings(env: Env | None = None) -> Settings:
    env = environment(env)
    override = env.int("RA_RATE_LIMIT", None)
    return Settings(
        **stores(env),
        **listening(env, "RA_INGEST", 8080),
        kafka_bootstrap=kafka_bootstrap(env),
        events_topic=env.str("RA_EVENTS_TOPIC", Topic.EVENTS.value),
        control_topic=env.str("RA_CONTROL_TOPIC", Topic.CONTROL.value),
        overflow_topic=env.str("RA_OVERFLOW_TOPIC", None),
        overflow_events_per_second=env.int("RA_INGEST_OVERFLOW_EVENTS_PER_SECOND", 3000),
        overflow_sticky_seconds=env.float("RA_INGEST_OVERFLOW_STICKY_SECONDS", 60.0),
        rate_window_seconds=env.int("RA_RATE_WINDOW_SECONDS", 60),
        rate_limit_override=override,
        key_cache_ttl_seconds=env.float("RA_KEY_CACHE_TTL_SECONDS", 10.0),
        max_body_bytes=env.int("RA_MAX_BODY_BYTES", 1024 * 1024),
        append_timeout_seconds=env.float("RA_APPEND_TIMEOUT_SECONDS", 5.0),
        producer_linger_ms=env.int("RA_PRODUCER_LINGER_MS", 5),
        redis_timeout_seconds=env.float("RA_REDIS_TIMEOUT_SECONDS", 0.25),
        cors_origins=tuple(env.list("RA_CORS_ORIGINS", ["*"])),
        idle_timeout_seconds=env.float("RA_INGEST_IDLE_TIMEOUT_SECONDS", 15.0),
        body_timeout_seconds=env.float("RA_INGEST_BODY_TIMEOUT_SECONDS", 30.0),
        max_connections=env.int("RA_INGEST_MAX_CONNECTIONS", 4096),
        backlog=env.int("RA_INGEST_BACKLOG", 1024),
        trusted_proxies=parse_trusted_proxies(env.str("RA_TRUSTED_PROXIES", LOOPBACK)),
    )
