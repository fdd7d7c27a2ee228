"""Fixtures for the cross-package tests: real peers on loopback, leak checks.

Every async test runs on asyncio's loop and on uvloop. After each test no
task, timer handle, thread or socket may be left behind.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping

pytest_plugins = [
    "tests.servers.fixtures",
    "tests.servers.nginx",
    "tests.servers.dante",
    "tests.servers.socks_scripted",
]


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


def _sockets() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(f"{fd}->{target}")
    return found


@pytest.fixture(autouse=True)
def no_leaked_threads_or_sockets() -> Iterator[None]:
    """Fail a test that leaves threads or sockets open."""
    threads = set(threading.enumerate())
    sockets = _sockets()
    yield
    assert set(threading.enumerate()) <= threads
    leaked = _sockets() - sockets
    assert not leaked, f"sockets left open: {sorted(leaked)}"


@pytest_asyncio.fixture(autouse=True)
async def no_leaked_tasks_or_timers(no_leaked_threads_or_sockets: None) -> AsyncIterator[None]:
    """Fail a test that leaves tasks or timer handles behind on its loop."""
    yield
    for _ in range(3):
        await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    current = asyncio.current_task()
    leftover = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not leftover, f"tasks left running: {leftover}"
    live = [h for h in getattr(loop, "_scheduled", []) if not h.cancelled()]
    assert not live, f"timer handles left scheduled: {live}"
    await loop.shutdown_default_executor()
