"""The dashboard's exception root, and the error middleware (``common.errors``') that turns
each into a JSON body."""

from aiohttp import web

from common.errors import json_errors


class DashboardError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Forbidden(DashboardError):
    status = 403


def answer(exc: DashboardError) -> web.Response:
    return web.json_response({"error": exc.message}, status=exc.status)


errors = json_errors(DashboardError, answer)
