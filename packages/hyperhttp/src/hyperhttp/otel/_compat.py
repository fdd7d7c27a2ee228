"""Every use of opentelemetry-api's private names, in one place (tests/test_otel.py checks them).

- ``opentelemetry.context._SUPPRESS_INSTRUMENTATION_KEY``: the context key
  OpenTelemetry's exporters set around their own requests so that no
  instrumentation reports them (opentelemetry-instrumentation reads it too).
  Missing: nothing is ever suppressed.
- ``opentelemetry.trace._TRACER_PROVIDER`` and
  ``opentelemetry.metrics._internal._METER_PROVIDER``: the global providers,
  None until an SDK (or anything) is set. While both are None, the global
  tracer and meter are the API's proxies, which hand their calls to the no-op
  implementation: :func:`no_global_sdk` lets a client instrumented with the
  global providers skip the work whose result would be dropped (it is the test
  the proxies make themselves, without the environment lookup
  ``get_tracer_provider()`` adds). Missing: always False, the full path.
"""

from __future__ import annotations

from opentelemetry import context, trace
from opentelemetry.metrics import _internal as metrics_internal

__all__ = ["SUPPRESS_KEY", "no_global_sdk"]

SUPPRESS_KEY: str | None = getattr(context, "_SUPPRESS_INSTRUMENTATION_KEY", None)

_SHAPES_HOLD = hasattr(trace, "_TRACER_PROVIDER") and hasattr(metrics_internal, "_METER_PROVIDER")


def no_global_sdk() -> bool:
    """Tell whether neither a global tracer provider nor a global meter provider is set."""
    return (
        _SHAPES_HOLD and trace._TRACER_PROVIDER is None and metrics_internal._METER_PROVIDER is None
    )
