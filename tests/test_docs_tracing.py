"""The OpenTelemetry example of docs/tracing.md, run against a loopback server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hyperhttp
import pytest

if TYPE_CHECKING:
    from tests.servers.fixtures import WebServer

pytestmark = pytest.mark.asyncio

DOC = Path(__file__).resolve().parent.parent / "docs" / "tracing.md"


def _example() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    (code,) = blocks
    return code


async def test_the_opentelemetry_example_exports_spans_and_metrics(web_server: WebServer) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    namespace: dict[str, Any] = {}
    exec(compile(_example(), str(DOC), "exec"), namespace)  # noqa: S102 - our own document
    # The example asks the global providers; give it ours without touching the globals.
    namespace["tracer"] = tracer_provider.get_tracer("hyperhttp")
    meter = meter_provider.get_meter("hyperhttp")
    for name, unit in (
        ("duration", "http.client.request.duration"),
        ("ttfb", "hyperhttp.client.time_to_first_byte"),
        ("connects", "hyperhttp.client.connect.duration"),
    ):
        namespace[name] = meter.create_histogram(unit, unit="s")
    namespace["retries"] = meter.create_counter("hyperhttp.client.retries")

    async with hyperhttp.Client(trace=namespace["otel_trace"]) as client:
        await client.get(f"{web_server.url}/size/10")
        await client.post(f"{web_server.url}/echo", content=b"x")

    finished = spans.get_finished_spans()
    assert [span.name for span in finished] == ["GET", "POST"]
    assert finished[0].attributes is not None
    assert finished[0].attributes["http.response.status_code"] == 200
    assert finished[0].attributes["url.full"] == f"{web_server.url}/size/10"
    data = reader.get_metrics_data()
    assert data is not None
    names = {
        metric.name
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert {
        "http.client.request.duration",
        "hyperhttp.client.time_to_first_byte",
        "hyperhttp.client.connect.duration",
    } <= names
    tracer_provider.shutdown()
    meter_provider.shutdown()
