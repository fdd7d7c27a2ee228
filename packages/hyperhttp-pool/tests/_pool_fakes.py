"""The fakes the pool's tests share: a connection and an injected connect.

The pool never does I/O itself: connections come from an injected
``connect``, so a fake connection (settable capacity and usability) is the
real peer of the tests. Imported as a top-level module (``_pool_fakes``):
conftest.py puts this folder on ``sys.path``, which ``--import-mode=importlib``
does not.
"""

from __future__ import annotations

import asyncio

from hyperhttp_pool import Pool


class FakeConnection:
    """A connection the pool can manage: capacity, usability and close are settable."""

    def __init__(self, key: str, number: int, capacity: int = 1) -> None:
        self.key = key
        self.number = number
        self.capacity = capacity
        self.usable = True
        self.closed = False

    def is_usable(self) -> bool:
        return self.usable and not self.closed

    def close(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return f"<FakeConnection {self.key}#{self.number}>"


class Connector:
    """An injected connect function: counts opens, can fail, block, or set capacity.

    By default each call yields to the loop once, then opens a connection of
    capacity 1 and keeps it in ``opened``.
    """

    def __init__(self) -> None:
        self.opened: list[FakeConnection] = []
        self.capacity = 1
        self.failures: list[BaseException] = []
        self.gate: asyncio.Event | None = None  # when set, connects wait for it
        self.started = 0
        self.most_open = 0

    async def __call__(self, key: str) -> FakeConnection:
        self.started += 1
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(0)
        if self.failures:
            raise self.failures.pop(0)
        connection = FakeConnection(key, len(self.opened), self.capacity)
        self.opened.append(connection)
        self.most_open = max(self.most_open, len(self.open_now()))
        return connection

    def open_now(self) -> list[FakeConnection]:
        return [c for c in self.opened if not c.closed]


FakePool = Pool[str, FakeConnection]


async def settle(rounds: int = 5) -> None:
    """Let every ready callback run."""
    for _ in range(rounds):
        await asyncio.sleep(0)
