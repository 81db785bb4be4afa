"""``realanalytics export`` and ``realanalytics person-events``: a project's raw events of a
time range, or one person's (an access request), streamed from the App API into a file,
with a progress bar, in bounded memory.

The file is written beside FILE and renamed over it only once every event the server
counted has arrived: a broken stream leaves no file that looks complete.
"""

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click
import orjson

from control_plane.cli.client import AppClient, CliError, error_line
from control_plane.cli.context import Context, pass_context
from control_plane.event_rows import COUNT_HEADER, NDJSON

FORMATS = ("parquet", "jsonl")
# Rows per Parquet row group: what the CLI holds in memory at once (as column strings,
# a few hundred bytes a row), and a common row group size for readers.
ROWS_PER_GROUP = 50_000
CHUNK_BYTES = 256 * 1024
# Per socket read: the server counts the events before the first byte (a few seconds
# for millions), then sends continuously.
STREAM_TIMEOUT_SECONDS = 300.0

Progress = Callable[[int], None]


@click.command("export")
@click.option("--project", required=True, help="Slug or id.")
@click.option("--from", "start", required=True, help="ISO 8601 time or date, inclusive (UTC).")
@click.option("--to", "end", required=True, help="ISO 8601 time or date, exclusive (UTC).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="parquet", show_default=True)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def export(context: Context, project: str, start: str, end: str, fmt: str, file: Path) -> None:
    """Write the project's raw events with FROM <= timestamp < TO to FILE (owners)."""
    query = urllib.parse.urlencode({"from": start, "to": end})
    path = f"/api/projects/{_segment(project)}/events/export?{query}"
    count = download(context.client(), path, fmt, file, "Exporting")
    click.echo(f"Wrote {count:,} events to {file}")


@click.command("person-events")
@click.option("--project", required=True, help="Slug or id.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.argument("distinct_id")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def person_events(context: Context, project: str, fmt: str, distinct_id: str, file: Path) -> None:
    """Write every stored event of DISTINCT_ID to FILE: an access request (owners)."""
    path = f"/api/projects/{_segment(project)}/persons/{_segment(distinct_id)}/events"
    count = download(context.client(), path + "?format=jsonl", fmt, file, "Reading")
    click.echo(f"Wrote {count:,} events to {file}")


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def download(client: AppClient, path: str, fmt: str, file: Path, label: str) -> int:
    """Stream ``path``'s JSON lines into ``file`` as ``fmt``; the number of events."""
    response = _open(client, path)
    with response:
        count = int(response.headers.get(COUNT_HEADER, "0"))
        partial = file.with_name(file.name + ".partial")
        try:
            with click.progressbar(length=count, label=label) as bar:
                write = write_parquet if fmt == "parquet" else write_jsonl
                written = write(response, partial, bar.update)
            if written != count:
                raise CliError(f"the stream ended after {written:,} of {count:,} events")
            partial.replace(file)
        except (http.client.HTTPException, OSError, orjson.JSONDecodeError) as exc:
            raise CliError(f"the stream broke off: {type(exc).__name__}") from exc
        finally:
            partial.unlink(missing_ok=True)
    return count


def _open(client: AppClient, path: str) -> http.client.HTTPResponse:
    headers = {"Accept": NDJSON}
    if client.access_token:
        headers["Authorization"] = f"Bearer {client.access_token}"
    request = urllib.request.Request(client.url + path, headers=headers)  # noqa: S310 - App API
    try:
        response: http.client.HTTPResponse = urllib.request.urlopen(  # noqa: S310
            request, timeout=STREAM_TIMEOUT_SECONDS
        )
    except urllib.error.HTTPError as exc:
        raise CliError(error_line(exc.code, _json_or_none(exc.read()))) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CliError(f"cannot reach the App API at {client.url}: {reason}") from exc
    return response


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def write_jsonl(source: IO[bytes], path: Path, progress: Progress) -> int:
    """The lines as they come, in large chunks; the number of lines."""
    lines = 0
    with path.open("wb") as out:
        while chunk := source.read(CHUNK_BYTES):
            out.write(chunk)
            added = chunk.count(b"\n")
            lines += added
            progress(added)
    return lines


def write_parquet(source: IO[bytes], path: Path, progress: Progress) -> int:
    """The lines as Parquet row groups of at most ``ROWS_PER_GROUP`` rows; the number of
    rows. pyarrow is imported here only: the rest of the CLI starts without it."""
    import pyarrow.parquet as pq

    from control_plane.parquet_rows import SCHEMA, ColumnBuffer

    buffer = ColumnBuffer()
    rows = 0
    with pq.ParquetWriter(path, SCHEMA, compression="zstd") as writer:

        def flush() -> int:
            taken = len(buffer)
            if taken:
                writer.write_batch(buffer.take())
                progress(taken)
            return taken

        for line in _lines(source):
            buffer.add(line)
            if len(buffer) >= ROWS_PER_GROUP:
                rows += flush()
        rows += flush()
    return rows


def _lines(source: IO[bytes]) -> Iterator[bytes]:
    while line := source.readline():
        if line.strip():
            yield line
