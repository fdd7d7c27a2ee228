"""Circuit breaker: per-key closed / open / half-open, sans-IO.

Theory of operation
-------------------
Each key (the umbrella uses the origin) has a circuit. A call asks
:meth:`CircuitBreaker.acquire` for a :class:`Permit` (or gets
:class:`CircuitOpenError` without anything being called), then reports
back with :meth:`CircuitBreaker.record` (success or failure) or
:meth:`CircuitBreaker.release` (no outcome: it was cancelled).

Rules
-----
1. CLOSED -> OPEN when ``failure_threshold`` consecutive failures are seen,
   or when over the last ``window`` seconds at least ``min_calls`` calls
   were made and the failed fraction reached ``failure_rate``.
2. OPEN refuses every call until ``cooldown`` has passed; then the next
   acquire moves it to HALF_OPEN.
3. HALF_OPEN admits at most ``half_open_calls`` trial calls, whatever the
   concurrency. Each trial that succeeds counts; when all have, CLOSED. A
   trial that fails re-opens with the cooldown multiplied by
   ``cooldown_multiplier``, up to ``max_cooldown``. A trial released
   without an outcome frees its slot for another.
4. Every state change bumps the circuit's generation; an outcome reported on
   a permit of an older generation is ignored (a slow call from before the
   circuit opened cannot close or re-open it).
5. Listeners are called on every state change with (key, old, new); an
   exception in one is logged, never propagated.

The breaker is meant for one event loop (no locks): all its methods are
synchronous, so no task can interleave inside one.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import CircuitOpenError
from ._retry import _number, _statuses, default_status_of
from ._window import RollingCounter
from ._wrap import breaker_call, breaker_guard

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

T = TypeVar("T")

__all__ = ["CircuitBreaker", "CircuitState", "Permit"]

logger = logging.getLogger("hyperhttp_resilience")

#: Server errors that say the origin is unwell (429 is throttling, not ill health).
DEFAULT_FAILURE_STATUSES = frozenset({500, 502, 503, 504})
_DEFAULT_EXCEPTIONS: tuple[type[BaseException], ...] = (OSError, TimeoutError)


class CircuitState(enum.Enum):
    """The state of one key's circuit."""

    CLOSED = "CLOSED"  #: calls flow
    OPEN = "OPEN"  #: calls refused until the cooldown ends
    HALF_OPEN = "HALF_OPEN"  #: a few trial calls decide


_CLOSED = CircuitState.CLOSED
_OPEN = CircuitState.OPEN
_HALF_OPEN = CircuitState.HALF_OPEN

_CALLS = 0
_FAILURES = 1


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to make one call; report its outcome with record() or release()."""

    key: Hashable
    generation: int
    trial: bool  #: a half-open trial call


class _Circuit:
    __slots__ = (
        "consecutive",
        "cooldown",
        "generation",
        "retry_at",
        "rolling",
        "state",
        "successes",
        "trials",
    )

    def __init__(self, cooldown: float, rolling: RollingCounter | None) -> None:
        self.state = _CLOSED
        self.generation = 0
        self.consecutive = 0
        self.rolling = rolling
        self.cooldown = cooldown
        self.retry_at = 0.0
        self.trials = 0  # trial permits out (half-open)
        self.successes = 0  # trial successes (half-open)


Listener = Callable[[Hashable, CircuitState, CircuitState], object]


class CircuitBreaker:
    """Per-key circuit breaker; see the module docstring for the rules.

    Args:
        failure_threshold: consecutive failures that open the circuit (None: off).
        failure_rate: failed fraction over ``window`` that opens it (None: off).
        window: seconds of history for ``failure_rate``.
        min_calls: calls within ``window`` before ``failure_rate`` applies.
        cooldown: seconds open before the first trial.
        max_cooldown: the cooldown's bound as it grows.
        cooldown_multiplier: growth of the cooldown after a failed trial.
        half_open_calls: trial calls admitted at once; all must succeed to close.
        failure_exceptions: exceptions that count as failures (others: success).
        failure_statuses: statuses that count as failures.
        is_failure: ``(error, status) -> bool`` replacing the two above.
        status_of: result -> status code or None (for :meth:`call`).
        listeners: called as ``listener(key, old_state, new_state)``.
        max_keys: circuits kept (least recently used forgotten first).
        clock: monotonic seconds.

    """

    def __init__(
        self,
        *,
        failure_threshold: int | None = 5,
        failure_rate: float | None = None,
        window: float = 30.0,
        min_calls: int = 20,
        cooldown: float = 5.0,
        max_cooldown: float = 60.0,
        cooldown_multiplier: float = 2.0,
        half_open_calls: int = 1,
        failure_exceptions: tuple[type[BaseException], ...] = (OSError, TimeoutError),
        failure_statuses: Iterable[int] = DEFAULT_FAILURE_STATUSES,
        is_failure: Callable[[BaseException | None, int | None], bool] | None = None,
        status_of: Callable[[Any], int | None] = default_status_of,
        listeners: Iterable[Listener] = (),
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold is not None:
            _integer("failure_threshold", failure_threshold)
        if failure_rate is not None:
            _number("failure_rate", failure_rate, minimum=0.0, strict=True)
            if failure_rate > 1:
                raise ValueError(f"failure_rate must be <= 1, got {failure_rate}")
        if failure_threshold is None and failure_rate is None:
            raise ValueError("set failure_threshold, failure_rate or both")
        _number("window", window, minimum=0.0, strict=True)
        _integer("min_calls", min_calls)
        _number("cooldown", cooldown, minimum=0.0)
        _number("max_cooldown", max_cooldown, minimum=0.0)
        if cooldown > max_cooldown:
            raise ValueError(f"cooldown ({cooldown}) must not exceed max_cooldown ({max_cooldown})")
        _number("cooldown_multiplier", cooldown_multiplier, minimum=1.0)
        _integer("half_open_calls", half_open_calls)
        _integer("max_keys", max_keys)
        if not isinstance(failure_exceptions, tuple) or not all(
            isinstance(e, type) and issubclass(e, BaseException) for e in failure_exceptions
        ):
            raise TypeError("failure_exceptions must be a tuple of exception classes")
        self.failure_threshold = failure_threshold
        self.failure_rate = failure_rate
        self.window = float(window)
        self.min_calls = min_calls
        self.cooldown = float(cooldown)
        self.max_cooldown = float(max_cooldown)
        self.cooldown_multiplier = float(cooldown_multiplier)
        self.half_open_calls = half_open_calls
        self.failure_exceptions = failure_exceptions
        self.failure_statuses = _statuses("failure_statuses", failure_statuses)
        self._is_failure = is_failure
        self.status_of = status_of
        self.max_keys = max_keys
        self.clock = clock
        self._listeners: list[Listener] = list(listeners)
        self._circuits: OrderedDict[Hashable, _Circuit] = OrderedDict()

    def __repr__(self) -> str:
        open_ = sum(1 for c in self._circuits.values() if c.state is not _CLOSED)
        return f"<CircuitBreaker {len(self._circuits)} circuits, {open_} not closed>"

    # ------------------------------------------------------------ queries

    def state(self, key: Hashable, now: float | None = None) -> CircuitState:
        """Return the state of ``key``'s circuit (OPEN past its cooldown reads HALF_OPEN)."""
        circuit = self._circuits.get(key)
        if circuit is None:
            return _CLOSED
        if circuit.state is _OPEN and (self.clock() if now is None else now) >= circuit.retry_at:
            return _HALF_OPEN
        return circuit.state

    @property
    def default_failures(self) -> bool:
        """True when neither ``is_failure`` nor ``failure_exceptions`` was chosen.

        A caller that knows its own errors (an HTTP client's connect errors,
        say) may then count those too; with either set, :meth:`is_failure`
        is the whole rule.
        """
        return self._is_failure is None and self.failure_exceptions == _DEFAULT_EXCEPTIONS

    def is_failure(self, error: BaseException | None, status: int | None) -> bool:
        """Tell whether an outcome counts against the circuit."""
        if self._is_failure is not None:
            return self._is_failure(error, status)
        if error is not None:
            return isinstance(error, self.failure_exceptions)
        return status is not None and status in self.failure_statuses

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(key, old_state, new_state)`` on every state change."""
        self._listeners.append(listener)

    # ------------------------------------------------------------ the protocol

    def acquire(self, key: Hashable, now: float | None = None) -> Permit:
        """Return leave to call ``key``.

        Raises:
            CircuitOpenError: the circuit is open, or half-open with every
                trial slot taken; nothing may be called.

        """
        circuits = self._circuits
        circuit = circuits.get(key)
        if circuit is None:
            rolling = None
            if self.failure_rate is not None:
                rolling = RollingCounter(self.window, kinds=2)
            circuit = circuits[key] = _Circuit(self.cooldown, rolling)
            if len(circuits) > self.max_keys:
                circuits.popitem(last=False)
            return Permit(key, 0, False)
        circuits.move_to_end(key)
        state = circuit.state
        if state is _CLOSED:
            return Permit(key, circuit.generation, False)
        now = self.clock() if now is None else now
        if state is _OPEN:
            if now < circuit.retry_at:
                raise CircuitOpenError(key, circuit.retry_at, circuit.retry_at - now)
            self._move(key, circuit, _HALF_OPEN)
        if circuit.trials >= self.half_open_calls:
            # Trials are out: the next one may start when one of them ends.
            raise CircuitOpenError(key, now, 0.0)
        circuit.trials += 1
        return Permit(key, circuit.generation, True)

    def record(self, permit: Permit, *, failed: bool, now: float | None = None) -> None:
        """Report the outcome of the call ``permit`` allowed."""
        circuit = self._circuits.get(permit.key)
        if circuit is None or circuit.generation != permit.generation:
            return  # rule 4
        if circuit.state is _CLOSED:
            if failed:
                circuit.consecutive += 1
            else:
                circuit.consecutive = 0
            rolling = circuit.rolling
            tripped = self.failure_threshold is not None and (
                circuit.consecutive >= self.failure_threshold
            )
            if rolling is not None and self.failure_rate is not None:
                now = self.clock() if now is None else now
                rolling.add(_CALLS, now)
                if failed:
                    rolling.add(_FAILURES, now)
                calls = rolling.total(_CALLS, now)
                failures = rolling.total(_FAILURES, now)
                if calls >= self.min_calls and failures >= self.failure_rate * calls:
                    tripped = True
            if tripped:
                circuit.cooldown = self.cooldown
                self._open(permit.key, circuit, now)
        elif circuit.state is _HALF_OPEN and permit.trial:
            circuit.trials -= 1
            if failed:
                grown = circuit.cooldown * self.cooldown_multiplier
                circuit.cooldown = min(self.max_cooldown, grown)
                self._open(permit.key, circuit, now)
            else:
                circuit.successes += 1
                if circuit.successes >= self.half_open_calls:
                    circuit.consecutive = 0
                    circuit.cooldown = self.cooldown
                    if circuit.rolling is not None:
                        circuit.rolling.clear()
                    self._move(permit.key, circuit, _CLOSED)

    def release(self, permit: Permit) -> None:
        """Give back a permit whose call ended without an outcome (e.g. cancelled)."""
        circuit = self._circuits.get(permit.key)
        if (
            permit.trial
            and circuit is not None
            and circuit.generation == permit.generation
            and circuit.state is _HALF_OPEN
        ):
            circuit.trials -= 1

    async def call(
        self, key: Hashable, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any
    ) -> T:
        """Call ``await fn(*args, **kwargs)`` through ``key``'s circuit.

        Raises:
            CircuitOpenError: refused without calling ``fn``.

        """
        return await breaker_call(self, key, fn, args, kwargs)

    async def run(
        self,
        key: Hashable,
        fn: Callable[[], Awaitable[T]],
        /,
        *,
        also_failures: tuple[type[BaseException], ...] = (),
    ) -> T:
        """Like :meth:`call`, with ``fn`` taking no arguments and a caller's own failures.

        ``also_failures``: exception types that count as failures too while
        this breaker keeps its default rule (neither ``is_failure`` nor
        ``failure_exceptions`` chosen), e.g. an HTTP client's connect errors
        and timeouts, which are not ``OSError`` or ``TimeoutError``.

        Raises:
            CircuitOpenError: refused without calling ``fn``.

        """
        return await breaker_call(self, key, fn, (), {}, also_failures=also_failures)

    def guard(self, key: Hashable) -> AbstractAsyncContextManager[None]:
        """``async with breaker.guard(key):`` guard a block; exceptions are judged as failures."""
        return breaker_guard(self, key)

    def reset(self, key: Hashable | None = None) -> None:
        """Forget ``key``'s circuit (or every circuit): it starts CLOSED again."""
        if key is None:
            self._circuits.clear()
        else:
            self._circuits.pop(key, None)

    # ------------------------------------------------------------ internals

    def _open(self, key: Hashable, circuit: _Circuit, now: float | None) -> None:
        now = self.clock() if now is None else now
        circuit.retry_at = now + circuit.cooldown
        self._move(key, circuit, _OPEN)

    def _move(self, key: Hashable, circuit: _Circuit, new: CircuitState) -> None:
        old = circuit.state
        circuit.state = new
        circuit.generation += 1
        circuit.trials = 0
        circuit.successes = 0
        for listener in self._listeners:
            try:
                listener(key, old, new)
            except Exception:
                logger.exception("circuit breaker listener %r failed", listener)


def _integer(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
