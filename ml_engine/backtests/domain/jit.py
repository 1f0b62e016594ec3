"""numba's njit with its on-disk cache wherever numba can write one."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar, cast

from numba import njit
from numba.extending import register_jitable

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


def jit_library(module: ModuleType) -> None:
    """Makes every function defined in `module` callable from njit code, compiled into its callers.

    The functions stay plain Python for plain Python callers (business calls the same fill model
    uncompiled). numba's disk cache of a caller is keyed on the caller's source file only: after
    editing the library, clear `__pycache__/*.nbi|*.nbc` next to the callers (a fresh image has none).
    """
    for _, func in inspect.getmembers(module, inspect.isfunction):
        if func.__module__ == module.__name__:
            register_jitable(func)
