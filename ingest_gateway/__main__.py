"""``python -m ingest_gateway``: serve ``POST /`` on RA_INGEST_HOST:RA_INGEST_PORT."""

import gc
import logging

import uvloop
from aiohttp import web

from ingest_gateway.app import create_app
from ingest_gateway.settings import load_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    # Objects made at start-up live forever; keeping them out of the collector's scans
    # and collecting the young generation less often cut the GC share under load.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=None,
        auto_decompress=False,  # ingest_gateway.body decodes, with the contract's errors
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
