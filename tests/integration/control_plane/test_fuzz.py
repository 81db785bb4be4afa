"""Property-based fuzzing of the control plane's write routes against the real app,
PostgreSQL and Redis: whatever the body, the path or the credentials, the answer is never
a 5xx, every refusal is JSON, and the service still answers afterwards. Bounded: a few
hundred examples, well under a minute."""

import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from control_plane.app import create_standalone_app
from control_plane.settings import Settings
from migrations.runner import apply_migrations
from tests.fixtures.services import Services, unique_suffix
from tests.integration.control_plane.conftest import ORIGIN, PASSWORD, mailed_codes
from tests.integration.query_api.served import serving

pytestmark = pytest.mark.integration

BOUNDED = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ROUTES = [
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/projects"),
    ("POST", "/api/deploy"),
    ("POST", "/api/deploy/rollback"),
    ("POST", "/api/cli/validate"),
    ("POST", "/api/auth/confirm"),
    ("POST", "/api/auth/password-reset"),
    ("POST", "/api/auth/password-reset/confirm"),
    ("POST", "/api/invitations/accept"),
    ("GET", "/api/projects/{ref}/invitations"),
    ("DELETE", "/api/projects/shop/invitations/{ref}"),
    ("POST", "/api/projects/{ref}/members"),
    ("POST", "/api/projects/{ref}/plan"),
    ("GET", "/api/projects/{ref}"),
    ("PATCH", "/api/projects/{ref}"),
    ("GET", "/api/projects/{ref}/configs"),
]
FIELDS = ["email", "password", "name", "slug", "plan", "projectId", "config", "token"]
FIELDS += ["version", "role", "trackingPlan", "breakdownKeys", "allowedOrigins", "dashboards"]
FIELDS += ["rawRetentionDays"]


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=40),
        st.sampled_from(["shop", "free", "strict", "a@example.com", PASSWORD, "\x00", "é" * 300]),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5),
            st.dictionaries(
                st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), inner, max_size=6
            ),
        ),
        max_leaves=30,
    )


def bodies() -> st.SearchStrategy[bytes]:
    documents = st.dictionaries(st.sampled_from(FIELDS), json_values(), max_size=6)
    return st.one_of(
        documents.map(lambda d: json.dumps(d).encode()),
        json_values().map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.integers(min_value=1, max_value=2000).map(lambda n: b"[" * n + b"]" * n),
    )


@pytest.fixture(scope="module")
def served(
    services: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    mail_dir = tmp_path_factory.mktemp("mail")
    schema, prefix = f"t_{unique_suffix()}", f"t:{unique_suffix()}:"
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")  # generated name, not user input
    separator = "&" if "?" in services.database_url else "?"
    url = f"{services.database_url}{separator}options=-csearch_path%3D{schema}"
    apply_migrations(url)
    settings = Settings(
        database_url=url,
        redis_url=services.redis_url,
        kafka_bootstrap=services.kafka_bootstrap,
        redis_prefix=prefix,
        app_origins=(ORIGIN,),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        mail_dir=str(mail_dir),
        relay_enabled=False,
    )
    try:
        with serving(create_standalone_app(settings)) as base:
            signup = {"email": f"f{unique_suffix()}@example.com", "password": PASSWORD}
            response = requests.post(f"{base}/api/auth/signup", json=signup, timeout=30)
            assert response.status_code == 202, response.text
            for _ in range(100):
                codes = mailed_codes(mail_dir, signup["email"], "ra_confirm_")
                if codes:
                    break
                time.sleep(0.05)
            confirm = {"token": codes[0]}
            response = requests.post(f"{base}/api/auth/confirm", json=confirm, timeout=30)
            assert response.status_code == 200, response.text
            cookie = response.cookies["ra_session"]
            project = {"name": "Shop", "slug": "shop"}
            headers = {"Origin": ORIGIN, "Cookie": f"ra_session={cookie}"}
            response = requests.post(
                f"{base}/api/projects", json=project, headers=headers, timeout=30
            )
            assert response.status_code == 201, response.text
            headers["X-Secret-Key"] = response.json()["secretKey"]
            yield base, headers
    finally:
        with redis.Redis.from_url(services.redis_url) as client:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        with psycopg.connect(services.database_url, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '30s'")
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def credentials(good: dict[str, str]) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly the owner's session; sometimes none, or bytes that are not UTF-8."""
    garbage = st.binary(min_size=1, max_size=40).map(
        lambda b: b"x" + b.replace(b"\r", b"").replace(b"\n", b"")
    )
    return st.one_of(
        st.just(good),
        st.just(good),
        st.just({}),
        garbage.map(lambda value: {**good, "Cookie": b"ra_session=" + value}),
        garbage.map(lambda value: {"Authorization": b"Bearer ra_cli_" + value}),
        garbage.map(lambda value: {**good, "Origin": value, "X-Secret-Key": value}),
    )


def test_fuzzed_requests_never_get_a_5xx(served: tuple[str, dict[str, str]]) -> None:
    base, good = served
    session = requests.Session()

    @BOUNDED
    @given(
        route=st.sampled_from(ROUTES),
        ref=st.one_of(st.just("shop"), st.text(min_size=1, max_size=30)),
        body=bodies(),
        headers=credentials(good),
    )
    def check(route: tuple[str, str], ref: str, body: bytes, headers: dict[str, Any]) -> None:
        method, path = route
        target = base + path.replace("{ref}", requests.utils.quote(ref, safe=""))
        every = {"Content-Type": "application/json", **headers}
        response = session.request(method, target, data=body, headers=every, timeout=30)
        assert response.status_code < 500, (response.status_code, route, body[:200], headers)
        if response.headers.get("Content-Type", "").startswith("application/json"):
            assert response.status_code < 400 or "error" in response.json(), response.text
        else:  # control characters in a header: refused by aiohttp's parser, in plain text
            assert response.status_code == 400, response.text

    try:
        check()
    finally:
        session.close()
    response = requests.get(f"{base}/api/me", headers=good, timeout=30)
    assert response.status_code == 200, response.text
