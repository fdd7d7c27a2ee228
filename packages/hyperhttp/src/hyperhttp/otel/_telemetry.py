"""What is reported, and how the semantic conventions say to write it.

OpenTelemetry semantic conventions v1.44.0 (``SEMCONV``): HTTP client spans
and ``http.client.request.duration`` are stable (docs/http/http-spans.md,
http-metrics.md); ``http.client.open_connections``,
``http.client.connection.duration`` and ``dns.lookup.duration``
(docs/dns/dns-metrics.md) are development; ``http.client.request.time_in_queue``
is the one .NET's HttpClient reports (docs/dotnet/dotnet-http-metrics.md): the
general conventions have no pool-wait metric.

A :class:`Telemetry` is the tracer and the instruments of one pair of
providers, made once per pair for the process (:func:`telemetry_for`): the SDK
keeps the first callback of an observable instrument registered twice under
one name, so every client sharing the providers must be counted by the same
callback.
"""

from __future__ import annotations

import ipaddress
import os
import re
import weakref
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation

from hyperhttp.__about__ import __version__

from . import _compat

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hyperhttp._urls import URL

    from ._attempt import Pool

__all__ = [
    "SCHEMA_URL",
    "SEMCONV",
    "Telemetry",
    "error_type",
    "full_url",
    "is_ip",
    "protocol_version",
    "telemetry_for",
]

SEMCONV = "1.44.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV}"

# http-metrics.md: the ExplicitBucketBoundaries advice of http.client.request.duration
# (dns.lookup.duration's too, and .NET's for time_in_queue), and of
# http.client.connection.duration. Giving advice needs opentelemetry-api 1.30.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
CONNECTION_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)

# http-spans.md note 1: the methods of RFC 9110 §9, PATCH (RFC 5789) and QUERY are
# known, case-sensitively; any other is "_OTHER" (its span named "HTTP"). The
# variable, a comma-separated list, replaces the list.
KNOWN_METHODS_VARIABLE = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"
DEFAULT_KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)

# http-spans.md note 4: url.full never holds credentials (REDACTED:REDACTED@), and
# the values of these query keys (case-sensitive) are REDACTED, keys kept.
# v1.44.0 lists X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, sig and
# X-Goog-Signature (development); its next release adds AWSAccessKeyId and
# Signature, which opentelemetry-util-http redacts already.
_SENSITIVE_QUERY = re.compile(
    r"(^|&)(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|AWSAccessKeyId|Signature"
    r"|sig|X-Goog-Signature)=[^&]*"
)
_REDACTED_VALUE = r"\1\2=REDACTED"

_PROTOCOL_VERSIONS = {"HTTP/1.1": "1.1", "HTTP/2": "2", "HTTP/1.0": "1.0"}


class Telemetry:
    """The tracer, the instruments and the known methods of one pair of providers."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: metrics.MeterProvider | None,
    ) -> None:
        self.tracer = trace.get_tracer(
            "hyperhttp", __version__, tracer_provider, schema_url=SCHEMA_URL
        )
        meter = metrics.get_meter("hyperhttp", __version__, meter_provider, SCHEMA_URL)
        self.duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.time_in_queue = meter.create_histogram(
            "http.client.request.time_in_queue",
            unit="s",
            description="The amount of time requests spent on a queue waiting for an "
            "available connection.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.connection_duration = meter.create_histogram(
            "http.client.connection.duration",
            unit="s",
            description="The duration of the successfully established outbound HTTP connections.",
            explicit_bucket_boundaries_advisory=CONNECTION_BUCKETS,
        )
        self.dns_duration = meter.create_histogram(
            "dns.lookup.duration",
            unit="s",
            description="Measures the time taken to perform a DNS lookup.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        meter.create_observable_up_down_counter(
            "http.client.open_connections",
            callbacks=[self._observe_connections],
            unit="{connection}",
            description="Number of outbound HTTP connections that are currently active or idle "
            "on the client.",
        )
        methods = os.environ.get(KNOWN_METHODS_VARIABLE)
        self.known_methods = (
            DEFAULT_KNOWN_METHODS
            if methods is None
            else frozenset(m.strip() for m in methods.split(",") if m.strip())
        )
        # The global providers, while no SDK is set, record nothing (_compat):
        # then a send only passes the caller's context on.
        self.follows_globals = tracer_provider is None and meter_provider is None
        # The pools of the instrumented clients. The metric reader may call from
        # its own thread: it copies the values in one step, never iterating live.
        self.pools: dict[int, weakref.ref[Pool]] = {}
        self._reported: set[tuple[str, str, int, str]] = set()

    def silent(self) -> bool:
        """Tell whether nothing would be recorded now (global providers, no SDK set)."""
        return self.follows_globals and _compat.no_global_sdk()

    def add_pool(self, pool: Pool) -> None:
        """Count ``pool``'s connections in ``http.client.open_connections`` while it lives."""
        key = id(pool)
        pools = self.pools
        pools[key] = weakref.ref(pool, lambda _: pools.pop(key, None))

    def remove_pool(self, pool: Pool) -> None:
        """Stop counting ``pool``'s connections."""
        self.pools.pop(id(pool), None)

    def _observe_connections(self, options: CallbackOptions) -> Iterable[Observation]:
        """Count open connections by state, origin and protocol; a state gone, once as 0."""
        counts = dict.fromkeys(self._reported, 0)
        for ref in tuple(self.pools.values()):
            pool = ref()
            if pool is None:
                continue
            for record in tuple(pool.connections.values()):
                state = "active" if record.leases > 0 else "idle"
                key = (state, record.address, record.port, record.version)
                counts[key] = counts.get(key, 0) + 1
        self._reported = {key for key, count in counts.items() if count}
        return [
            Observation(
                count,
                {
                    "http.connection.state": state,
                    "server.address": address,
                    "server.port": port,
                    "network.protocol.version": version,
                },
            )
            for (state, address, port, version), count in counts.items()
        ]


_MADE: dict[tuple[object, object], Telemetry] = {}


def telemetry_for(
    tracer_provider: trace.TracerProvider | None, meter_provider: metrics.MeterProvider | None
) -> Telemetry:
    """Return the telemetry of a pair of providers (None: the global one), made once."""
    key = (tracer_provider, meter_provider)
    found = _MADE.get(key)
    if found is None:
        found = _MADE[key] = Telemetry(tracer_provider, meter_provider)
    return found


def full_url(url: URL) -> str:
    """Return ``url.full``: credentials and sensitive query values REDACTED, the fragment kept."""
    host = f"[{url.host}]" if ":" in url.host else url.host
    userinfo = "REDACTED:REDACTED@" if url.username or url.password else ""
    port = "" if url.port is None else f":{url.port}"
    query = f"?{_SENSITIVE_QUERY.sub(_REDACTED_VALUE, url.query)}" if url.query else ""
    fragment = f"#{url.fragment}" if url.fragment else ""
    return f"{url.scheme}://{userinfo}{host}{port}{url.path}{query}{fragment}"


def error_type(exc: BaseException) -> str:
    """Return ``error.type`` for an exception: its class's fully qualified name."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def protocol_version(http_version: str) -> str:
    """Return ``network.protocol.version`` ("1.1", "2") for ``Response.http_version``."""
    return _PROTOCOL_VERSIONS.get(http_version) or http_version.removeprefix("HTTP/")


def is_ip(host: str) -> bool:
    """Tell whether ``host`` is an address literal (resolving it is no DNS lookup)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
