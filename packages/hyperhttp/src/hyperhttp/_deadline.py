"""The ``total`` timeout over a streamed body: one deadline, read after ``send`` returned.

Strategy
--------
``Client.send`` runs the whole call under ``asyncio.timeout(total)``; a body
read there (``stream=False``) is covered. A streamed response is returned
at its head, and its body read later by the caller: :func:`keep_deadline`
wraps its body source in :class:`DeadlineBody`, which reads within the same
deadline (``asyncio.timeout_at``), so a body trickled slower than the
deadline ends in ``ReadTimeout`` as a non-streamed one does (aiohttp's
``ClientTimeout(total=)`` covers the body too). Nothing is wrapped without
a ``total``: the usual path pays nothing.

With ``Client(deadline_header="X-Request-Timeout")`` every attempt carries
what is left of the call's ``total`` budget, in milliseconds, so the server
can give up on work nobody will wait for (:func:`with_deadline`; the
deadline travels in :data:`CALL_DEADLINE`, set only when that option is).
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import TYPE_CHECKING

from hyperhttp_parser import TOKEN_BYTES

from ._boundary import translate
from ._models import BodySource

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._models import Request, Response

__all__ = [
    "CALL_DEADLINE",
    "DeadlineBody",
    "check_deadline_header",
    "keep_deadline",
    "with_deadline",
]


def keep_deadline(response: Response, deadline: float, total: float) -> None:
    """Make the streamed ``response``'s body read within ``deadline`` (loop time)."""
    source = response._source
    if source is not None and response._content is None:
        response._source = DeadlineBody(source, deadline, total, response.request)


class DeadlineBody(BodySource):
    """A body source read within a deadline; past it, ``ReadTimeout`` (the total's)."""

    __slots__ = ("deadline", "request", "source", "total")

    def __init__(
        self, source: BodySource, deadline: float, total: float, request: Request | None
    ) -> None:
        self.source = source
        self.deadline = deadline
        self.total = total
        self.request = request

    async def read_all(self) -> bytes:
        try:
            async with asyncio.timeout_at(self.deadline):
                return await self.source.read_all()
        except TimeoutError as exc:
            raise translate(exc, "total", timeout=self.total, request=self.request)  # noqa: B904

    async def iter_raw(self) -> AsyncIterator[bytes]:
        chunks = aiter(self.source.iter_raw())
        try:
            while True:
                try:
                    async with asyncio.timeout_at(self.deadline):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except TimeoutError as exc:
                    raise translate(exc, "total", timeout=self.total, request=self.request)  # noqa: B904
                yield chunk
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    def close(self) -> None:
        self.source.close()


#: The loop time the current ``send`` must end by (set only with ``deadline_header``).
CALL_DEADLINE: ContextVar[float | None] = ContextVar("hyperhttp_call_deadline", default=None)


def check_deadline_header(name: object) -> str | None:
    """Return ``deadline_header=`` checked: a field name (RFC 9110 §5.1), or None.

    Raises:
        TypeError, ValueError: not a str, or not a token.

    """
    if name is None:
        return None
    if not isinstance(name, str):
        raise TypeError(f"deadline_header must be a str, not {type(name).__name__}")
    if not name or not name.isascii() or name.encode().translate(None, TOKEN_BYTES):
        raise ValueError(f"deadline_header {name!r} is not a field name (RFC 9110 §5.1)")
    return name


def with_deadline(request: Request, name: str) -> Request:
    """Return ``request`` carrying the call's remaining budget in ms in field ``name``.

    A call without a ``total`` deadline sends the request as it is.
    """
    deadline = CALL_DEADLINE.get()
    if deadline is None:
        return request
    left = max(0, int((deadline - asyncio.get_running_loop().time()) * 1000))
    sent = request.copy()
    sent.headers[name] = str(left)
    return sent
