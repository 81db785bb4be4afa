"""``python -m query_api``: serve the query API alone on RA_QUERY_HOST:RA_QUERY_PORT (8082).

The App API origin (``python -m app_api``) mounts it beside the control plane instead.
"""

import logging

from aiohttp import web

from query_api.app import create_standalone_app
from query_api.settings import load_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    web.run_app(
        create_standalone_app(settings), host=settings.host, port=settings.port, access_log=None
    )


if __name__ == "__main__":
    main()
