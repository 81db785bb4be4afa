"""Each shard's pool is built from the settings: the default shard's always, from
``database_url``, with the service's own factory for it and for the others."""

from typing import Any

from common.settings import StoreSettings
from common.stores import shard_pools


def made(kind: str) -> Any:
    return lambda url: (kind, url)


def test_one_database_has_the_default_shard_only() -> None:
    settings = StoreSettings(database_url="db://control", redis_url="redis://r")
    assert shard_pools(settings, made("main")) == {"default": ("main", "db://control")}


def test_further_shards_get_the_shard_factory_and_the_default_keeps_its_own() -> None:
    settings = StoreSettings(
        database_url="db://control",
        redis_url="redis://r",
        shard_databases={"default": "db://control", "eu": "db://eu"},
    )
    pools = shard_pools(settings, made("main"), made("shard"))
    assert pools == {"default": ("main", "db://control"), "eu": ("shard", "db://eu")}
    assert list(pools) == ["default", "eu"]


def test_without_a_shard_factory_every_shard_uses_the_service_s_one() -> None:
    settings = StoreSettings(
        database_url="db://control", redis_url="redis://r", shard_databases={"eu": "db://eu"}
    )
    assert shard_pools(settings, made("main"))["eu"] == ("main", "db://eu")
