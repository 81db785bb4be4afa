"""Person deletion (issue 17): the names the control plane and the workers share.

A deletion request names up to ``MAX_DISTINCT_IDS`` distinct ids of one project. The
project's shard's workers carry it out (stream_workers/erasure.py) and keep a tombstone per
person, keyed by ``person_digest``; while they change a project's rows they hold its
``project_lock_key`` exclusively, and every batch transaction holds it shared for each of
its projects, so a batch either committed before the tombstone (its rows are then
deleted) or reads it (its rows are never written).
"""

import hashlib
import uuid
from enum import StrEnum

MAX_DISTINCT_IDS = 1000
MAX_DISTINCT_ID_CHARS = 200  # the longest distinct id the gateway accepts (its MAX_ID_LENGTH)


class DeletionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"


def person_digest(distinct_id: str) -> bytes:
    """The tombstone's key of a person: SHA-256 of the distinct id's UTF-8 bytes (the SQL
    side computes ``sha256(convert_to(distinct_id, 'UTF8'))``, the same bytes)."""
    return hashlib.sha256(distinct_id.encode()).digest()


_LOCK_NAMESPACE = 0x5241_4552  # "RAER": keeps these keys apart from other advisory locks


def project_lock_key(project_id: str) -> int:
    """The advisory lock key of a project's rows (a signed 64-bit integer, as PostgreSQL's
    ``pg_advisory_xact_lock(bigint)`` takes)."""
    high = int.from_bytes(uuid.UUID(project_id).bytes[:8], "big", signed=True)
    return high ^ _LOCK_NAMESPACE
