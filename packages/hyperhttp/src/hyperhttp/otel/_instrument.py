"""Putting the instrumentation on a client, and taking it off: ``instrument``, the instrumentor.

What ``instrument(client)`` changes, all on that client (tests/test_otel.py
checks the shapes it relies on):

- ``client._pipeline.network``, the transport the client's layers send
  through, gets ``_attempt.TracedTransport`` over it;
- on a ``PoolTransport`` under it: ``_spans``, where each exchange's
  ``ExchangeSpan`` comes from, becomes ``_attempt.TracedSpans`` over the one
  it had, and ``trace``, the connection phases' callback, becomes
  ``_attempt.connection_event`` followed by the client's own (if any);
- ``client.send``: an attribute of the instance over ``Client.send``, giving
  each call its ``_attempt.Call``.

``uninstrument`` puts each back. :class:`HyperhttpInstrumentor` wraps
``Client.__init__`` (the one process-wide change, as every instrumentor makes
in the library it instruments) so that each client built after
``instrument()`` is instrumented as it is built.
"""

from __future__ import annotations

import functools
import logging
import weakref
from typing import TYPE_CHECKING, Any, ClassVar

from hyperhttp._client import Client
from hyperhttp._pool_transport import PoolTransport

from ._attempt import CALL, Call, Pool, TracedSpans, TracedTransport, connection_event
from ._telemetry import telemetry_for

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection

    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from hyperhttp._models import Request, Response
    from hyperhttp._tracing import NoSpan, Spans, Tracer

    from ._telemetry import Telemetry

__all__ = ["HyperhttpInstrumentor", "instrument", "uninstrument"]

_LOG = logging.getLogger("hyperhttp.otel")


def instrument(
    client: Client,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> Client:
    """Report ``client``'s requests to OpenTelemetry: spans, trace context, metrics.

    A client instrumented already is left as it is (``uninstrument`` it first
    to change its providers). A ``trace=`` callback the client has keeps
    receiving every event, in the same order.

    Args:
        client: the client.
        tracer_provider: where the spans go (default: the global provider).
        meter_provider: where the metrics go (default: the global provider).

    Returns:
        ``client``.

    Raises:
        TypeError: ``client`` is not a ``hyperhttp.Client``.

    """
    if not isinstance(client, Client):
        raise TypeError(f"instrument() takes a hyperhttp.Client, not {type(client).__name__}")
    if client not in _INSTALLED:
        _INSTALLED[client] = _Installation(client, telemetry_for(tracer_provider, meter_provider))
    return client


def uninstrument(client: Client) -> None:
    """Stop reporting ``client``'s requests (the sends under way still end their spans)."""
    installation = _INSTALLED.pop(client, None)
    if installation is not None:
        installation.remove(client)


class HyperhttpInstrumentor:
    """Instrument every ``hyperhttp.Client`` built after :meth:`instrument`.

    The shape of ``BaseInstrumentor`` (opentelemetry-instrumentation): one
    instance, ``instrument(**kwargs)`` and ``uninstrument()``,
    ``is_instrumented_by_opentelemetry``, ``instrumentation_dependencies()``,
    and ``instrument_client`` / ``uninstrument_client`` as the httpx
    instrumentor has; not a subclass, so that hyperhttp[otel] needs
    ``opentelemetry-api`` alone. ``opentelemetry-instrument`` loads it as any
    instrumentor (the ``opentelemetry_instrumentor`` entry point).
    """

    _instance: ClassVar[HyperhttpInstrumentor | None] = None
    _is_instrumented_by_opentelemetry = False
    _telemetry: Telemetry | None = None
    _original_init: Callable[..., None] | None = None
    _clients: weakref.WeakSet[Client]

    def __new__(cls, *args: Any, **kwargs: Any) -> HyperhttpInstrumentor:
        """Return the one instance."""
        if cls._instance is None:
            instance = object.__new__(cls)
            instance._clients = weakref.WeakSet()
            cls._instance = instance
        return cls._instance

    @property
    def is_instrumented_by_opentelemetry(self) -> bool:
        """Whether ``instrument()`` is in effect."""
        return self._is_instrumented_by_opentelemetry

    def instrumentation_dependencies(self) -> Collection[str]:
        """Return the requirements to check: none, hyperhttp is the library instrumented."""
        return ()

    def instrument(self, **kwargs: Any) -> None:
        """Instrument every client built from now on.

        Args:
            **kwargs: ``tracer_provider`` and ``meter_provider`` (default: the
                global ones); ``skip_dep_check`` and ``raise_exception_on_conflict``,
                which ``opentelemetry-instrument`` passes, have nothing to check.

        Raises:
            TypeError: another keyword.

        """
        if self._is_instrumented_by_opentelemetry:
            _LOG.warning("Attempting to instrument while already instrumented")
            return
        kwargs.pop("skip_dep_check", None)
        kwargs.pop("raise_exception_on_conflict", None)
        tracer_provider = kwargs.pop("tracer_provider", None)
        meter_provider = kwargs.pop("meter_provider", None)
        if kwargs:
            raise TypeError(f"unknown keywords {sorted(kwargs)}")
        self._telemetry = telemetry_for(tracer_provider, meter_provider)
        original = Client.__init__
        instrumentor = self

        @functools.wraps(original)
        def __init__(client: Client, *args: Any, **kwargs: Any) -> None:
            original(client, *args, **kwargs)
            telemetry = instrumentor._telemetry  # None once uninstrumented
            if telemetry is not None and client not in _INSTALLED:
                _INSTALLED[client] = _Installation(client, telemetry)
                instrumentor._clients.add(client)

        self._original_init = original
        type.__setattr__(Client, "__init__", __init__)
        self._is_instrumented_by_opentelemetry = True

    def uninstrument(self, **kwargs: Any) -> None:
        """Stop instrumenting new clients; uninstrument those it instrumented."""
        if not self._is_instrumented_by_opentelemetry:
            _LOG.warning("Attempting to uninstrument while already uninstrumented")
            return
        self._telemetry = None  # a wrap made over ours since passes through ours
        original = self._original_init
        if original is not None and getattr(Client.__init__, "__wrapped__", None) is original:
            type.__setattr__(Client, "__init__", original)
        for client in list(self._clients):
            uninstrument(client)
        self._clients.clear()
        self._is_instrumented_by_opentelemetry = False

    @staticmethod
    def instrument_client(
        client: Client,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        """Instrument one client (:func:`instrument`)."""
        instrument(client, tracer_provider=tracer_provider, meter_provider=meter_provider)

    @staticmethod
    def uninstrument_client(client: Client) -> None:
        """Uninstrument one client (:func:`uninstrument`)."""
        uninstrument(client)


class _Installation:
    """What ``instrument`` put on one client (module docstring), to take it off again."""

    __slots__ = ("layer", "network", "pool", "spans", "telemetry", "trace")

    def __init__(self, client: Client, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        pipeline = client._pipeline
        network = pipeline.network
        self.network: PoolTransport | None = None
        self.pool: Pool | None = None
        self.spans: Spans | NoSpan | None = None
        self.trace: Tracer | None = None
        if isinstance(network, PoolTransport):  # (a mock has no pool, no phases)
            self.network = network
            self.pool = Pool(telemetry)
            telemetry.add_pool(self.pool)
            self.spans, self.trace = network._spans, network.trace
            network.trace = _chain(connection_event, network.trace)
            network._spans = TracedSpans(network._spans, self.pool, network.trace)
        self.layer = TracedTransport(network, telemetry)
        pipeline.network = self.layer
        client.__dict__["send"] = _counting_send(client, telemetry)

    def remove(self, client: Client) -> None:
        pipeline = client._pipeline
        if pipeline.network is self.layer:
            pipeline.network = self.layer.inner
        network = self.network
        if network is not None and self.spans is not None:
            network._spans = self.spans
            network.trace = self.trace
        if self.pool is not None:
            self.pool.active = False
            self.telemetry.remove_pool(self.pool)
        client.__dict__.pop("send", None)


_INSTALLED: weakref.WeakKeyDictionary[Client, _Installation] = weakref.WeakKeyDictionary()


def _chain(ours: Tracer, theirs: Tracer | None) -> Tracer:
    """Return a ``trace=`` callback calling ours, then the client's own (if any)."""
    if theirs is None:
        return ours

    def both(name: str, info: dict[str, Any]) -> object:
        ours(name, info)
        return theirs(name, info)

    return both


def _counting_send(client: Client, telemetry: Telemetry) -> Callable[..., Awaitable[Response]]:
    """Return the client's ``send``, giving each call its ``Call`` (the sends it counts)."""
    send = type(client).send
    owner = weakref.ref(client)  # (the client holds this function: no cycle back)

    async def counting_send(request: Request, **kwargs: Any) -> Response:
        client = owner()
        if client is None:  # pragma: no cover - whoever calls client.send holds the client
            raise RuntimeError("the client is gone")
        if telemetry.silent():  # no SDK: no resend to count
            return await send(client, request, **kwargs)
        call = Call()
        token = CALL.set(call)
        try:
            return await send(client, request, **kwargs)
        except TimeoutError as exc:  # the total deadline may have cancelled sends
            call.failure = exc
            raise
        finally:
            CALL.reset(token)
            if call.cancelled:
                call.settle()

    counting_send.__doc__ = send.__doc__
    return counting_send
