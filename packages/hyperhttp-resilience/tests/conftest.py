"""Async tests run on asyncio's loop and on uvloop; hygiene fixtures fail leaks."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Run each async test once per event loop implementation."""
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    if sys.platform != "win32":
        import uvloop

        factories["uvloop"] = uvloop.new_event_loop
    return factories


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves threads behind."""
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) <= before


@pytest_asyncio.fixture(autouse=True)
async def no_leaked_tasks_or_timers(no_leaked_threads: None) -> AsyncIterator[None]:
    """Fail a test that leaves tasks or timer handles behind on its loop."""
    yield
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    current = asyncio.current_task()
    leftover = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leftover, f"tasks left running: {leftover}"
    # BaseEventLoop keeps its timers in _scheduled (uvloop has no such list).
    live = [h for h in getattr(loop, "_scheduled", []) if not h.cancelled()]
    assert not live, f"timer handles left scheduled: {live}"
