"""The one Origin rule and the caller checks every App API service runs (common.auth),
and how a reference names a project (common.membership)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from common.auth import (
    Credentials,
    ForeignOrigin,
    Unauthenticated,
    authenticate,
    origin_allowed,
)
from common.membership import possible_ref, ref_parameters
from contracts.sessions import Session, encode_session, session_key

APP = ("https://app.example",)
EVIL = "https://evil.example"


def test_an_origin_must_be_the_app_apis_own() -> None:
    for required in (True, False):
        assert origin_allowed("https://app.example", APP, required=required)
        assert not origin_allowed(EVIL, APP, required=required)
        assert not origin_allowed("null", APP, required=required)  # sandboxed pages, files


def test_no_origin_is_refused_only_where_one_is_required() -> None:
    assert origin_allowed(None, APP, required=False)
    assert not origin_allowed(None, APP, required=True)


@pytest.mark.parametrize(
    ("method", "changes_state"),
    [("GET", False), ("HEAD", False), ("OPTIONS", False), ("POST", True), ("DELETE", True)],
)
def test_a_request_changes_state_by_its_method(method: str, changes_state: bool) -> None:
    request = make_mocked_request(
        method,
        "/",
        headers={"Origin": EVIL, "Authorization": "Bearer x", "Cookie": "ra_session=s1"},
    )
    assert Credentials.of(request) == Credentials("s1", "Bearer x", EVIL, changes_state)


def test_a_route_may_say_it_changes_nothing() -> None:
    request = make_mocked_request("POST", "/api/query")
    assert not Credentials.of(request, changes_state=False).changes_state


class FakeRedis:
    """Sessions by key, as the control plane stores them."""

    def __init__(self, sessions: dict[str, bytes]) -> None:
        self.sessions = sessions

    async def get(self, key: str) -> bytes | None:
        return self.sessions.get(key)


class FakeConnection:
    def __init__(self, row: tuple[str, str] | None) -> None:
        self.row = row

    async def execute(self, sql: str, params: Any) -> "FakeConnection":
        return self

    async def fetchone(self) -> tuple[str, str] | None:
        return self.row


def connecting(row: tuple[str, str] | None) -> Any:
    @asynccontextmanager
    async def connect() -> AsyncIterator[FakeConnection]:
        yield FakeConnection(row)

    return connect


SESSION = encode_session(Session("u1", "ada@example.com", datetime.now(UTC)))
TOKEN = "ra_cli_" + "a" * 43


async def caller(credentials: Credentials, bearer_row: tuple[str, str] | None = None) -> str:
    found = await authenticate(
        credentials,
        redis=FakeRedis({session_key("p:", "s1"): SESSION}),  # type: ignore[arg-type]
        prefix="p:",
        connect=connecting(bearer_row),
        allowed_origins=APP,
    )
    return f"{found.user_id} by {found.via}"


async def test_a_cookie_is_held_to_the_origin_rule() -> None:
    assert await caller(Credentials("s1", None, APP[0], True)) == "u1 by session"
    assert await caller(Credentials("s1", None, None, False)) == "u1 by session"
    for credentials in (Credentials("s1", None, None, True), Credentials("s1", None, EVIL, False)):
        with pytest.raises(ForeignOrigin) as refused:
            await caller(credentials)
        assert (refused.value.status, refused.value.message) == (403, "Origin not allowed")


async def test_a_bearer_token_needs_no_origin() -> None:
    row = ("u2", "bob@example.com")
    assert await caller(Credentials(None, f"Bearer {TOKEN}", None, True), row) == "u2 by bearer"
    assert await caller(Credentials("s1", f"Bearer {TOKEN}", EVIL, True), row) == "u2 by bearer"


async def test_bad_credentials_are_401_never_a_fallback_to_the_cookie() -> None:
    cases = [
        (Credentials(None, None, None, False), "Authentication required"),
        (Credentials("s2", None, None, False), "Session expired or invalid"),
        (Credentials("s1", "Bearer nope", APP[0], True), "Invalid access token"),
        (Credentials("s1", f"Bearer {TOKEN}", APP[0], True), "Invalid access token"),  # revoked
    ]
    for credentials, message in cases:
        with pytest.raises(Unauthenticated) as refused:
            await caller(credentials)
        assert (refused.value.status, refused.value.message) == (401, message)


def test_a_reference_is_a_slug_or_an_id_in_any_spelling() -> None:
    project = "0b5a4c3e-8f6d-4c1b-9a2e-7d3f1e5c9b80"
    assert ref_parameters("shop") == {"ref": "shop", "ref_id": None}
    for spelling in (project, project.upper(), project.replace("-", ""), f"urn:uuid:{project}"):
        assert ref_parameters(spelling)["ref_id"] == project
        assert possible_ref(spelling)
    assert not possible_ref("")
    assert not possible_ref("a" * 65)
    assert not possible_ref("sh\x00p")
