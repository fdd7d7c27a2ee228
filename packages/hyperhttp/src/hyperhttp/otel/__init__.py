"""OpenTelemetry for hyperhttp: a client span per request sent, its context along, HTTP metrics.

``instrument(client)`` instruments one client; ``HyperhttpInstrumentor().instrument()``
every client created afterwards. Only ``opentelemetry-api`` is needed
(``pip install "hyperhttp[otel]"``); with no SDK installed, nothing is
recorded and the trace context the caller is in still goes out with each
request. docs/tracing.md lists the spans, span events and metrics.

The modules: ``_instrument`` puts the instrumentation on a client and takes it
off; ``_attempt`` reports each request sent (its span, its context, its
metrics); ``_telemetry`` holds the instruments and what the semantic
conventions ask; ``_compat`` every use of OpenTelemetry's private names.
"""

from __future__ import annotations

from ._instrument import HyperhttpInstrumentor, instrument, uninstrument

__all__ = ["HyperhttpInstrumentor", "instrument", "uninstrument"]

HyperhttpInstrumentor.__module__ = __name__
