"""Event hooks (``event_hooks={"request": [...], "response": [...]}``): the user's callbacks.

Strategy
--------
Request hooks run on every attempt (replays and retries included), each on
that attempt's own copy of the request, which is checked as it is sent,
whatever a hook changed. Response hooks run on the response head, before
its body is read; if one raises, the response is closed (its connection is
not reused unread) and the error propagates. A hook may be sync or async.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import Request, Response

__all__ = ["Hooks"]


class Hooks:
    """The request and response hooks of a client, validated."""

    __slots__ = ("request", "response")

    def __init__(self, event_hooks: Mapping[str, Sequence[Callable[..., Any]]] | None) -> None:
        self.request: tuple[Callable[..., Any], ...] = ()
        self.response: tuple[Callable[..., Any], ...] = ()
        if event_hooks is None:
            return
        if not isinstance(event_hooks, Mapping):
            raise TypeError(
                "event_hooks must be a mapping like {'request': [...], 'response': [...]}"
            )
        unknown = set(event_hooks) - {"request", "response"}
        if unknown:
            raise ValueError(
                f"unknown event hook kinds {sorted(unknown)}: 'request' and 'response' only"
            )
        found: list[tuple[Callable[..., Any], ...]] = []
        for kind in ("request", "response"):
            hooks = event_hooks.get(kind, ())
            if callable(hooks) or not all(callable(hook) for hook in hooks):
                raise TypeError(f"event_hooks[{kind!r}] must be a list of callables")
            found.append(tuple(hooks))
        self.request, self.response = found

    async def on_request(self, request: Request) -> Request:
        """Call the request hooks on this attempt's own copy of the request."""
        attempt = request.copy()
        for hook in self.request:
            await _call(hook, attempt)
        return attempt  # validated as it is sent, whatever the hooks changed

    async def on_response(self, response: Response) -> None:
        """Call the response hooks on the head; close the response if one raises."""
        try:
            for hook in self.response:
                await _call(hook, response)
        except BaseException:
            await response.aclose()
            raise


async def _call(hook: Callable[..., Any], argument: object) -> None:
    result = hook(argument)
    if inspect.isawaitable(result):
        await result
