"""Request bodies: NUL characters found wherever they hide; a 400 stays small."""

import pytest

from control_plane.errors import MAX_DETAILS, ValidationFailed
from control_plane.validation import decode_json, nul_paths


def test_nul_characters_are_found_in_values_keys_and_lists() -> None:
    document = {"a": "x\x00", "b\x00": 1, "c": [{"d": "\x00"}, "ok"], "e": "fine"}
    assert nul_paths(document) == ["a", "b\x00", "c.0.d"]
    assert nul_paths(["\x00"]) == ["0"]
    assert nul_paths({"fine": ["x", 1, None, {"y": True}]}) == []


def test_deep_nesting_is_no_recursion_error() -> None:
    deep: object = "\x00"
    for _ in range(5000):
        deep = [deep]
    assert len(nul_paths(deep)) == 1


def test_a_body_with_nul_is_a_400_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as raised:
        decode_json(b'{"email": "a\\u0000@example.com"}')
    assert raised.value.body["details"] == [
        {"field": "email", "message": "Must not contain NUL characters (\\u0000)."}
    ]


def test_details_are_capped_with_a_count_of_the_rest() -> None:
    details = [{"field": f"f{i}", "message": "bad"} for i in range(MAX_DETAILS + 250)]
    body = ValidationFailed(details).body
    assert len(body["details"]) == MAX_DETAILS
    assert body["omittedDetails"] == 250
    assert "omittedDetails" not in ValidationFailed(details[:3]).body
