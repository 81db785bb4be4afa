"""Dead-letter records always fit the dead-letter topic, whatever the original held."""

from contracts.events import REQUEST_ID_HEADER
from stream_workers.deadletter import MAX_VALUE_BYTES, MISSING_HEADER, dead_letter
from stream_workers.received import RawRecord, header_text


def test_a_dead_letter_carries_the_value_the_reason_and_the_source() -> None:
    value, headers = dead_letter(RawRecord(3, 41, b'{"x": 1}'), "check_violation: no", "events")
    assert value == b'{"x": 1}'
    assert dict(headers) == {"ra-error": b"check_violation: no", "ra-source": b"events:3:41"}


def test_a_value_too_big_for_the_topic_is_left_out_and_its_size_said() -> None:
    # The events topic took it; with headers it could exceed the dead-letter topic's limit,
    # and a refused append would be retried forever.
    big = b"x" * (MAX_VALUE_BYTES + 1)
    value, headers = dead_letter(RawRecord(0, 7, big), "r" * 5000, "events")
    assert value == b""
    assert dict(headers)["ra-omitted-bytes"] == str(len(big)).encode()
    assert len(dict(headers)["ra-error"]) == 1000


def test_a_dead_letter_names_the_request_that_appended_it() -> None:
    raw = RawRecord(2, 41, b"{not json", request_id="edge-42")
    _, headers = dead_letter(raw, "undecodable: JSONDecodeError", "events")
    assert (REQUEST_ID_HEADER, b"edge-42") in headers


def test_the_request_id_is_read_from_either_shape_of_headers() -> None:
    assert header_text([("other", b"x"), (REQUEST_ID_HEADER, b"edge-42")], REQUEST_ID_HEADER) == (
        "edge-42"
    )
    assert header_text({REQUEST_ID_HEADER: b"edge-42"}, REQUEST_ID_HEADER) == "edge-42"
    assert header_text(None, REQUEST_ID_HEADER) is None
    assert header_text([(REQUEST_ID_HEADER, b"\xff")], REQUEST_ID_HEADER) is None


def test_a_value_gone_from_its_topic_is_marked_missing() -> None:
    value, headers = dead_letter(RawRecord(1, 5, None), "check_violation: no", "events")
    assert value == b""
    assert dict(headers)[MISSING_HEADER] == b"1"
    assert dict(headers)["ra-source"] == b"events:1:5"
