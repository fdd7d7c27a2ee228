"""The ASGI lifespan protocol, run by ``async with ASGITransport(app)`` (``_asgi``).

Strategy
--------
:class:`Lifespan` calls the app once with a ``lifespan`` scope, in a task of
its own that lives from the transport's ``__aenter__`` to its
``__aexit__``: ``lifespan.startup`` is the app's first ``receive()``, and
``lifespan.shutdown`` its second, answered once the transport exits. The
scope's ``state`` dict is what requests get a shallow copy of.

Invariants
----------
1. Nothing outlives the exit: the app's task has ended when ``stop()``
   returns (it returns as it answers the shutdown; if it does not, it is
   cancelled and awaited).
2. An app that does not support lifespan is called without it (ASGI lifespan
   spec 2.0: "the server must continue"); one that tried and failed makes
   the transport raise (see :class:`Lifespan` for which is which).
3. Not timed: a startup or shutdown that hangs, hangs the ``async with``
   (the caller can bound it with ``asyncio.timeout``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._asgi import ASGIApp, Message

__all__ = ["Lifespan"]

#: Times the app's task is cancelled and awaited again when the caller is
#: cancelled while waiting for it to end.
_MAX_STOPS = 8


class Lifespan:
    """One run of the app's ``lifespan`` scope: startup, then (later) shutdown.

    Rules (ASGI lifespan spec 2.0, and asgi-lifespan's reading of "an app
    that does not support it"): an app that raises or returns before its
    first ``receive()`` does not support lifespan, and requests go on
    without it; one that answers ``lifespan.startup.failed``, or fails or
    returns after it received ``lifespan.startup`` without answering, failed
    to start: the app's exception is raised (else a RuntimeError with its
    message). The same for shutdown.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.loop = asyncio.get_running_loop()
        self.received = 0  # lifespan.* messages handed to the app
        self.shutting_down = False
        self.startup: Message | None = None  # the app's answers
        self.shutdown: Message | None = None
        self.finished = False
        self.error: Exception | None = None
        self.task: asyncio.Task[None] | None = None
        self._waiters: list[asyncio.Future[None]] = []

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def _wait(self) -> None:
        waiter: asyncio.Future[None] = self.loop.create_future()
        self._waiters.append(waiter)
        await waiter

    async def receive(self) -> dict[str, Any]:
        self.received += 1
        if self.received == 1:
            return {"type": "lifespan.startup"}
        while not self.shutting_down:
            await self._wait()
        if self.received == 2:
            return {"type": "lifespan.shutdown"}
        while True:  # asked again after shutdown: nothing more comes (it is cancelled)
            await self._wait()

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed") and not (
            self.startup or self.shutting_down
        ):
            self.startup = message
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed") and (
            self.shutting_down and not self.shutdown
        ):
            self.shutdown = message
        else:
            raise RuntimeError(f"ASGI lifespan: unexpected message {kind!r}")
        self._wake()

    async def run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self.receive, self.send)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = exc
        finally:
            self.finished = True
            self._wake()

    async def start(self) -> bool:
        """Run the startup; return False if the app does not support lifespan.

        Raises:
            Exception: the app's own, or RuntimeError, when its startup failed.

        """
        self.task = self.loop.create_task(self.run())
        try:
            while self.startup is None and not self.finished:
                await self._wait()
        except BaseException:  # cancelled (a timeout around a hanging startup): end the app
            await self._stop()
            raise
        answer = self.startup
        if answer is None and not self.received:
            return False  # raised or returned before its first receive(): unsupported
        if answer is not None and answer["type"] == "lifespan.startup.complete":
            return True
        await self._stop()
        self._raise("startup", answer)
        raise AssertionError("unreachable")  # pragma: no cover

    async def stop(self) -> None:
        """Run the shutdown, then make sure the app's task has ended.

        Raises:
            Exception: the app's own, or RuntimeError, when its shutdown failed.

        """
        self.shutting_down = True
        self._wake()
        try:
            while self.shutdown is None and not self.finished:
                await self._wait()
        finally:  # cancelled or not, the app's task ends here
            await self._stop()
        answer = self.shutdown
        if answer is not None and answer["type"] == "lifespan.shutdown.complete":
            return
        if answer is None and self.error is None:
            return  # returned without answering: nothing failed
        self._raise("shutdown", answer)

    async def _stop(self) -> None:
        """End the app's task: it normally returns as it answers; else it is cancelled.

        The task has ended when this returns, even if the caller is cancelled
        meanwhile (that cancellation is raised after).
        """
        task = self.task
        cancelled: asyncio.CancelledError | None = None
        for _ in range(_MAX_STOPS):
            if task is None or task.done():
                break
            task.cancel()
            try:
                await asyncio.wait([task])
            except asyncio.CancelledError as exc:
                cancelled = exc
        if cancelled is not None:
            raise cancelled

    def _raise(self, phase: str, answer: Message | None) -> None:
        if self.error is not None:
            raise self.error
        if answer is None:
            raise RuntimeError(f"the ASGI app's lifespan ended without answering its {phase}")
        message = answer.get("message", "")
        raise RuntimeError(f"the ASGI app's {phase} failed: {message}")
