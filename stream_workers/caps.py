"""Sizes every value the worker indexes is kept within, so any record on the topic can be
stored — whatever the gateway let through when it was written, on replays too.

A PostgreSQL btree row holds at most 2704 bytes. The widest the sink writes is a
breakdown row: project (16 bytes), event (at most 100 characters: 400 bytes in UTF-8),
key, granularity, bucket and value (cut to 500 characters: 2000 bytes); measured, it
needs 2456 bytes plus the key's, so a key of at most 200 bytes always fits. The per-user
index holds the distinct id beside the event; an id over 1 KiB is stored as a digest.
"""

import hashlib

MAX_KEY_BYTES = 200  # a breakdown key's UTF-8; longer keys get no breakdown rollup
MAX_ID_BYTES = 1024  # a distinct id's UTF-8; longer ids are stored as ``storable_id``
ID_PREFIX_CHARS = 64  # kept of a too-long id, for a reader (at most 256 bytes)


def storable_key(key: str) -> bool:
    """Whether breakdown rows of ``key`` always fit the index (and the key is text)."""
    return len(key) > 0 and "\x00" not in key and len(key.encode()) <= MAX_KEY_BYTES


def storable_id(text: str) -> str:
    """``text``, or when over MAX_ID_BYTES its first characters and a SHA-256 digest of
    the whole: two long ids stay two users, the same id stays one."""
    if len(text) <= MAX_ID_BYTES // 4 or len(text.encode()) <= MAX_ID_BYTES:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{text[:ID_PREFIX_CHARS]}~sha256:{digest}"
