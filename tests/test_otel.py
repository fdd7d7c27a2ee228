"""hyperhttp.otel (issue 19): spans per send, trace context, HTTP client metrics, instrumentors.

Each test gives the instrumentation its own SDK providers (in-memory span
exporter, in-memory metric reader); OpenTelemetry's globals stay as they are
(no SDK: the API's no-op), so the propagator is the API's default
(W3C trace context and baggage).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import hyperhttp
import hyperhttp_dns
import pytest
import pytest_asyncio
from aiohttp import web
from hyperhttp import otel
from opentelemetry import baggage, context, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.servers.routes import TraceRecorder, serve_routes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from tests.servers.fixtures import H2Server, TLSSetup, WebServer

pytestmark = pytest.mark.asyncio


@dataclass
class Telemetry:
    """Providers with in-memory exporters, and what they hold."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def client(self, **options: Any) -> hyperhttp.Client:
        """Return a client instrumented with these providers."""
        return otel.instrument(
            hyperhttp.Client(**options),
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
        )

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        (span,) = self.spans()
        return span

    def points(self, name: str) -> list[Any]:
        """Return the data points of metric ``name`` (none if it was never recorded)."""
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def histogram(self, name: str, **attributes: Any) -> HistogramDataPoint:
        """Return the one histogram point of ``name`` with these attributes (dots as __)."""
        wanted = {key.replace("__", "."): value for key, value in attributes.items()}
        found = [p for p in self.points(name) if dict(p.attributes) == wanted]
        assert len(found) == 1, (wanted, [dict(p.attributes) for p in self.points(name)])
        point: HistogramDataPoint = found[0]
        return point

    def connections(self) -> dict[str, int]:
        """Return http.client.open_connections by state (the other attributes checked)."""
        counts: dict[str, int] = {}
        for point in self.points("http.client.open_connections"):
            attributes = dict(point.attributes)
            counts[attributes["http.connection.state"]] = (
                counts.get(attributes["http.connection.state"], 0) + point.value
            )
        return counts


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(tracer_provider, meter_provider, exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest_asyncio.fixture
async def routes() -> AsyncIterator[tuple[str, list[web.Request]]]:
    """Serve /redirect/N (N redirects to /echo), /echo, and /flaky (503 twice, then 200)."""
    flaky: list[int] = []

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({k.lower(): v for k, v in request.headers.items()})

    async def redirect(request: web.Request) -> web.Response:
        left = int(request.match_info["n"]) - 1
        raise web.HTTPFound("/echo" if left == 0 else f"/redirect/{left}")

    async def flaky_route(request: web.Request) -> web.Response:
        flaky.append(1)
        return web.Response(status=503 if len(flaky) <= 2 else 200)

    app_routes = [
        web.get("/echo", echo),
        web.get("/redirect/{n}", redirect),
        web.get("/flaky", flaky_route),
    ]
    async with serve_routes(app_routes) as (url, seen):
        yield url, seen.requests


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    assert span.attributes is not None
    return dict(span.attributes)


def _traceparent(span: ReadableSpan) -> str:
    context_ = span.get_span_context()
    assert context_ is not None
    return f"00-{context_.trace_id:032x}-{context_.span_id:016x}-{context_.trace_flags:02x}"


# ---------------------------------------------------------------- spans


async def test_a_request_is_one_client_span_with_the_stable_attributes(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """Name, kind, the required and recommended attributes; no status, no error."""
    async with telemetry.client() as client:
        response = await client.get(f"{web_server.url}/size/10?a=1#top")
    span = telemetry.span()
    assert span.name == "GET"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attributes = _attributes(span)
    peer = attributes.pop("network.peer.port")
    assert isinstance(peer, int)
    assert attributes == {
        "http.request.method": "GET",
        "url.full": f"{web_server.url}/size/10?a=1#top",
        "server.address": "127.0.0.1",
        "server.port": web_server.port,
        "network.peer.address": "127.0.0.1",
        "network.protocol.version": "1.1",
        "http.response.status_code": 200,
    }
    assert response.content == b"x" * 10
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "hyperhttp"
    assert span.instrumentation_scope.schema_url == "https://opentelemetry.io/schemas/1.44.0"


async def test_url_full_redacts_credentials_and_signature_query_values(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """user:password@ -> REDACTED:REDACTED@; sig= and X-Amz-Signature= values; keys kept."""
    url = web_server.url.replace("http://", "http://user:s3cret@")
    query = "color=blue&sig=abc&X-Amz-Signature=def&Signature=x&signature=kept"
    async with telemetry.client() as client:
        await client.get(f"{url}/echo?{query}")
    attributes = _attributes(telemetry.span())
    assert attributes["url.full"] == (
        f"http://REDACTED:REDACTED@127.0.0.1:{web_server.port}/echo?color=blue&sig=REDACTED"
        "&X-Amz-Signature=REDACTED&Signature=REDACTED&signature=kept"
    )
    assert not any("s3cret" in str(value) for value in attributes.values())


async def test_a_method_not_known_is_other_and_its_span_is_named_http(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """PURGE is no method the conventions know: _OTHER, the original kept, the span named HTTP."""
    async with telemetry.client() as client:
        await client.request("PURGE", f"{web_server.url}/echo")
    span = telemetry.span()
    assert span.name == "HTTP"
    attributes = _attributes(span)
    assert attributes["http.request.method"] == "_OTHER"
    assert attributes["http.request.method_original"] == "PURGE"
    point = telemetry.histogram(
        "http.client.request.duration",
        http__request__method="_OTHER",
        server__address="127.0.0.1",
        server__port=web_server.port,
        network__protocol__version="1.1",
        http__response__status_code=200,
    )
    assert point.count == 1


async def test_known_methods_come_from_the_environment_when_set(
    web_server: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS replaces the list (read per provider pair)."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET, PURGE")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with otel.instrument(hyperhttp.Client(), tracer_provider=provider) as client:
        await client.request("PURGE", f"{web_server.url}/echo")
        await client.post(f"{web_server.url}/echo")
    purge, post = exporter.get_finished_spans()
    assert (purge.name, post.name) == ("PURGE", "HTTP")
    assert _attributes(post)["http.request.method"] == "_OTHER"
    provider.shutdown()


@pytest.mark.parametrize("status", [400, 404, 500, 503])
async def test_4xx_and_5xx_answers_are_errors_named_by_their_status(
    telemetry: Telemetry, web_server: WebServer, status: int
) -> None:
    """Client spans: status ERROR without a description, error.type the code; metrics too."""
    async with telemetry.client() as client:
        response = await client.get(f"{web_server.url}/status/{status}")
    assert response.status_code == status
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description is None
    assert _attributes(span)["error.type"] == str(status)
    point = telemetry.histogram(
        "http.client.request.duration",
        http__request__method="GET",
        server__address="127.0.0.1",
        server__port=web_server.port,
        network__protocol__version="1.1",
        http__response__status_code=status,
        error__type=str(status),
    )
    assert point.count == 1


async def test_1xx_to_3xx_answers_leave_the_status_unset(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """204, 304 and an unfollowed 302 are no errors: no status, no error.type."""
    async with telemetry.client(follow_redirects=False) as client:
        for status in (204, 304, 302):
            await client.get(f"{web_server.url}/status/{status}")
    assert [span.status.status_code for span in telemetry.spans()] == [StatusCode.UNSET] * 3
    assert not any("error.type" in _attributes(span) for span in telemetry.spans())


async def test_a_refused_connection_is_an_error_span_named_by_the_exception(
    telemetry: Telemetry,
) -> None:
    """No response: error.type is the exception's class, the description its message."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    async with telemetry.client() as client:
        with pytest.raises(hyperhttp.ConnectError) as raised:
            await client.get(f"http://127.0.0.1:{port}/")
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == str(raised.value)
    attributes = _attributes(span)
    assert attributes["error.type"] == "hyperhttp.ConnectError"
    assert "http.response.status_code" not in attributes
    assert [event.name for event in span.events][-1] == "exception"
    point = telemetry.histogram(
        "http.client.request.duration",
        http__request__method="GET",
        server__address="127.0.0.1",
        server__port=port,
        error__type="hyperhttp.ConnectError",
    )
    assert point.count == 1


async def test_the_total_deadline_fails_the_send_it_cancelled(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """The deadline cancels the send inside: its span is failed with the call's ReadTimeout."""
    async with telemetry.client(timeout=hyperhttp.Timeout(5, total=0.05)) as client:
        with pytest.raises(hyperhttp.ReadTimeout):
            await client.get(f"{web_server.url}/sleep/5")
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert _attributes(span)["error.type"] == "hyperhttp.ReadTimeout"
    point = telemetry.histogram(
        "http.client.request.duration",
        http__request__method="GET",
        server__address="127.0.0.1",
        server__port=web_server.port,
        network__protocol__version="1.1",
        error__type="hyperhttp.ReadTimeout",
    )
    assert point.count == 1


async def test_a_send_its_caller_cancelled_is_not_an_error(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """http-spans.md: cancellation by the caller leaves the status unset, no error.type."""
    async with telemetry.client() as client:
        task = asyncio.create_task(client.get(f"{web_server.url}/sleep/5"))
        while not telemetry.points("http.client.request.time_in_queue"):
            await asyncio.sleep(0.01)  # the request is on its connection
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    span = telemetry.span()
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in _attributes(span)
    assert not telemetry.points("http.client.request.duration")


# ---------------------------------------------------------------- resends


async def test_each_retry_is_a_span_with_its_resend_count(
    telemetry: Telemetry, routes: tuple[str, list[web.Request]]
) -> None:
    """Two 503s then a 200: three sibling spans, each the parent of what the server saw."""
    url, seen = routes
    policy = hyperhttp.RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.002)
    tracer = telemetry.tracer_provider.get_tracer("test")
    async with telemetry.client(retry=policy) as client:
        with tracer.start_as_current_span("parent") as parent:
            response = await client.get(f"{url}/flaky")
    assert response.status_code == 200
    *sends, parent_span = telemetry.spans()
    assert [_attributes(s).get("http.request.resend_count") for s in sends] == [None, 1, 2]
    assert [_attributes(s)["http.response.status_code"] for s in sends] == [503, 503, 200]
    assert [s.status.status_code for s in sends] == [StatusCode.ERROR] * 2 + [StatusCode.UNSET]
    assert all(s.parent is not None for s in sends)
    assert {s.parent.span_id for s in sends if s.parent} == {parent.get_span_context().span_id}
    assert [r.headers["traceparent"] for r in seen] == [_traceparent(s) for s in sends]
    assert parent_span.name == "parent"


async def test_each_redirect_hop_is_a_span_carrying_its_own_context(
    telemetry: Telemetry, routes: tuple[str, list[web.Request]]
) -> None:
    """Two redirects then the answer: three spans, resend counts 1 and 2, each hop's own context."""
    url, seen = routes
    async with telemetry.client() as client:
        response = await client.get(f"{url}/redirect/2")
    assert response.status_code == 200
    sends = telemetry.spans()
    assert [_attributes(s)["url.full"] for s in sends] == [
        f"{url}/redirect/2",
        f"{url}/redirect/1",
        f"{url}/echo",
    ]
    assert [_attributes(s).get("http.request.resend_count") for s in sends] == [None, 1, 2]
    assert [_attributes(s)["http.response.status_code"] for s in sends] == [302, 302, 200]
    assert [r.headers["traceparent"] for r in seen] == [_traceparent(s) for s in sends]
    # No parent: each send is the root of its own trace (http-spans.md, redirects example).
    assert len({s.context.trace_id for s in sends if s.context}) == 3


async def test_calls_count_their_own_resends(
    telemetry: Telemetry, routes: tuple[str, list[web.Request]]
) -> None:
    """The count is per call: concurrent and later calls start again from none."""
    url, _ = routes
    async with telemetry.client() as client:
        await asyncio.gather(client.get(f"{url}/redirect/1"), client.get(f"{url}/redirect/1"))
        await client.get(f"{url}/echo")
    counts = sorted(
        (_attributes(s).get("http.request.resend_count") or 0) for s in telemetry.spans()
    )
    assert counts == [0, 0, 0, 1, 1]


async def test_a_hedged_copy_that_lost_ends_without_an_error(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """Two copies race: both are spans; the loser, cancelled, has no status code nor error."""
    hedging = hyperhttp.Hedging(delay=0.01, budget=hyperhttp.RetryBudget(min_per_second=100))
    async with telemetry.client(hedging=hedging) as client:
        response = await client.get(f"{web_server.url}/sleep/0.2")
    assert response.status_code == 200
    spans = telemetry.spans()
    assert len(spans) == 2
    answered = [s for s in spans if "http.response.status_code" in _attributes(s)]
    lost = [s for s in spans if "http.response.status_code" not in _attributes(s)]
    assert len(answered) == len(lost) == 1
    assert lost[0].status.status_code is StatusCode.UNSET
    assert "error.type" not in _attributes(lost[0])
    assert sorted(_attributes(s).get("http.request.resend_count", 0) for s in spans) == [0, 1]


# ---------------------------------------------------------------- propagation


async def test_the_server_sees_the_send_span_as_its_parent(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """Traceparent names the client span; the client span's parent is the caller's span."""
    tracer = telemetry.tracer_provider.get_tracer("test")
    async with telemetry.client() as client:
        with tracer.start_as_current_span("handler") as parent:
            response = await client.get(f"{web_server.url}/echo")
    send, _ = telemetry.spans()
    headers = dict(response.json()["headers"])
    assert headers["traceparent"] == _traceparent(send)
    assert send.parent is not None
    assert send.parent.span_id == parent.get_span_context().span_id
    assert send.context is not None
    assert send.context.trace_id == parent.get_span_context().trace_id


async def test_propagated_fields_go_into_a_copy_and_leave_other_fields_alone(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """The built request keeps its fields; the copy sent replaces only same-named ones."""
    async with telemetry.client(headers={"X-Default": "d"}) as client:
        request = client.build_request(
            "GET",
            f"{web_server.url}/echo",
            headers=[("X-Mine", "1"), ("traceparent", "stale"), ("X-Mine", "2")],
        )
        token = context.attach(baggage.set_baggage("tenant", "acme"))
        try:
            response = await client.send(request)
        finally:
            context.detach(token)
    sent = response.json()["headers"]
    assert [value for name, value in sent if name == "X-Mine"] == ["1", "2"]
    assert [value for name, value in sent if name.lower() == "traceparent"] == [
        _traceparent(telemetry.span())
    ]
    assert dict(sent)["X-Default"] == "d"
    assert dict(sent)["baggage"] == "tenant=acme"
    assert request.headers.multi_items() == [
        ("x-mine", "1"),
        ("traceparent", "stale"),
        ("x-mine", "2"),
    ]


async def test_without_an_sdk_nothing_is_added_to_the_request(web_server: WebServer) -> None:
    """The API's no-op: no span context to send, so the request goes out as built."""
    async with otel.instrument(hyperhttp.Client()) as client:
        response = await client.get(f"{web_server.url}/echo")
    names = {name.lower() for name, _ in response.json()["headers"]}
    assert not names & {"traceparent", "tracestate", "baggage"}


async def test_the_api_passes_an_incoming_context_through_without_an_sdk(
    web_server: WebServer,
) -> None:
    """No SDK, but a remote parent in the context: its traceparent goes on (the API's span)."""
    parent = trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=trace.TraceFlags(1),
    )
    token = context.attach(trace.set_span_in_context(trace.NonRecordingSpan(parent)))
    try:
        async with otel.instrument(hyperhttp.Client()) as client:
            response = await client.get(f"{web_server.url}/echo")
    finally:
        context.detach(token)
    headers = dict(response.json()["headers"])
    assert headers["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_suppressed_instrumentation_sends_plainly(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """OpenTelemetry's suppression key (set by exporters): no span, no metric, no field."""
    key = context._SUPPRESS_INSTRUMENTATION_KEY
    async with telemetry.client() as client:
        token = context.attach(context.set_value(key, True))
        try:
            response = await client.get(f"{web_server.url}/echo")
        finally:
            context.detach(token)
    assert "traceparent" not in dict(response.json()["headers"])
    assert telemetry.spans() == []
    assert not telemetry.points("http.client.request.duration")


# ---------------------------------------------------------------- metrics and phases


async def test_request_duration_and_time_in_queue_per_request(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """The duration is the span's; the queue time is up to the connection's lease."""
    async with telemetry.client() as client:
        for _ in range(3):
            await client.get(f"{web_server.url}/size/10")
    attributes = {
        "http__request__method": "GET",
        "server__address": "127.0.0.1",
        "server__port": web_server.port,
        "network__protocol__version": "1.1",
    }
    duration = telemetry.histogram(
        "http.client.request.duration", **attributes, http__response__status_code=200
    )
    assert duration.count == 3
    spans = telemetry.spans()
    span_seconds = sum(((s.end_time or 0) - (s.start_time or 0)) / 1e9 for s in spans)
    assert duration.sum == pytest.approx(span_seconds, abs=1e-6)
    assert list(duration.explicit_bounds) == [
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
    ]  # fmt: skip
    queued = telemetry.histogram(
        "http.client.request.time_in_queue", **attributes, url__scheme="http"
    )
    assert queued.count == 3
    assert queued.sum <= duration.sum


async def test_open_connections_by_state_and_their_duration(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """Active while leased, idle in the pool, gone (and timed) once closed."""
    async with telemetry.client() as client:
        assert telemetry.connections() == {}
        async with client.stream("GET", f"{web_server.url}/size/10") as response:
            assert telemetry.connections() == {"active": 1}
            await response.aread()
        assert telemetry.connections() == {"idle": 1, "active": 0}
        (point,) = [p for p in telemetry.points("http.client.open_connections") if p.value == 1]
        assert dict(point.attributes) == {
            "http.connection.state": "idle",
            "server.address": "127.0.0.1",
            "server.port": web_server.port,
            "network.protocol.version": "1.1",
        }
        assert not telemetry.points("http.client.connection.duration")
    for _ in range(3):
        await asyncio.sleep(0)  # connection_lost
    assert telemetry.connections() == {"idle": 0}
    assert telemetry.connections() == {}  # a state gone is reported once, as 0
    lifetime = telemetry.histogram(
        "http.client.connection.duration",
        server__address="127.0.0.1",
        server__port=web_server.port,
        network__protocol__version="1.1",
    )
    assert lifetime.count == 1
    assert lifetime.explicit_bounds[-1] == 300


async def test_dns_lookups_are_timed_and_connection_phases_are_span_events(
    telemetry: Telemetry,
) -> None:
    """A name resolved (through a scripted backend): dns.lookup.duration, then span events."""

    class Backend:
        async def lookup(self, host: str, family: int) -> hyperhttp_dns.Answer:
            return hyperhttp_dns.Answer((hyperhttp_dns.Address(socket.AF_INET, "127.0.0.1", 0),))

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    resolver = hyperhttp_dns.Resolver(Backend())
    try:
        async with serve_routes([web.get("/", ok)]) as (url, _):
            port = url.rsplit(":", 1)[1]
            async with telemetry.client(resolver=resolver) as client:
                await client.get(f"http://svc.test:{port}/")
                await client.get(f"http://svc.test:{port}/")
    finally:
        await resolver.aclose()
    first, second = telemetry.spans()
    assert [event.name for event in first.events] == [
        "dns.lookup",
        "tcp.connect",
        "connection.ready",
    ]
    assert second.events == ()  # the connection was reused
    dns = first.events[0].attributes
    assert dns is not None
    assert dns["dns.question.name"] == "svc.test"
    assert dns["dns.answers"] == ("127.0.0.1",)
    assert dns["hyperhttp.dns.cached"] is False
    assert _attributes(first)["server.address"] == "svc.test"
    lookup = telemetry.histogram("dns.lookup.duration", dns__question__name="svc.test")
    assert lookup.count == 1


async def test_an_address_literal_is_no_dns_lookup(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """127.0.0.1 is not looked up: no dns.lookup event, no dns.lookup.duration."""
    async with telemetry.client() as client:
        await client.get(f"{web_server.url}/size/1")
    assert [event.name for event in telemetry.span().events] == ["tcp.connect", "connection.ready"]
    assert not telemetry.points("dns.lookup.duration")


async def test_tls_handshake_event(
    telemetry: Telemetry, tls: TLSSetup, tls_server: WebServer
) -> None:
    """HTTPS: the tls.handshake event names the protocol and its version."""
    async with telemetry.client(verify=tls.ca_path) as client:
        await client.get(f"{tls_server.url}/size/1")
    (event,) = [e for e in telemetry.span().events if e.name == "tls.handshake"]
    assert event.attributes is not None
    assert event.attributes["tls.protocol.name"] == "tls"
    assert event.attributes["tls.protocol.version"] in ("1.2", "1.3")


async def test_http2_is_protocol_version_2(
    telemetry: Telemetry, tls: TLSSetup, h2_server: H2Server
) -> None:
    """HTTP/2 by ALPN: network.protocol.version 2, tls.next_protocol h2."""
    async with telemetry.client(verify=tls.ca_path) as client:
        response = await client.get(f"{h2_server.url}/echo")
    assert response.http_version == "HTTP/2"
    attributes = _attributes(telemetry.span())
    assert attributes["network.protocol.version"] == "2"
    (event,) = [e for e in telemetry.span().events if e.name == "tls.handshake"]
    assert event.attributes is not None
    assert event.attributes["tls.next_protocol"] == "h2"


# ---------------------------------------------------------------- instrumenting


async def test_a_trace_callback_keeps_every_event(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """Instrumenting chains to the client's trace=: same events, in the same order."""
    plain, chained = TraceRecorder(), TraceRecorder()
    async with hyperhttp.Client(trace=plain) as client:
        await client.get(f"{web_server.url}/size/10")
        await client.get(f"{web_server.url}/status/500")
    async with telemetry.client(trace=chained) as client:
        await client.get(f"{web_server.url}/size/10")
        await client.get(f"{web_server.url}/status/500")
    assert chained.names() == plain.names()
    assert len(telemetry.spans()) == 2


async def test_uninstrument_puts_the_client_back(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """Taking it off restores the transport, the span source, trace= and Client.send."""
    trace_ = TraceRecorder()
    async with hyperhttp.Client(trace=trace_) as client:
        network = client._pipeline.network
        spans_source = client._network._spans  # type: ignore[attr-defined]
        otel.instrument(
            client,
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
        )
        assert otel.instrument(client) is client  # once is enough
        await client.get(f"{web_server.url}/size/1")
        otel.uninstrument(client)
        otel.uninstrument(client)  # nothing left to do
        assert client._pipeline.network is network
        assert client._network._spans is spans_source  # type: ignore[attr-defined]
        assert client._network.trace is trace_  # type: ignore[attr-defined]
        assert "send" not in vars(client)
        response = await client.get(f"{web_server.url}/echo")
    assert len(telemetry.spans()) == 1
    assert "traceparent" not in dict(response.json()["headers"])
    assert trace_.names().count("response.end") == 2


async def test_instrument_wants_a_client() -> None:
    """Anything but a hyperhttp.Client is refused."""
    with pytest.raises(TypeError, match=r"hyperhttp\.Client"):
        otel.instrument(object())  # type: ignore[arg-type]


async def test_the_instrumentor_instruments_clients_created_afterwards(
    telemetry: Telemetry, web_server: WebServer
) -> None:
    """BaseInstrumentor's shape: one instance; instrument(), uninstrument(), the flag."""
    before = hyperhttp.Client()
    instrumentor = otel.HyperhttpInstrumentor()
    assert otel.HyperhttpInstrumentor() is instrumentor
    assert instrumentor.instrumentation_dependencies() == ()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        skip_dep_check=True,
    )
    try:
        assert instrumentor.is_instrumented_by_opentelemetry
        after = hyperhttp.Client()
        async with before, after:
            await before.get(f"{web_server.url}/size/1")
            await after.get(f"{web_server.url}/size/1")
            assert len(telemetry.spans()) == 1
            instrumentor.uninstrument()
            await after.get(f"{web_server.url}/size/1")
        assert len(telemetry.spans()) == 1
        async with hyperhttp.Client() as later:
            await later.get(f"{web_server.url}/size/1")
        assert len(telemetry.spans()) == 1
        assert not otel.HyperhttpInstrumentor().is_instrumented_by_opentelemetry
        assert hyperhttp.Client.__init__.__qualname__ == "Client.__init__"
    finally:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


async def test_the_instrumentor_refuses_unknown_keywords() -> None:
    """An unknown keyword is refused, and nothing is instrumented."""
    with pytest.raises(TypeError, match="unknown keywords"):
        otel.HyperhttpInstrumentor().instrument(request_hook=print)
    assert not otel.HyperhttpInstrumentor().is_instrumented_by_opentelemetry


async def test_a_mock_transport_is_traced_too(telemetry: Telemetry) -> None:
    """No pool under it: spans and durations, no connection metrics."""

    def handler(request: hyperhttp.Request) -> hyperhttp.MockResponse:
        return hyperhttp.MockResponse(201, text=request.headers.get("traceparent", ""))

    async with telemetry.client(transport=hyperhttp.MockTransport(handler)) as client:
        response = await client.post("https://api.test/items")
    span = telemetry.span()
    assert response.text == _traceparent(span)
    assert _attributes(span)["server.port"] == 443
    assert (
        telemetry.histogram(
            "http.client.request.duration",
            http__request__method="POST",
            server__address="api.test",
            server__port=443,
            network__protocol__version="1.1",
            http__response__status_code=201,
        ).count
        == 1
    )
    assert not telemetry.points("http.client.request.time_in_queue")


async def test_the_client_internals_otel_relies_on() -> None:
    """hyperhttp.otel._instrument's seam into the client (its docstring): these shapes hold."""
    from hyperhttp._pool_transport import PoolTransport
    from hyperhttp._tracing import NO_SPAN, Spans

    def tracer(name: str, info: dict[str, Any]) -> None:
        pass

    async with hyperhttp.Client() as plain, hyperhttp.Client(trace=tracer) as traced:
        for client in (plain, traced):
            network = client._pipeline.network
            assert isinstance(network, PoolTransport)
            assert network is client._network
        assert plain._network._spans is NO_SPAN  # type: ignore[attr-defined]
        assert plain._network.trace is None  # type: ignore[attr-defined]
        assert type(traced._network._spans) is Spans  # type: ignore[attr-defined]
        assert traced._network.trace is tracer  # type: ignore[attr-defined]


async def test_the_opentelemetry_internals_otel_relies_on() -> None:
    """hyperhttp.otel._compat's private names of opentelemetry-api still exist."""
    from hyperhttp.otel import _compat
    from opentelemetry.metrics import _internal as metrics_internal

    assert _compat.SUPPRESS_KEY is context._SUPPRESS_INSTRUMENTATION_KEY
    assert trace._TRACER_PROVIDER is None  # no SDK was set in this process
    assert metrics_internal._METER_PROVIDER is None
    assert _compat.no_global_sdk()
