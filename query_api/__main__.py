"""``python -m query_api``: serve the query API alone on RA_QUERY_HOST:RA_QUERY_PORT (8082).

The App API origin (``python -m app_api``) mounts it beside the control plane instead.
"""

from aiohttp import web

from common.logs import configure as configure_logging
from query_api.app import create_standalone_app
from query_api.settings import load_settings


def main() -> None:
    configure_logging()
    settings = load_settings()
    web.run_app(
        create_standalone_app(settings),
        host=settings.host,
        port=settings.port,
        reuse_port=settings.reuse_port,
        access_log=None,
    )


if __name__ == "__main__":
    main()
