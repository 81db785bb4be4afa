"""The query API's OpenAPI document lists exactly the routes it serves."""

from query_api.app import MOUNT_PREFIX, create_standalone_app
from query_api.openapi import build_spec
from query_api.settings import Settings
from tests.support.openapi import documented_routes, served_routes


def test_every_served_route_is_documented_and_nothing_else() -> None:
    app = create_standalone_app(Settings(database_url="x", redis_url="y"))
    served = {(m, p) for m, p in served_routes(app) if p.startswith(MOUNT_PREFIX)}
    assert served == documented_routes(build_spec(MOUNT_PREFIX))
