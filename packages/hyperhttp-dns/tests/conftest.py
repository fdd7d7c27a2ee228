"""Async tests run on asyncio's loop and on uvloop; hygiene fixtures fail leaks.

``run_virtual`` runs a coroutine on :class:`VirtualTimeLoop`, whose clock
jumps to the next timer instead of sleeping: Happy Eyeballs timing is
checked to the millisecond without waiting for it.
"""

from __future__ import annotations

import asyncio
import selectors
import sys
import threading
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping

T = TypeVar("T")


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


def _assert_no_leaks(loop: asyncio.AbstractEventLoop) -> None:
    current = asyncio.current_task(loop)
    leftover = [t for t in asyncio.all_tasks(loop) if t is not current and not t.done()]
    assert not leftover, f"tasks left running: {leftover}"
    # BaseEventLoop keeps its timers in _scheduled (uvloop has no such list).
    scheduled = getattr(loop, "_scheduled", [])
    live = [handle for handle in scheduled if not handle.cancelled()]
    assert not live, f"timer handles left scheduled: {live}"


@pytest_asyncio.fixture(autouse=True)
async def no_leaked_tasks_or_timers(no_leaked_threads: None) -> AsyncIterator[None]:
    """Fail a test that leaves tasks or timer handles behind on its loop.

    (It runs inside ``no_leaked_threads``, which checks after the executor shut down.)
    """
    yield
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    _assert_no_leaks(loop)
    await loop.shutdown_default_executor()  # getaddrinfo's threads


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves threads behind (getaddrinfo's pool is the loop's, shut down)."""
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) <= before


class _VirtualSelector(selectors.DefaultSelector):
    """Polls for real without blocking; a wait for a timer advances virtual time instead."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or timeout is None or timeout <= 0:
            if not ready and timeout is None:
                raise AssertionError("the virtual-time loop would wait for ever: deadlock")
            return ready
        self._loop.now += timeout
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock advances only when it would otherwise sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self.now


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` on a fresh virtual-time loop and check it left nothing behind."""
    loop = VirtualTimeLoop()
    try:
        result = loop.run_until_complete(main())
        loop.run_until_complete(asyncio.sleep(0))
        _assert_no_leaks(loop)
        return result
    finally:
        loop.close()


@pytest.fixture
def virtual() -> Callable[[Callable[[], Coroutine[Any, Any, T]]], T]:
    """Provide the :func:`run_virtual` runner."""
    return run_virtual
