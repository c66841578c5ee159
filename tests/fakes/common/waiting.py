"""Waiting for a fake's state from a test, in sync or async code: poll a predicate until it holds or time runs out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["poll_until", "apoll_until"]


def poll_until(predicate: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    """Block until `predicate()` is true (polling every 5 ms); TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


async def apoll_until(predicate: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    """Async twin of `poll_until` (yields to the caller's event loop while waiting)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.005)
