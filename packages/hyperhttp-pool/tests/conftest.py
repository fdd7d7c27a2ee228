"""Hygiene fixtures: fail any test that leaves tasks, timer handles or threads behind."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator


@pytest_asyncio.fixture(autouse=True)
async def no_leaked_tasks_or_timers() -> AsyncIterator[None]:
    """Fail a test that leaves tasks or timer handles behind on its loop."""
    yield
    await asyncio.sleep(0)
    current = asyncio.current_task()
    leftover = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    assert not leftover, f"tasks left running: {leftover}"
    # BaseEventLoop keeps its timers in _scheduled (uvloop has no such list).
    scheduled = getattr(asyncio.get_running_loop(), "_scheduled", [])
    live = [handle for handle in scheduled if not handle.cancelled()]
    assert not live, f"timer handles left scheduled: {live}"


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves threads behind."""
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) <= before
