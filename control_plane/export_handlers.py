"""HTTP handlers that stream raw events: a person's (an access request, GDPR Art. 15) and
a project's over a time range (an export). Owners only; JSON lines, a batch per write.

Nothing here logs a distinct id or an event: only project ids and counts.
"""

import logging
from contextlib import aclosing

from aiohttp import web

from control_plane import event_stream
from control_plane.app_keys import EXPORTS
from control_plane.auth import authenticate
from control_plane.errors import Unavailable
from control_plane.event_rows import COUNT_HEADER, NDJSON, check_format, json_line, parse_range
from control_plane.event_stream import Selection, open_stream
from control_plane.project_handlers import member_project
from control_plane.shards import RETRY_AFTER_SECONDS, shard_pool

logger = logging.getLogger(__name__)


async def person_events(request: web.Request) -> web.StreamResponse:
    """``GET …/persons/{distinctId}/events?format=jsonl``: every stored event of one
    person, in timestamp order."""
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    check_format(request.query.get("format"))
    selection = event_stream.person_events(project.id, request.match_info["distinctId"])
    return await _stream(request, project.id, selection)


async def export_events(request: web.Request) -> web.StreamResponse:
    """``GET …/events/export?from=…&to=…``: the project's events of the range."""
    principal = await authenticate(request)
    project = await member_project(request, request.match_info["ref"], principal, owner=True)
    start, end = parse_range(request.query)
    return await _stream(request, project.id, event_stream.range_events(project.id, start, end))


async def _stream(
    request: web.Request, project_id: str, selection: Selection
) -> web.StreamResponse:
    exports = request.app[EXPORTS]
    if exports.locked():
        raise Unavailable("EXPORTS_BUSY", RETRY_AFTER_SECONDS)
    async with exports:
        pool = await shard_pool(request, project_id)
        response = web.StreamResponse(headers={"Cache-Control": "no-store"})
        response.content_type = NDJSON
        sent = 0
        try:
            async with pool.connection() as conn, open_stream(conn, selection) as stream:
                response.headers[COUNT_HEADER] = str(stream.count)
                await response.prepare(request)
                async with aclosing(stream.batches()) as batches:
                    async for rows in batches:
                        await response.write(b"".join(json_line(row) for row in rows))
                        sent += len(rows)
        except ConnectionResetError:
            logger.info("client left the stream of project %s after %d events", project_id, sent)
            return response
        except Exception as exc:
            if not response.prepared:
                raise  # nothing sent yet: the error middleware answers
            # The headers are sent, so no error body can follow: drop the connection, so
            # that the client sees a broken stream and never one that looks complete.
            logger.warning(
                "stream of project %s failed after %d events: %s",
                project_id,
                sent,
                type(exc).__name__,
            )
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        logger.info("streamed %d events of project %s", sent, project_id)
        return response
