"""The shared settings mean the same in every service: one reading of each variable."""

import pytest
from environs import Env

from common.settings import app_origins, listening, stores


def test_stores_read_the_databases_redis_and_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RA_DATABASE_URL", "db://control")
    monkeypatch.setenv("RA_REDIS_URL", "redis://r")
    monkeypatch.setenv("RA_SHARD_DATABASES", "eu=db://eu")
    monkeypatch.delenv("RA_REDIS_PREFIX", raising=False)
    assert stores(Env()) == {
        "database_url": "db://control",
        "redis_url": "redis://r",
        "redis_prefix": "ra:",
        "shard_databases": {"default": "db://control", "eu": "db://eu"},
    }


def test_a_service_listens_where_its_prefix_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RA_QUERY_PORT", "9000")
    monkeypatch.setenv("RA_QUERY_REUSE_PORT", "true")
    monkeypatch.delenv("RA_QUERY_HOST", raising=False)
    assert listening(Env(), "RA_QUERY", 8082) == {
        "host": "127.0.0.1",
        "port": 9000,
        "reuse_port": True,
    }
    monkeypatch.delenv("RA_APP_PORT", raising=False)
    monkeypatch.delenv("RA_APP_REUSE_PORT", raising=False)
    assert listening(Env(), "RA_APP", 8081)["port"] == 8081
    assert not listening(Env(), "RA_APP", 8081)["reuse_port"]


def test_the_app_origins_follow_the_app_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RA_APP_ORIGINS", raising=False)
    monkeypatch.setenv("RA_APP_PORT", "9090")
    assert app_origins(Env()) == ("http://127.0.0.1:9090", "http://localhost:9090")
