"""The ops JSON answers garbage credentials with a 401, never a 500."""

import pytest
from aiohttp.test_utils import TestClient

from tests.integration.control_plane.raw_http import raw_request

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "header",
    [
        b"Cookie: ra_session=\xff\xfe\x80abc",
        b"Authorization: Bearer ra_cli_\xff\xfe",
    ],
)
async def test_non_utf8_credentials_are_401(client: TestClient, header: bytes) -> None:
    port = client.server.port
    assert port is not None
    status, answer = await raw_request(port, "GET", "/dashboard/api/ops", [header])
    assert status == 401, answer
    assert isinstance(answer, dict) and answer["error"]
