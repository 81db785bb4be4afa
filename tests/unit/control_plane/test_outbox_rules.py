"""Which Kafka errors mark an outbox entry failed (never retried) and which are retried."""

import pytest
from aiokafka.errors import (
    CorruptRecordException,
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RecordTooLargeError,
)

from control_plane.outbox import refusal_reason


@pytest.mark.parametrize(
    "error", [MessageSizeTooLargeError(), RecordTooLargeError(), CorruptRecordException()]
)
def test_errors_about_the_record_itself_are_refusals(error: Exception) -> None:
    reason = refusal_reason(error)
    assert reason is not None and type(error).__name__ in reason


@pytest.mark.parametrize(
    "error",
    [KafkaConnectionError(), KafkaTimeoutError(), NotLeaderForPartitionError(), OSError()],
)
def test_infrastructure_errors_are_retried(error: Exception) -> None:
    assert refusal_reason(error) is None
