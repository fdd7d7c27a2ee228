"""Every async test runs on asyncio's loop and on uvloop; hygiene fixtures fail leaks.

A test fails if it leaves tasks, timer handles (checked on asyncio's loop,
which lists them) or threads behind. The fakes the test modules share live in
_pool_fakes.py, imported as a top-level module: ``--import-mode=importlib``
puts no test folder on ``sys.path``, so this conftest puts this one there (for
the workspace's run from the repository root and for this package's own).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)


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
