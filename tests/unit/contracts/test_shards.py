import pytest

from contracts.shards import (
    DEFAULT_SHARD,
    ShardSettingError,
    least_loaded,
    parse_shard_databases,
    shard_group,
)


def test_without_the_setting_there_is_one_shard_the_control_database() -> None:
    assert parse_shard_databases(None, "postgresql://control") == {
        "default": "postgresql://control"
    }
    assert parse_shard_databases("  ", "postgresql://control") == {
        "default": "postgresql://control"
    }


def test_shards_are_named_pairs_after_the_default_one() -> None:
    shards = parse_shard_databases(
        "eu=postgresql://a:5432/x, us=postgresql://b/y?options=-csearch_path%3Ds", "pg://c"
    )
    assert list(shards) == ["default", "eu", "us"]
    assert shards["us"] == "postgresql://b/y?options=-csearch_path%3Ds"


@pytest.mark.parametrize(
    "text",
    [
        "eu",
        "eu=",
        "EU=postgresql://a",
        "default=postgresql://a",
        "eu=pg://a eu=pg://b",
        "1a=pg://a",
    ],
)
def test_a_malformed_setting_is_refused_with_its_name(text: str) -> None:
    with pytest.raises(ShardSettingError, match="RA_SHARD_DATABASES"):
        parse_shard_databases(text, "postgresql://control")


def test_the_default_shard_keeps_the_plain_group_name() -> None:
    assert shard_group("stream-workers", DEFAULT_SHARD) == "stream-workers"
    assert shard_group("stream-workers", "eu") == "stream-workers-shard-eu"


def test_a_new_project_goes_to_the_least_loaded_shard_the_first_named_on_a_tie() -> None:
    assert least_loaded({}, ["default"]) == "default"
    assert least_loaded({"default": 3, "eu": 1, "us": 1}, ["default", "eu", "us"]) == "eu"
    assert least_loaded({"default": 3, "eu": 2}, ["default", "eu", "us"]) == "us"
    assert least_loaded({"default": 1, "eu": 1}, ["default", "eu"]) == "default"
