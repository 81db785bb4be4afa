"""Where the App API origin listens; each mounted service reads its own settings."""

from dataclasses import dataclass

from environs import Env


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8081


def load_settings(env: Env | None = None) -> Settings:
    env = env or Env()
    env.read_env(".local/services.env", recurse=False)
    return Settings(host=env.str("RA_APP_HOST", "127.0.0.1"), port=env.int("RA_APP_PORT", 8081))
