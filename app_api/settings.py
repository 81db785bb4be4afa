"""Where the App API origin listens; each mounted service reads its own settings."""

from dataclasses import dataclass

from environs import Env


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8081
    # SO_REUSEPORT: several App API processes on one port, the kernel spreading connections
    # over them (sessions and throttles live in Redis and PostgreSQL, not in a process).
    # Off: a stray second copy fails on the busy port instead of joining silently.
    reuse_port: bool = False


def load_settings(env: Env | None = None) -> Settings:
    env = env or Env()
    env.read_env(".local/services.env", recurse=False)
    return Settings(
        host=env.str("RA_APP_HOST", "127.0.0.1"),
        port=env.int("RA_APP_PORT", 8081),
        reuse_port=env.bool("RA_APP_REUSE_PORT", False),
    )
