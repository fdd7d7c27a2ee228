"""Retry policy: a validated value object that decides, never sleeps.

Theory of operation
-------------------
``RetryPolicy`` is immutable. :meth:`RetryPolicy.decide` is told how one
attempt ended (an error, or a status with its Retry-After) and returns a
:class:`Decision`: retry after ``delay`` seconds, or give up with a
``reason``. The decision carries the policy to use for the next attempt,
which holds the history so far (urllib3's ``Retry.increment()`` shape, minus
its sleeping). :meth:`RetryPolicy.call` is the async loop around it.

Rules, in order
---------------
1. Success (no error, status not retryable): stop.
2. Errors are classified by ``classify``: CONNECT (nothing was sent) is
   always retryable; SENT (the request may have reached the server) only for
   retryable methods; FATAL never.
3. A retryable status (default 429, 502, 503, 504) is retried only for
   retryable methods (the server did receive it).
4. ``max_attempts`` bounds attempts, the first included.
5. Delay: a valid Retry-After on a status in ``retry_after_statuses``
   (default 429, 503), else decorrelated jitter. A Retry-After beyond
   ``max_retry_after`` gives up instead of sleeping that long.
6. ``deadline``: a retry whose delay would end past ``deadline`` seconds from
   the first attempt's start gives up.
7. ``budget``: the retry is taken from the shared :class:`RetryBudget`; an
   empty budget gives up (no retry storms against a failing backend).
"""

from __future__ import annotations

import asyncio
import enum
import random
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from ._backoff import decorrelated_jitter, parse_retry_after
from ._events import RetryEvent
from ._window import RollingCounter
from ._wrap import call_with_retries

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Iterable

__all__ = [
    "DEFAULT_RETRY_AFTER_STATUSES",
    "DEFAULT_RETRY_METHODS",
    "DEFAULT_RETRY_STATUSES",
    "Attempt",
    "Decision",
    "ErrorKind",
    "RetryBudget",
    "RetryEvent",
    "RetryPolicy",
    "default_classify",
    "default_retry_after_of",
    "default_status_of",
]

T = TypeVar("T")

#: RFC 9110 §9.2.2: methods whose repetition has the effect of one request.
DEFAULT_RETRY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
#: Too Many Requests, Bad Gateway, Service Unavailable, Gateway Timeout.
DEFAULT_RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: RFC 9110 §10.2.3: Retry-After comes with 503 and (RFC 6585 §4) 429.
DEFAULT_RETRY_AFTER_STATUSES = frozenset({429, 503})


class ErrorKind(enum.Enum):
    """How an error bears on retrying."""

    CONNECT = "CONNECT"  #: failed before anything was sent: always safe to retry
    SENT = "SENT"  #: the request may have reached the server: idempotent methods only
    FATAL = "FATAL"  #: not worth retrying (a bug, a bad request, cancellation)


def default_classify(error: BaseException) -> ErrorKind:
    """Classify plain Python errors.

    Refused connections and name-resolution failures happen before anything
    is sent; other ``OSError``s and ``TimeoutError`` may come after; anything
    else is FATAL.
    """
    if isinstance(error, ConnectionRefusedError | socket.gaierror):
        return ErrorKind.CONNECT
    if isinstance(error, OSError | TimeoutError):
        return ErrorKind.SENT
    return ErrorKind.FATAL


def default_status_of(result: object) -> int | None:
    """Return ``result.status_code`` or ``result.status`` if it is an int, else None."""
    status = getattr(result, "status_code", None)
    if status is None:
        status = getattr(result, "status", None)
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def default_retry_after_of(result: object) -> str | bytes | None:
    """Return ``result.headers.get("Retry-After")`` if there is such a thing, else None."""
    headers = getattr(result, "headers", None)
    get = getattr(headers, "get", None)
    if get is None:
        return None
    try:
        value = get("Retry-After")
    except Exception:
        return None
    return value if isinstance(value, str | bytes) else None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One finished attempt, as kept in a policy's history."""

    error: BaseException | None
    status: int | None
    delay: float | None  #: the wait chosen after it (None: gave up / success)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after an attempt."""

    retry: bool
    delay: float  #: seconds to wait before the next attempt (0.0 when not retrying)
    reason: str  #: why: the retried condition, or why it stops
    policy: RetryPolicy  #: the policy for the next attempt (its history includes this one)


class RetryBudget:
    """Retries allowed as a fraction of recent calls, plus a floor per second.

    Over the last ``window`` seconds, retries may reach
    ``ratio * calls + min_per_second * window`` (Finagle's RetryBudget idea).
    Share one budget between policies to bound the retries a whole service
    sends. Thread-safe; O(1) per call.

    Args:
        ratio: retries per call allowed (0.2: one retry per five calls).
        window: seconds of history considered.
        min_per_second: retries always allowed per second, however few calls.
        clock: monotonic seconds.

    """

    CALL = 0
    RETRY = 1

    def __init__(
        self,
        ratio: float = 0.2,
        window: float = 10.0,
        min_per_second: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _number("ratio", ratio, minimum=0.0)
        _number("window", window, minimum=0.0, strict=True)
        _number("min_per_second", min_per_second, minimum=0.0)
        self.ratio = float(ratio)
        self.window = float(window)
        self.min_per_second = float(min_per_second)
        self.clock = clock
        self._counter = RollingCounter(self.window, kinds=2)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio}, window={self.window}, "
            f"min_per_second={self.min_per_second})"
        )

    def record_call(self, now: float | None = None) -> None:
        """Count a first attempt (retries are not calls)."""
        with self._lock:
            self._counter.add(self.CALL, self.clock() if now is None else now)

    def try_spend(self, now: float | None = None) -> bool:
        """Take one retry from the budget; False when it is exhausted."""
        now = self.clock() if now is None else now
        with self._lock:
            calls = self._counter.total(self.CALL, now)
            retries = self._counter.total(self.RETRY, now)
            if retries + 1 > self.ratio * calls + self.min_per_second * self.window:
                return False
            self._counter.add(self.RETRY, now)
            return True

    def available(self, now: float | None = None) -> float:
        """Retries that could be taken now."""
        now = self.clock() if now is None else now
        with self._lock:
            calls = self._counter.total(self.CALL, now)
            retries = self._counter.total(self.RETRY, now)
        return max(0.0, self.ratio * calls + self.min_per_second * self.window - retries)


def _number(
    name: str, value: object, *, minimum: float, strict: bool = False, allow_none: bool = False
) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if value != value or value < minimum or (strict and value == minimum):  # NaN too
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")


def _statuses(name: str, value: Iterable[int]) -> frozenset[int]:
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} must be a collection of ints, not {value!r}")
    statuses = frozenset(value)
    for status in statuses:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError(f"{name}: {status!r} is not an HTTP status code")
    return statuses


def _methods(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str | bytes):
        raise TypeError(f"retry_methods must be a collection of strings, not {value!r}")
    methods = frozenset(value)
    for method in methods:
        if not isinstance(method, str) or not method:
            raise TypeError(f"retry_methods: {method!r} is not a method name")
    return frozenset(m.upper() for m in methods)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how long to wait before trying again; see the module docstring for the rules.

    Args:
        max_attempts: attempts in all, the first included (1 = never retry).
        backoff_base: the shortest wait, and the start of decorrelated jitter.
        backoff_cap: the longest wait jitter may choose.
        deadline: seconds from the first attempt after which no retry starts
            (and :meth:`call` bounds each attempt by what remains); None: none.
        retry_statuses: statuses worth another try.
        retry_methods: methods retried after the request may have been sent.
        retry_after_statuses: statuses whose Retry-After is honoured.
        max_retry_after: a longer Retry-After gives up instead of waiting.
        budget: a shared :class:`RetryBudget`, or None.
        classify: error -> :class:`ErrorKind`.
        status_of: result -> status code or None (for :meth:`call`).
        retry_after_of: result -> Retry-After value or None (for :meth:`call`).
        clock: monotonic seconds; wall_clock: POSIX seconds (HTTP-dates).
        uniform: the random source, ``random.uniform`` by default.
        sleep: what :meth:`call` awaits between attempts.

    """

    max_attempts: int = 3
    backoff_base: float = 0.1
    backoff_cap: float = 10.0
    deadline: float | None = None
    retry_statuses: Collection[int] = DEFAULT_RETRY_STATUSES
    retry_methods: Collection[str] = DEFAULT_RETRY_METHODS
    retry_after_statuses: Collection[int] = DEFAULT_RETRY_AFTER_STATUSES
    max_retry_after: float = 60.0
    budget: RetryBudget | None = None
    classify: Callable[[BaseException], ErrorKind] = field(default=default_classify, repr=False)
    status_of: Callable[[Any], int | None] = field(default=default_status_of, repr=False)
    retry_after_of: Callable[[Any], str | bytes | None] = field(
        default=default_retry_after_of, repr=False
    )
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    wall_clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    uniform: Callable[[float, float], float] = field(
        default=random.uniform, repr=False, compare=False
    )
    sleep: Callable[[float], Awaitable[object]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )
    # State of one call sequence: set by decide(), not by users.
    history: tuple[Attempt, ...] = field(default=(), compare=False)
    started: float | None = field(default=None, repr=False, compare=False)
    previous_delay: float | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError(f"max_attempts must be an int, not {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        _number("backoff_base", self.backoff_base, minimum=0.0)
        _number("backoff_cap", self.backoff_cap, minimum=0.0)
        if self.backoff_base > self.backoff_cap:
            raise ValueError(
                f"backoff_base ({self.backoff_base}) must not exceed "
                f"backoff_cap ({self.backoff_cap})"
            )
        _number("deadline", self.deadline, minimum=0.0, strict=True, allow_none=True)
        _number("max_retry_after", self.max_retry_after, minimum=0.0)
        if self.budget is not None and not isinstance(self.budget, RetryBudget):
            raise TypeError(f"budget must be a RetryBudget or None, not {self.budget!r}")
        for name in ("classify", "status_of", "retry_after_of", "clock", "wall_clock", "uniform"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name} must be callable")
        statuses = _statuses("retry_statuses", self.retry_statuses)
        object.__setattr__(self, "retry_statuses", statuses)
        after = _statuses("retry_after_statuses", self.retry_after_statuses)
        object.__setattr__(self, "retry_after_statuses", after)
        object.__setattr__(self, "retry_methods", _methods(self.retry_methods))

    # ------------------------------------------------------------ deciding

    @property
    def attempts(self) -> int:
        """Attempts made so far in this sequence."""
        return len(self.history)

    def start(self, now: float | None = None) -> RetryPolicy:
        """Return the policy for a new call sequence starting at ``now`` (counted by the budget)."""
        now = self.clock() if now is None else now
        if self.budget is not None:
            self.budget.record_call(now)
        return replace(self, history=(), started=now, previous_delay=None)

    def decide(
        self,
        method: str | None = None,
        *,
        error: BaseException | None = None,
        status: int | None = None,
        retry_after: str | bytes | None = None,
        now: float | None = None,
    ) -> Decision:
        """Decide what follows an attempt that ended with ``error`` or ``status``.

        Args:
            method: the request method; None means the caller vouches the
                operation is safe to repeat.
            error: the exception the attempt raised, if any.
            status: the response status, if there was one.
            retry_after: the response's Retry-After value, if any.
            now: the clock's time (default: ``clock()``).

        """
        now = self.clock() if now is None else now
        started = self.started if self.started is not None else now
        retry, what = self._classify(method, error, status)
        if not retry:
            return self._stop(error, status, started, what)
        return self._plan(what, error, status, retry_after, now, started)

    def _classify(
        self, method: str | None, error: BaseException | None, status: int | None
    ) -> tuple[bool, str]:
        """Return whether this outcome may be retried, and what it is (rules 1-3)."""
        idempotent = method is None or method.upper() in self.retry_methods
        if error is not None:
            kind = self.classify(error)
            name = type(error).__name__
            if kind is ErrorKind.CONNECT:
                return True, f"connect error {name}"
            if kind is ErrorKind.FATAL:
                return False, f"{name} is not retryable"
            if idempotent:
                return True, f"error {name}"
            return False, f"error {name} after {method} may have been sent"
        if status is not None and status in self.retry_statuses:
            if idempotent:
                return True, f"status {status}"
            return False, f"status {status} for {method}, which is not retried"
        return False, "success"

    def _stop(
        self, error: BaseException | None, status: int | None, started: float, reason: str
    ) -> Decision:
        history = (*self.history, Attempt(error, status, None))
        policy = replace(self, history=history, started=started)
        return Decision(False, 0.0, reason, policy)

    def _plan(
        self,
        retried: str,
        error: BaseException | None,
        status: int | None,
        retry_after: str | bytes | None,
        now: float,
        started: float,
    ) -> Decision:
        attempts = len(self.history) + 1
        if attempts >= self.max_attempts:
            return self._stop(
                error, status, started, f"{retried}: max_attempts ({self.max_attempts}) reached"
            )
        delay: float | None = None
        if status is not None and status in self.retry_after_statuses and retry_after is not None:
            delay = parse_retry_after(retry_after, self.wall_clock())
            if delay is not None and delay > self.max_retry_after:
                return self._stop(
                    error,
                    status,
                    started,
                    f"{retried}: Retry-After {delay:g} s exceeds max_retry_after "
                    f"({self.max_retry_after:g} s)",
                )
        jitter = delay is None
        if delay is None:
            previous = self.backoff_base if self.previous_delay is None else self.previous_delay
            delay = decorrelated_jitter(previous, self.backoff_base, self.backoff_cap, self.uniform)
        if self.deadline is not None and now + delay - started >= self.deadline:
            return self._stop(
                error, status, started, f"{retried}: deadline ({self.deadline:g} s) would pass"
            )
        if self.budget is not None and not self.budget.try_spend(now):
            return self._stop(error, status, started, f"{retried}: retry budget exhausted")
        history = (*self.history, Attempt(error, status, delay))
        policy = replace(
            self,
            history=history,
            started=started,
            previous_delay=delay if jitter else self.previous_delay,
        )
        return Decision(True, delay, retried, policy)

    # ------------------------------------------------------------ calling

    async def call(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Call ``await fn(*args, **kwargs)`` and retry it as the policy says.

        The operation is taken to be safe to repeat (see :meth:`call_method`).
        Returns the last result (a response with a retryable status is
        returned once retries end); raises the last error once retries end,
        with a note saying why they ended.
        """
        return await self.call_method(None, fn, *args, **kwargs)

    async def call_method(
        self, method: str | None, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any
    ) -> T:
        """Like :meth:`call`, for a request of ``method`` (non-idempotent ones retry less)."""
        return await call_with_retries(self, method, fn, args, kwargs)

    async def run(
        self,
        fn: Callable[[], Awaitable[T]],
        /,
        *,
        method: str | None = None,
        replayable: Callable[[], bool] | None = None,
        on_retry: Callable[[RetryEvent], object] | None = None,
    ) -> T:
        """Like :meth:`call_method`, with the hooks a caller such as an HTTP client needs.

        ``fn`` takes no arguments (close over them). ``replayable`` is asked
        before each retry is decided: False ends the loop as it is (the error
        raised, the result returned) without consulting the policy or its
        budget, e.g. for a request whose streamed body cannot be sent again.
        ``on_retry`` is told of each retry (:class:`RetryEvent`) before its
        wait, which is ``sleep``'s.
        """
        return await call_with_retries(
            self, method, fn, (), {}, replayable=replayable, on_retry=on_retry
        )
