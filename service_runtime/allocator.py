"""glibc malloc settings for a process that makes and drops large arrays on every request.

By default glibc serves an allocation above its mmap threshold (128 KiB at start, raised as such
blocks are freed, 32 MiB at most) with fresh pages from the kernel, and gives freed memory at the
top of the heap back once more than twice that threshold is free. A request that builds megabytes
of numpy arrays and bytes (GetIndicators over 100k bars: 8.5 MB of output) then pays a page fault
and a zeroed page for every 4 KiB it touches, every time. Keeping up to `keep_bytes` of freed memory
for reuse, and serving blocks up to glibc's ceiling from the heap, makes those pages warm.
The cost is resident memory: up to `keep_bytes` freed memory stays with the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# The largest mmap threshold glibc accepts on 64-bit (HEAP_MAX_SIZE / 2).
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024


def keep_freed_memory(keep_bytes: int) -> bool:
    """Applies the settings (True), or leaves the allocator as it is: `keep_bytes` 0, or a C
    library without glibc's mallopt (musl, macOS)."""
    if keep_bytes <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        log.info("no glibc mallopt: the allocator keeps its defaults")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(
        mallopt(M_TRIM_THRESHOLD, keep_bytes)
    )
    if not applied:
        log.warning("mallopt refused the allocator settings: the allocator keeps its defaults")
    return applied
