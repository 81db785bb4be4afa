"""Pure decisions of the control plane: throttling, body validation (the Origin rule is
common.auth's: tests/unit/common/test_auth.py)."""

import pytest

from common.throttle import retry_after_seconds
from contracts.validation import flatten_messages
from control_plane.errors import ValidationFailed
from control_plane.members import keeps_an_owner
from control_plane.throttle import LoginLimits, login_counters
from control_plane.validation import (
    ProjectCreateSchema,
    SignupSchema,
    decode_json,
    load,
)


def test_login_is_counted_per_pair_per_account_and_per_address() -> None:
    limits = LoginLimits(900, per_account_address=10, per_account=100, per_address=50)
    counters = login_counters("p:", " Ada@Example.com ", "2001:db8::7", limits)
    assert [c.limit for c in counters] == [10, 100, 50]
    pair, account, address = (c.key for c in counters)
    # The email is normalised and hashed (never in a key); IPv6 counts by its /64.
    assert "ada" not in pair.lower() and pair.endswith(":2001:db8::/64")
    assert login_counters("p:", "ada@example.com", "1.2.3.4", limits)[1].key == account
    assert address == "p:login:address:2001:db8::/64"


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    assert retry_after_seconds(1) == 1
    assert retry_after_seconds(1000) == 1
    assert retry_after_seconds(1001) == 2


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
        assert load(ProjectCreateSchema(), body)["plan"] is None  # the default plan
    else:
        with pytest.raises(ValidationFailed):
            load(ProjectCreateSchema(), body)


def test_the_last_owner_can_be_neither_removed_nor_demoted() -> None:
    one = {"a": "owner", "b": "member"}
    assert not keeps_an_owner(one, "a", None)
    assert not keeps_an_owner(one, "a", "member")
    assert keeps_an_owner(one, "a", "owner")
    assert keeps_an_owner(one, "b", None)
    assert keeps_an_owner({"a": "owner", "b": "owner"}, "a", "member")
    assert keeps_an_owner(one, "b", "owner")
