"""The settings every service reads the same way, from the environment in one place.

Each service keeps one frozen ``Settings`` of its own and its own ``load_settings``; that
loader starts from ``environment()`` and takes the shared fields from here, so that one
variable means the same in every process: ``stores`` (PostgreSQL, each shard's database,
Redis and its key prefix) for the fields of ``StoreSettings``, which each service's
``Settings`` extends, and ``kafka_bootstrap``, ``app_origins`` and ``listening`` for
those who have them. Tests build a service's ``Settings`` directly.
"""

from dataclasses import dataclass, field
from typing import TypedDict

from environs import Env

from contracts.shards import DEFAULT_SHARD, parse_shard_databases

REDIS_PREFIX = "ra:"
# The App API's own pages, where cookie-authenticated requests may come from (common.auth).
APP_ORIGINS = ("http://127.0.0.1:8081", "http://localhost:8081")


def environment(env: Env | None = None) -> Env:
    """The process environment, over ``.local/services.env`` (scripts/services.sh writes
    it: the local servers' URLs) for what the environment leaves unset."""
    env = env or Env()
    env.read_env(".local/services.env", recurse=False)
    return env


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSettings:
    """Where a service's shared state lives: the start of every service's ``Settings``."""

    database_url: str
    redis_url: str
    redis_prefix: str = REDIS_PREFIX
    # Every shard's database by name (contracts/shards.py), the default shard's first;
    # empty (tests, one database): ``database_url`` only.
    shard_databases: dict[str, str] = field(default_factory=dict)

    @property
    def shards(self) -> tuple[str, ...]:
        """Every shard's name, the default one first."""
        return tuple(self.shard_databases) or (DEFAULT_SHARD,)


class Stores(TypedDict):
    """``StoreSettings``' fields as keyword arguments (checked by mypy where unpacked)."""

    database_url: str
    redis_url: str
    redis_prefix: str
    shard_databases: dict[str, str]


def stores(env: Env) -> Stores:
    """RA_DATABASE_URL (the control database, and the default shard's), RA_REDIS_URL,
    RA_REDIS_PREFIX and RA_SHARD_DATABASES (the further shards' databases)."""
    database_url = env.str("RA_DATABASE_URL")
    return Stores(
        database_url=database_url,
        redis_url=env.str("RA_REDIS_URL"),
        redis_prefix=env.str("RA_REDIS_PREFIX", REDIS_PREFIX),
        shard_databases=parse_shard_databases(env.str("RA_SHARD_DATABASES", ""), database_url),
    )


def kafka_bootstrap(env: Env) -> str:
    return env.str("RA_KAFKA_BOOTSTRAP")


def app_origins(env: Env) -> tuple[str, ...]:
    """The origins of the App API's own pages (``RA_APP_ORIGINS``; by default its URL on
    127.0.0.1 and localhost at ``RA_APP_PORT``)."""
    port = env.int("RA_APP_PORT", 8081)
    default = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    return tuple(env.list("RA_APP_ORIGINS", default))


class Listening(TypedDict):
    host: str
    port: int
    reuse_port: bool


def listening(env: Env, prefix: str, port: int) -> Listening:
    """Where a service serves HTTP: ``<prefix>_HOST`` (127.0.0.1), ``<prefix>_PORT`` and
    ``<prefix>_REUSE_PORT`` (SO_REUSEPORT: several processes on one port, the kernel
    spreading connections over them; off, so that a stray second copy fails on the busy
    port instead of joining silently)."""
    return Listening(
        host=env.str(f"{prefix}_HOST", "127.0.0.1"),
        port=env.int(f"{prefix}_PORT", port),
        reuse_port=env.bool(f"{prefix}_REUSE_PORT", False),
    )
