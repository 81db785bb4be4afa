"""Freed memory goes back to the system when the worker trims (glibc's malloc_trim)."""

import gc
import sys

import pytest

from stream_workers import memory


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * 4096


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_a_freed_batchs_pages_go_back_to_the_system() -> None:
    # Records' bytes over 512 come from malloc (not CPython's arenas); one in fifty kept
    # alive pins pages that glibc cannot give back from the top of its heap alone.
    batch = [bytes(700) + n.to_bytes(4, "little") for n in range(200_000)]
    kept = batch[::50]
    del batch
    gc.collect()
    before = rss_bytes()
    assert memory.trim()
    after = rss_bytes()
    assert before - after > 50 * 1024 * 1024  # of the ~140 MB the batch had
    assert len(kept) == 4000
