"""``python -m control_plane``: serve the control plane alone on RA_APP_HOST:RA_APP_PORT.

The App API origin (``python -m app_api``) is the usual way to run it, beside the query API.
"""

import logging

from aiohttp import web

from control_plane.app import create_standalone_app
from control_plane.settings import load_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    web.run_app(
        create_standalone_app(settings), host=settings.host, port=settings.port, access_log=None
    )


if __name__ == "__main__":
    main()
