"""The allocator settings of processes that make and drop large arrays (service_runtime/allocator.py)."""

from __future__ import annotations

import sys

import pytest

from service_runtime.allocator import keep_freed_memory


def test_zero_leaves_the_allocator_as_it_is() -> None:
    assert keep_freed_memory(0) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_glibc_takes_the_settings() -> None:
    assert keep_freed_memory(64 * 1024 * 1024) is True
