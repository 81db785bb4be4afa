"""Where the App API origin listens; each mounted service reads its own settings."""

from dataclasses import dataclass

from environs import Env

from common.settings import environment, listening


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8081
    # SO_REUSEPORT (common.settings.listening): several App API processes on one port
    # (sessions and throttles live in Redis and PostgreSQL, not in a process).
    reuse_port: bool = False


def load_settings(env: Env | None = None) -> Settings:
    return Settings(**listening(environment(env), "RA_APP", 8081))
