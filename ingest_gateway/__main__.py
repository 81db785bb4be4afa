"""``python -m ingest_gateway``: serve ``POST /`` on RA_INGEST_HOST:RA_INGEST_PORT."""

import logging

from aiohttp import web

from ingest_gateway.app import create_app
from ingest_gateway.settings import load_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=None,
        auto_decompress=False,  # ingest_gateway.body decodes, with the contract's errors
    )


if __name__ == "__main__":
    main()
