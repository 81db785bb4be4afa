"""``realanalytics lag|replay``: the stream workers' own commands, run on this machine
(they talk to Kafka and PostgreSQL directly, not through the App API)."""

import importlib.util
import os
import subprocess
import sys

import click

from control_plane.cli.client import CliError


def _stream_workers(command: str, args: tuple[str, ...]) -> None:
    if importlib.util.find_spec("stream_workers") is None:
        raise CliError(f"`{command}` needs the stream workers (package stream_workers not found)")
    result = subprocess.run(  # noqa: S603 - our own module, arguments passed through
        [sys.executable, "-m", "stream_workers", command, *args], env=os.environ.copy()
    )
    if result.returncode != 0:
        sys.exit(result.returncode)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def lag(args: tuple[str, ...]) -> None:
    """Stream lag per partition (python -m stream_workers lag)."""
    _stream_workers("lag", args)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def replay(args: tuple[str, ...]) -> None:
    """Replay the log to rebuild projections (python -m stream_workers replay)."""
    _stream_workers("replay", args)
