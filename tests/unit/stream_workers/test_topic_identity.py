"""The topic id request (Metadata v12, which aiokafka does not send) as the protocol lays it
out, and the id read from an answer; against a real broker in test_kafka_reset.py."""

import uuid
from io import BytesIO

import pytest

from stream_workers.topic_identity import (
    NO_ID,
    MetadataRequest_v12,
    MetadataResponse_v12,
    TopicIdRequest,
    topic_id_of,
)

ID = uuid.UUID("4efd0815-fdda-456b-b059-f65db1f084ef")


def test_the_request_names_topics_never_creating_one() -> None:
    struct = TopicIdRequest(["ev"]).prepare({3: (0, 13)})
    assert isinstance(struct, MetadataRequest_v12)
    # topics: compact array of 1 (0x02) [16 zero bytes of id, compact "ev", no tags],
    # allow_auto_topic_creation false, include_topic_authorized_operations false, no tags.
    assert struct.encode() == b"\x02" + bytes(16) + b"\x03ev\x00" + b"\x00\x00\x00"


def response(*topics: tuple[int, str, uuid.UUID, int]) -> MetadataResponse_v12:
    encoded = MetadataResponse_v12(
        0,
        [(1, "127.0.0.1", 9092, None, {})],
        "cluster",
        1,
        [
            (
                error,
                name,
                topic_id,
                False,
                [(0, p, 1, 0, [1], [1], [], {}) for p in range(n)],
                0,
                {},
            )
            for error, name, topic_id, n in topics
        ],
        {},
    ).encode()
    return MetadataResponse_v12.decode(BytesIO(encoded))


def test_the_id_and_partitions_of_a_topic_are_read_from_the_answer() -> None:
    answer = response((0, "events", ID, 3), (3, "gone", NO_ID, 0))
    assert topic_id_of(answer, "events") == (ID, [0, 1, 2])
    assert topic_id_of(answer, "gone") is None  # UNKNOWN_TOPIC_OR_PARTITION
    assert topic_id_of(answer, "other") is None


def test_any_other_error_is_raised() -> None:
    with pytest.raises(RuntimeError, match="error code 5"):
        topic_id_of(response((5, "events", ID, 0)), "events")
