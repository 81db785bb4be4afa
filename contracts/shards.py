"""Projects sharded across PostgreSQL databases (docs/decisions/0014): the names every
service derives from one setting.

``RA_SHARD_DATABASES`` lists the shards beside the default one as ``name=url`` pairs
separated by spaces or commas; unset, there is one shard, ``default``: the control
plane's own database (``RA_DATABASE_URL``), and everything runs as it did before shards.
A project lives whole on one shard, named in ``projects.shard`` (the control database)
when it is created, and never moves (until an operator's move procedure exists).

Each shard is applied by workers of its own: a consumer group per shard (the default
shard's keeps the plain group name), which reads the whole topic, applies its own
projects' records and advances its offsets past the others'. A shard that cannot be
reached then holds only its own projects' events.
"""

import re
from collections.abc import Mapping, Sequence

DEFAULT_SHARD = "default"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")


class ShardSettingError(ValueError):
    pass


def parse_shard_databases(text: str | None, default_url: str) -> dict[str, str]:
    """Every shard's database URL by name, the default shard's (``default_url``) first."""
    shards = {DEFAULT_SHARD: default_url}
    for item in (text or "").replace(",", " ").split():
        name, sep, url = item.partition("=")
        if not sep or not url:
            raise ShardSettingError(f"RA_SHARD_DATABASES: {name!r} needs the form name=url")
        if not _NAME.fullmatch(name):
            raise ShardSettingError(
                f"RA_SHARD_DATABASES: shard name {name!r} must match {_NAME.pattern}"
            )
        if name in shards:
            raise ShardSettingError(f"RA_SHARD_DATABASES: shard {name!r} named twice")
        shards[name] = url
    return shards


def shard_group(group: str, shard: str) -> str:
    """The consumer group of ``shard``'s workers, from the main lane's ``group``."""
    return group if shard == DEFAULT_SHARD else f"{group}-shard-{shard}"


def least_loaded(projects_per_shard: Mapping[str, int], shards: Sequence[str]) -> str:
    """Where a new project goes: the shard with the fewest projects, the first named on a
    tie (so a deployment with one shard always places on ``default``)."""
    return min(shards, key=lambda name: (projects_per_shard.get(name, 0), shards.index(name)))
