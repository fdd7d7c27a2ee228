"""The OpenTelemetry example of docs/tracing.md, run as written against a loopback server.

The example sets OpenTelemetry's global providers and wraps ``Client.__init__``
(``HyperhttpInstrumentor``): both last for the process, so it runs in a fresh
interpreter, and the test reads what its console exporters printed.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.servers.fixtures import WebServer

pytestmark = pytest.mark.asyncio

DOC = Path(__file__).resolve().parent.parent / "docs" / "tracing.md"

# Runs the page's code, then checkout(url), then flushes both providers (the
# console exporters print each span and the metrics as JSON on stdout).
_RUN = """
import asyncio, sys
from opentelemetry import metrics
namespace = {"__name__": "docs_tracing"}
exec(compile(sys.stdin.read(), sys.argv[2], "exec"), namespace)
asyncio.run(namespace["checkout"](sys.argv[1]))
namespace["tracer_provider"].shutdown()
metrics.get_meter_provider().shutdown()
"""


def _example() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    (code,) = blocks
    return code


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Return the JSON objects printed one after another in ``text``."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    at = text.find("{")
    while at >= 0:
        value, end = decoder.raw_decode(text, at)
        found.append(value)
        at = text.find("{", end)
    return found


async def test_the_opentelemetry_example_exports_spans_and_metrics(web_server: WebServer) -> None:
    # In a worker thread (joined at the end of the test), this loop serving meanwhile.
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", _RUN, web_server.url, str(DOC)],
        input=_example(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = _json_objects(done.stdout)
    spans = {item["name"]: item for item in printed if "context" in item}
    send, checkout = spans["GET"], spans["checkout"]
    assert send["kind"] == "SpanKind.CLIENT"
    assert send["parent_id"] == checkout["context"]["span_id"]
    assert send["context"]["trace_id"] == checkout["context"]["trace_id"]
    assert send["attributes"]["url.full"] == f"{web_server.url}/echo"
    assert send["attributes"]["http.response.status_code"] == 200
    assert send["attributes"]["network.protocol.version"] == "1.1"
    assert [event["name"] for event in send["events"]] == ["tcp.connect", "connection.ready"]
    # What the server saw: the client span as the parent of its work.
    (request,) = web_server.requests
    trace_id, span_id = (send["context"][key].removeprefix("0x") for key in ("trace_id", "span_id"))
    assert request.headers["traceparent"].startswith(f"00-{trace_id}-{span_id}-")
    (exported,) = [item for item in printed if "resource_metrics" in item]
    metrics = {
        metric["name"]: metric
        for resource in exported["resource_metrics"]
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
    }
    (duration,) = metrics["http.client.request.duration"]["data"]["data_points"]
    assert duration["count"] == 1
    assert duration["attributes"]["http.response.status_code"] == 200
    # (http.client.open_connections has nothing to say: the client closed its connection.)
    assert {"http.client.request.time_in_queue", "http.client.connection.duration"} <= set(metrics)
