"""``python -m app_api``: the App API origin on RA_APP_HOST:RA_APP_PORT (default 127.0.0.1:8081)."""

from aiohttp import web

from app_api.app import create_app, mounts_from_environment
from app_api.settings import load_settings
from common.logs import configure as configure_logging


def main() -> None:
    configure_logging()
    settings = load_settings()
    app = create_app(mounts_from_environment())
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        reuse_port=settings.reuse_port,
        access_log=None,
    )


if __name__ == "__main__":
    main()
