"""Compressed bodies against the real gateway: one stream per body, nothing after it."""

import gzip
import zlib
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from control_plane.projects import CreatedProject
from tests.integration.ingest_gateway.test_ingest import event, post
from tests.integration.ingest_gateway.test_refusals import refusals
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("encoding", "raw"),
    [
        ("gzip", gzip.compress(orjson.dumps([event(0)])) + b"trailing junk"),
        ("deflate", zlib.compress(orjson.dumps([event(0)])) + b"\x00"),
        # RFC 1952 allows several members; the gateway takes one (docs/api.md). Each member
        # here is a whole batch, so reading only the first would append it with a 200 and
        # drop the second unread.
        (
            "gzip",
            gzip.compress(orjson.dumps([event(0)])) + gzip.compress(orjson.dumps([event(1)])),
        ),
    ],
    ids=["gzip-trailing-bytes", "deflate-trailing-byte", "gzip-two-members"],
)
async def test_bytes_after_the_compressed_stream_are_a_400_and_nothing_is_appended(
    gateway: TestClient,
    project: CreatedProject,
    services: Any,
    kafka_topic: str,
    encoding: str,
    raw: bytes,
) -> None:
    status, answer = await post(
        gateway, raw, project.public_key, headers={"Content-Encoding": encoding}
    )
    assert status == 400
    assert answer == {
        "error": "Validation failed",
        "details": [
            {
                "index": None,
                "field": None,
                "message": f"Body has bytes after the end of the {encoding} stream;"
                " send one stream per body.",
            }
        ],
    }
    assert (await refusals(gateway))[("bad_encoding", "")] == 1
    assert await read_topic(services.kafka_bootstrap, kafka_topic, timeout=1.5) == []
