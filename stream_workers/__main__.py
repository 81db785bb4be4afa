"""``python -m stream_workers [worker|lag|replay|offsets reset]``: run the worker (default),
print its lag, rebuild every projection from the log into a schema of its own, or reset a
group's stored offsets after a Kafka reset (docs/operations.md, "Kafka was reset")."""

import argparse
import asyncio
import dataclasses
import gc
import sys
from datetime import UTC, datetime

import orjson
import psycopg
import uvloop

from common.logs import configure as configure_logging
from common.logs import logging_config
from stream_workers.settings import load_settings
from stream_workers.startup import wait_for_kafka


def run_worker() -> None:
    import faust

    from stream_workers.app import create_app

    settings = load_settings()
    asyncio.run(wait_for_kafka(settings.kafka_bootstrap))
    app, _ = create_app(settings)
    # Two batches of decoded records are alive at once; with the default thresholds the
    # collector kept rescanning them (worker CPU 64 -> 51 µs an event with these, as in
    # the gateway). uvloop for the worker's loop and Faust's consumer thread: 51 -> 47 µs.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    # Faust configures logging as it starts: with ours, so its lines are JSON too.
    worker = faust.Worker(app, loglevel="INFO", quiet=True, logging_config=logging_config())
    worker.execute_from_commandline()  # runs until stopped, then exits the process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realanalytics-worker", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("worker", help="consume the events topic into every projection")
    lag = commands.add_parser(
        "lag", help="lag and freshness per partition of each lane (main and overflow)"
    )
    lag.add_argument("--json", action="store_true", help="one JSON object per partition")
    again = commands.add_parser("replay", help="rebuild every projection from the log")
    again.add_argument(
        "--from",
        dest="since",
        type=parse_since,
        help="replay only records received at or after this ISO date/time (UTC if no zone)",
    )
    again.add_argument("--schema", help="schema to build into (default replay_<UTC time>)")
    again.add_argument("--batch", type=int, default=20000, help="records per transaction")
    offsets = commands.add_parser("offsets", help="the workers' stored offsets")
    offset_commands = offsets.add_subparsers(dest="offsets_command", required=True)
    reset = offset_commands.add_parser(
        "reset",
        help="start a topic's partitions again at their log start, in PostgreSQL and in"
        " Kafka (after a Kafka reset; the workers must be stopped)",
    )
    reset.add_argument("--topic", required=True, help="the lane's topic (e.g. events)")
    reset.add_argument("--group", help="consumer group (default: the lane's whose topic it is)")
    reset.add_argument("--yes", action="store_true", help="do it (without: print the plan)")
    args = parser.parse_args(argv)
    configure_logging()
    if args.command == "lag":
        return print_lag(as_json=args.json)
    if args.command == "replay":
        return run_replay(args.since, args.schema, args.batch)
    if args.command == "offsets":
        return reset_offsets(args.topic, args.group, args.yes)
    run_worker()
    return 0


def parse_since(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_replay(since: datetime | None, schema: str | None, batch: int) -> int:
    from stream_workers.replay import ProgressBar, replay

    name = schema or f"replay_{datetime.now(UTC):%Y%m%d%H%M%S}"
    result = asyncio.run(replay(load_settings(), name, since, batch, ProgressBar()))
    print(
        f"replayed {result.records:,} records ({result.applied:,} applied) into schema"
        f" {result.schema} in {result.seconds:.1f}s"
    )
    if result.held:
        print(
            f"{result.held:,} records held: their partitions' stored offsets in {result.schema}"
            " contradict Kafka (python -m stream_workers lag says why)",
            file=sys.stderr,
        )
        return 2
    return 0


def print_lag(as_json: bool) -> int:
    """Exit status 2 when a partition is held as inconsistent with Kafka."""
    from stream_workers.lag import format_table, lanes_lag

    s = load_settings()
    try:
        rows = asyncio.run(
            lanes_lag(s.kafka_bootstrap, s.database_url, s.lanes(), datetime.now(UTC))
        )
    except psycopg.errors.UndefinedTable:
        print(
            "the database has no consumer_offsets table: run `python -m migrations` first",
            file=sys.stderr,
        )
        return 1
    if as_json:
        for row in rows:
            print(orjson.dumps(dataclasses.asdict(row)).decode())
    else:
        print(format_table(rows))
    held = [r for r in rows if r.inconsistency]
    if held:
        print(
            f"{len(held)} partition(s) held as inconsistent with Kafka: nothing is applied"
            " there until recovered (docs/operations.md, 'Kafka was reset')",
            file=sys.stderr,
        )
        return 2
    return 0


def reset_offsets(topic: str, group: str | None, confirmed: bool) -> int:
    from stream_workers.offsets import ResetRefused, reset

    s = load_settings()
    lanes = {lane_topic: lane_group for lane_group, lane_topic in s.lanes()}
    group = group or lanes.get(topic)
    if group is None:
        print(f"topic {topic} is no lane's: name its consumer group with --group", file=sys.stderr)
        return 1
    try:
        print(asyncio.run(reset(s.kafka_bootstrap, s.database_url, group, topic, confirmed)))
    except ResetRefused as refused:
        print(refused, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
