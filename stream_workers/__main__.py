"""``python -m stream_workers [worker|lag]``: run the worker (default), or print its lag."""

import argparse
import asyncio
import dataclasses
import logging
import sys
from datetime import UTC, datetime

import orjson

from stream_workers.settings import load_settings


def run_worker() -> None:
    import faust

    from stream_workers.app import create_app

    settings = load_settings()
    app, _ = create_app(settings)
    worker = faust.Worker(app, loglevel="INFO", quiet=True)
    worker.execute_from_commandline()  # runs until stopped, then exits the process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realanalytics-worker", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("worker", help="consume the events topic into every projection")
    lag = commands.add_parser("lag", help="lag and freshness per partition of the group")
    lag.add_argument("--json", action="store_true", help="one JSON object per partition")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "lag":
        return print_lag(as_json=args.json)
    run_worker()
    return 0


def print_lag(as_json: bool) -> int:
    from stream_workers.lag import format_table, group_lag

    s = load_settings()
    rows = asyncio.run(
        group_lag(s.kafka_bootstrap, s.database_url, s.group_id, s.events_topic, datetime.now(UTC))
    )
    if as_json:
        for row in rows:
            print(orjson.dumps(dataclasses.asdict(row)).decode())
    else:
        print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
