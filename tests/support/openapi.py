"""A service's OpenAPI document against the routes it serves, so neither can drift."""

from typing import Any

from aiohttp import web

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}  # HEAD is aiohttp's, per GET


def served_routes(app: web.Application) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every route of ``app`` and its mounted sub-apps."""
    routes: set[tuple[str, str]] = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is not None and route.method in METHODS:
            routes.add((route.method, resource.canonical))
    for resource in app.router.resources():
        sub_app = getattr(resource, "_app", None)
        if isinstance(sub_app, web.Application):
            routes |= served_routes(sub_app)
    return routes


def documented_routes(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method.upper() in METHODS
    }
