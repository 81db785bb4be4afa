"""Kafka's default key → partition choice (murmur2, as the Java client), with the hash cached.

aiokafka's murmur2 is pure Python and was an eighth of the gateway's CPU under load; a
user sends many events, so their key's hash is worth remembering.
"""

import functools
from collections.abc import Sequence

from aiokafka.partitioner import DefaultPartitioner, murmur2

_fallback = DefaultPartitioner()


@functools.lru_cache(maxsize=65_536)
def _positive_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_for(
    key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
) -> int:
    if key is None:
        return int(_fallback(key, all_partitions, available))
    return all_partitions[_positive_hash(key) % len(all_partitions)]
