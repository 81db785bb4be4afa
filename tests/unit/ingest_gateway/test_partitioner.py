from aiokafka.partitioner import DefaultPartitioner

from ingest_gateway.partitioner import partition_for


def test_same_partitions_as_kafkas_default() -> None:
    default = DefaultPartitioner()
    partitions = list(range(12))
    for n in range(500):
        key = f"project:user_{n}".encode()
        assert partition_for(key, partitions, partitions) == default(key, partitions, partitions)


def test_keyless_records_go_to_an_available_partition() -> None:
    assert partition_for(None, [0, 1, 2], [2]) == 2
