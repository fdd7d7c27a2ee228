"""What hyperhttp.otel adds to a request: plain vs the API's no-op vs the SDK, in one run.

Three clients against the raw server (bench/_servers.py: a prebuilt 200 B
response, so the client is the bottleneck), in one process:

- ``plain``: ``hyperhttp.Client()``;
- ``noop``: ``hyperhttp.otel.instrument(Client())`` with OpenTelemetry's
  global providers and no SDK installed (what a library user without an SDK
  runs): the API's non-recording spans and no-op instruments;
- ``sdk``: instrumented with an SDK ``TracerProvider`` (a
  ``SimpleSpanProcessor`` into an exporter that drops the spans: span creation
  and ending, attributes, no I/O) and an SDK ``MeterProvider`` (an in-memory
  reader: every measurement aggregated).

Rounds are interleaved, their order rotated each round, so drift hits every
client alike; each figure is the median over rounds of CPU time per request
(``time.process_time``: every thread of the process) and of wall time per
request. The target: ``noop`` adds < 10 µs per request to ``plain``.

Run: ``python bench/bench_otel.py [--requests N] [--rounds R] [--concurrency C] [--uvloop]``
(``hatch run bench:python bench/bench_otel.py``). Figures are comparable within one
run only; the machine's other work moves them all.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hyperhttp
from hyperhttp import otel
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

if TYPE_CHECKING:
    from collections.abc import Sequence

HERE = Path(__file__).resolve().parent


class _Dropping(SpanExporter):
    """An exporter that counts spans and keeps none."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


def _start_server() -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "_servers.py"), "raw"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise SystemExit(f"the raw server did not start: {line!r}")
    return process, int(line)


async def _round(
    client: hyperhttp.Client, url: str, total: int, concurrency: int
) -> tuple[float, float]:
    """Send ``total`` GETs, ``concurrency`` at a time; return (CPU, wall) µs per request."""

    async def worker(count: int) -> None:
        for _ in range(count):
            response = await client.get(url)
            assert response.status_code == 200

    shares = [total // concurrency + (i < total % concurrency) for i in range(concurrency)]
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(n) for n in shares))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / total * 1e6, wall / total * 1e6


async def _main(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    server, port = _start_server()
    url = f"http://127.0.0.1:{port}/size/200"
    exporter = _Dropping()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    clients = {
        "plain": hyperhttp.Client(),
        "noop": otel.instrument(hyperhttp.Client()),
        "sdk": otel.instrument(
            hyperhttp.Client(), tracer_provider=tracer_provider, meter_provider=meter_provider
        ),
    }
    cpu: dict[str, list[float]] = {name: [] for name in clients}
    wall: dict[str, list[float]] = {name: [] for name in clients}
    try:
        for client in clients.values():  # warm: connections open, caches filled
            await _round(client, url, max(args.requests // 4, args.concurrency), args.concurrency)
        names = list(clients)
        for number in range(args.rounds):
            order = names[number % len(names) :] + names[: number % len(names)]
            for name in order:
                c, w = await _round(clients[name], url, args.requests, args.concurrency)
                cpu[name].append(c)
                wall[name].append(w)
    finally:
        for client in clients.values():
            await client.aclose()
        server.kill()
        server.wait()
        tracer_provider.shutdown()
        meter_provider.shutdown()
    sent = args.requests * args.rounds + max(args.requests // 4, args.concurrency)
    if exporter.exported != sent:
        raise SystemExit(f"the SDK exported {exporter.exported} spans for {sent} requests")
    return {
        name: {"cpu_us": statistics.median(cpu[name]), "wall_us": statistics.median(wall[name])}
        for name in clients
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per client")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args(argv)
    runner: Any = asyncio.run
    if args.uvloop:
        import uvloop

        runner = uvloop.run
    results = runner(_main(args))
    plain = results["plain"]
    loop = "uvloop" if args.uvloop else "asyncio"
    print(
        f"hyperhttp.otel overhead: {args.rounds} rounds x {args.requests} GETs of 200 B, "
        f"concurrency {args.concurrency}, {loop} (medians over rounds)"
    )
    print(
        f"{'client':<8}{'CPU µs/req':>12}{'added':>10}{'ratio':>8}{'wall µs/req':>13}{'added':>10}"
    )
    for name, figures in results.items():
        added_cpu = figures["cpu_us"] - plain["cpu_us"]
        added_wall = figures["wall_us"] - plain["wall_us"]
        print(
            f"{name:<8}{figures['cpu_us']:>12.1f}{added_cpu:>+10.1f}"
            f"{figures['cpu_us'] / plain['cpu_us']:>8.2f}"
            f"{figures['wall_us']:>13.1f}{added_wall:>+10.1f}"
        )


if __name__ == "__main__":
    main()
