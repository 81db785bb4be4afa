"""Giving the memory a batch freed back to the system.

CPython hands objects over 512 bytes, and its own arenas, to the C library's malloc. glibc
returns freed memory to the kernel only from the top of its heap, so after a batch of
100k records is freed, the pages it used stay in the worker's RSS wherever one live object
still sits among them: measured, a worker that had peaked at 564 MB stayed at ~405 MB
through a soak at 5k ev/s whose batches need a fraction of that. ``malloc_trim(0)`` gives
every wholly free page back (glibc >= 2.8 walks the whole heap, not just its top), as Dask's
workers and Orthanc's housekeeper do; the worker calls it on a timer, not per batch, so a
batch's pages are not faulted in again every time.
"""

import ctypes
import ctypes.util
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return function


_TRIM = _malloc_trim()


def trim() -> bool:
    """Return the heap's free pages to the system; False where that cannot be done."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
