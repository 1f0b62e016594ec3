"""numba's njit with its on-disk cache wherever numba can write one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from numba import njit

F = TypeVar("F", bound=Callable[..., Any])


def njit_cached(func: F) -> F:
    """`@njit(cache=True)`, or plain `@njit` when numba finds no writable cache directory.

    With a read-only filesystem (the ml_engine pod runs with readOnlyRootFilesystem) and no
    NUMBA_CACHE_DIR, `cache=True` raises RuntimeError at decoration, which would fail the import.
    Without the cache, `warm_up()` compiles in memory at start instead (about a second).
    """
    try:
        return cast(F, njit(cache=True)(func))
    except RuntimeError:
        return cast(F, njit(func))
