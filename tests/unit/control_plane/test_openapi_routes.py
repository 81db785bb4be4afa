"""The control plane's OpenAPI document lists exactly the routes it serves."""

from openapi_spec_validator import validate as validate_spec

from control_plane.app import MOUNT_PREFIX, create_standalone_app
from control_plane.openapi import build_spec
from control_plane.settings import Settings
from tests.support.openapi import documented_routes, served_routes


def test_every_served_route_is_documented_and_nothing_else() -> None:
    app = create_standalone_app(Settings(database_url="x", redis_url="y", kafka_bootstrap="z"))
    served = {(m, p) for m, p in served_routes(app) if p.startswith(MOUNT_PREFIX)}
    assert served == documented_routes(build_spec(MOUNT_PREFIX))


def test_the_document_is_valid_openapi() -> None:
    validate_spec(build_spec(MOUNT_PREFIX))  # type: ignore[arg-type]
