"""Process-level settings that make CPU training fast here.

glibc serves allocations above its mmap threshold (32 MB at most) with a fresh mmap each time and
returns them on free, so every large activation tensor pays page faults again: training is 2-3x
slower. Turning mmap off and raising the trim threshold keeps that memory in the heap. The CLI calls
`tune_allocator()` at start-up for its own process and exports the same settings through the
environment so child processes (Ray workers, benchmarks) get them before their first allocation.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "68719476736"}
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def tune_allocator() -> bool:
    """Apply the malloc settings to this process (glibc only) and export them for children.

    Returns True when mallopt accepted them. Users can opt out with ``SNNAS_MALLOC_TUNING=0``.
    """
    if os.environ.get("SNNAS_MALLOC_TUNING", "1") == "0":
        return False
    for key, value in MALLOC_ENV.items():
        os.environ.setdefault(key, value)
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(_M_MMAP_MAX, 0) == 1
        ok &= libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1  # an int: 2 GiB is the most it takes
        return bool(ok)
    except (OSError, AttributeError):
        return False
