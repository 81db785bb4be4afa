"""``python -m stream_workers [worker]``: run the worker (the default command)."""

import argparse
import logging
import sys

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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command in (None, "worker"):
        run_worker()
    return 0


if __name__ == "__main__":
    sys.exit(main())
