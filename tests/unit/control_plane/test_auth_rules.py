"""Pure decisions of the control plane: the Origin rule, throttling, body validation."""

import pytest

from contracts.validation import flatten_messages
from control_plane.auth import origin_allowed
from control_plane.errors import ValidationFailed
from control_plane.throttle import is_blocked
from control_plane.validation import (
    ProjectCreateSchema,
    SignupSchema,
    decode_json,
    load,
)

APP = ("https://app.example",)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_reads_need_no_origin(method: str) -> None:
    assert origin_allowed(method, None, APP)
    assert origin_allowed(method, "https://evil.example", APP)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_need_the_app_origin(method: str) -> None:
    assert origin_allowed(method, "https://app.example", APP)
    assert not origin_allowed(method, None, APP)
    assert not origin_allowed(method, "https://evil.example", APP)
    assert not origin_allowed(method, "null", APP)


def test_throttle_blocks_at_either_limit() -> None:
    assert not is_blocked(0, 0, 3, 5)
    assert not is_blocked(2, 4, 3, 5)
    assert is_blocked(3, 0, 3, 5)
    assert is_blocked(0, 5, 3, 5)


def test_flatten_nested_marshmallow_messages() -> None:
    messages = {
        "a": ["bad"],
        "b": {"c": ["worse"], "_schema": ["whole b"]},
        "_schema": ["whole body"],
        "d": {0: ["first item"]},
    }
    assert flatten_messages(messages) == [
        {"field": "a", "message": "bad"},
        {"field": "b.c", "message": "worse"},
        {"field": "b", "message": "whole b"},
        {"field": None, "message": "whole body"},
        {"field": "d.0", "message": "first item"},
    ]


def test_load_raises_the_contract_error() -> None:
    with pytest.raises(ValidationFailed) as caught:
        load(SignupSchema(), {"email": "nope", "password": "x"})
    assert caught.value.body["error"] == "Validation failed"
    assert {d["field"] for d in caught.value.body["details"]} == {"email", "password"}
    with pytest.raises(ValidationFailed):
        load(SignupSchema(), ["not", "an", "object"])
    with pytest.raises(ValidationFailed):
        decode_json(b"   ")
    with pytest.raises(ValidationFailed):
        decode_json(b"{")


@pytest.mark.parametrize(
    ("slug", "ok"),
    [
        ("acme", True),
        ("my-project-2", True),
        ("ab", False),
        ("-acme", False),
        ("acme-", False),
        ("Acme", False),
        ("ac me", False),
        ("a" * 64, True),
        ("a" * 65, False),
    ],
)
def test_slug_rule_matches_the_database_check(slug: str, ok: bool) -> None:
    body = {"name": "Acme", "slug": slug}
    if ok:
        assert load(ProjectCreateSchema(), body)["plan"] == "free"
    else:
        with pytest.raises(ValidationFailed):
            load(ProjectCreateSchema(), body)


def test_the_last_owner_cannot_be_removed() -> None:
    from control_plane.members import leaves_an_owner

    assert not leaves_an_owner(["owner"], "owner")
    assert not leaves_an_owner(["owner", "member"], "owner")
    assert leaves_an_owner(["owner", "owner"], "owner")
    assert leaves_an_owner(["owner", "member"], "member")
