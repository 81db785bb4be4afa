import pytest

from contracts.control import (
    ConfigDeployed,
    ControlError,
    decode_control,
    encode_control,
)


def test_round_trip_and_breakdown_keys() -> None:
    message = ConfigDeployed("p1", 3, {"breakdownKeys": ["plan", "", 4, "$pathname"]})
    decoded = decode_control(encode_control(message))
    assert decoded == message
    assert decoded.breakdown_keys == ("plan", "$pathname")


def test_unknown_type_is_skipped() -> None:
    assert decode_control(b'{"type": "key_revoked", "projectId": "p"}') is None


@pytest.mark.parametrize(
    "raw",
    [
        b"nope",
        b"[]",
        b'{"type": "config_deployed", "version": 1, "config": {}}',
        b'{"type": "config_deployed", "projectId": "p", "version": "1", "config": {}}',
        b'{"type": "config_deployed", "projectId": "p", "version": 1, "config": []}',
    ],
)
def test_broken_messages_raise(raw: bytes) -> None:
    with pytest.raises(ControlError):
        decode_control(raw)
