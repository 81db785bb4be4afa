"""``python -m ingest_gateway``: serve ``POST /`` on RA_INGEST_HOST:RA_INGEST_PORT."""

import asyncio
import gc
import logging
import signal

import uvloop

from common.logs import configure as configure_logging
from ingest_gateway.app import create_app
from ingest_gateway.server import connection_cap, raise_open_files_limit, start_site
from ingest_gateway.settings import Settings, load_settings

logger = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, then close connections and resources."""
    cap = connection_cap(settings.max_connections, raise_open_files_limit())
    runner = await start_site(create_app(settings), settings, cap)
    logger.info("serving on %s (at most %d connections)", runner.addresses, cap)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    configure_logging()
    settings = load_settings()
    # Objects made at start-up live forever; keeping them out of the collector's scans
    # and collecting the young generation less often cut the GC share under load.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(settings))


if __name__ == "__main__":
    main()
