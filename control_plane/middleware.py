"""The control plane's error middleware: ``common.errors``' with its exception root, and
every answer counted by route and status in ``/metrics``."""

from aiohttp import web

from common.errors import Reason, json_errors
from control_plane.app_keys import METRICS
from control_plane.errors import ControlPlaneError


def answer(exc: ControlPlaneError) -> web.Response:
    return web.json_response(exc.body, status=exc.status, headers=exc.headers)


def count(request: web.Request, response: web.StreamResponse, reason: Reason) -> None:
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    request.app[METRICS].requests.labels(name, str(response.status)).inc()


errors = json_errors(ControlPlaneError, answer, observe=count)
