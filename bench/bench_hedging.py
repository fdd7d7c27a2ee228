"""Hedged requests against a server whose 5 % of responses take 500 ms (issue 18, part 2).

``python bench/bench_hedging.py [--requests N] [--concurrency C] [--loops asyncio,uvloop]
[--protocols h1,h2] [--slow-ms 500] [--slow-share 0.05] [--out FILE]``

The server (hypercorn, in its own process; ``http://`` HTTP/1.1 and
``https://`` with ALPN h2) answers ``/work`` after 1 ms, or, for a random
5 % of requests, after 500 ms: a backend with an occasional slow worker, the
case hedging is for. It counts the requests it gets, so the extra requests
hedging sends are measured at the server. Each cell runs in a fresh process:
``N`` GETs at concurrency ``C`` from one client at its defaults:

- ``aiohttp``: aiohttp's ClientSession (HTTP/1.1), for reference;
- ``hyperhttp``: ``hyperhttp.Client()``;
- ``hyperhttp+hedging``: ``hyperhttp.Client(hedging=hyperhttp.Hedging())`` at its
  defaults (the origin's live P95, one copy at most, its own 10 % budget).

The report: P50, P99 and P99.9 latency, the P99 ratio plain / hedged, the
extra requests the server saw and the requests per second (a worker stuck
on a slow response sends nothing: hedging frees it, so the server is busier
and the P50 of the hedged client is a little higher). Target: P99 cut 5x or more with at most 10 %
extra requests. Run it under the shared lock on a quiet machine:
``flock /tmp/bench.lock python bench/bench_hedging.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIENTS = ("aiohttp", "hyperhttp", "hyperhttp+hedging")


# ---------------------------------------------------------------- the server


def _serve(folder: str, slow: float, share: float) -> None:
    """Run the hypercorn server; print its two ports."""
    import trustme
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    authority = trustme.CA()
    authority.cert_pem.write_to_path(os.path.join(folder, "ca.pem"))
    cert = authority.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(os.path.join(folder, "cert.pem"))
    chooser = random.Random(18)
    seen = {"count": 0}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/stats":
            body = json.dumps(seen).encode()
            seen["count"] = 0
        else:
            seen["count"] += 1
            await asyncio.sleep(slow if chooser.random() < share else 0.001)
            body = b"ok"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    def free_port() -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    plain, secure = free_port(), free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{secure}"]
    config.insecure_bind = [f"127.0.0.1:{plain}"]
    config.certfile = os.path.join(folder, "cert.pem")
    config.keyfile = os.path.join(folder, "cert.pem")
    config.alpn_protocols = ["h2", "http/1.1"]
    config.accesslog = None
    config.errorlog = None
    config.keep_alive_timeout = 60
    config.h2_max_concurrent_streams = 1000
    print(plain, secure, flush=True)
    asyncio.run(serve(app, config))  # type: ignore[arg-type]


# ---------------------------------------------------------------- one cell


async def _cell(client: str, url: str, ca: str, total: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    context = ssl.create_default_context(cafile=ca)
    if client == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))

        async def fetch() -> None:
            async with session.get(url + "/work") as response:
                await response.read()

        close = session.close
    else:
        import hyperhttp

        hedging = hyperhttp.Hedging() if client.endswith("+hedging") else None
        hclient = hyperhttp.Client(verify=context, hedging=hedging)

        async def fetch() -> None:
            await hclient.get(url + "/work")

        close = hclient.aclose
    left = total

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            began = time.perf_counter()
            await fetch()
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    await close()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "rps": total / elapsed,
    }


def _run_cell(argv: list[str]) -> None:
    client, url, ca, total, concurrency, loop = argv
    if loop == "uvloop":
        import uvloop

        result = uvloop.run(_cell(client, url, ca, int(total), int(concurrency)))
    else:
        result = asyncio.run(_cell(client, url, ca, int(total), int(concurrency)))
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------- the table


def _stats(url: str, ca: str) -> int:
    import urllib.request

    context = ssl.create_default_context(cafile=ca)
    with urllib.request.urlopen(url + "/stats", context=context, timeout=10) as answer:  # noqa: S310
        return int(json.loads(answer.read())["count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--loops", default="asyncio,uvloop")
    parser.add_argument("--protocols", default="h1,h2")
    parser.add_argument("--slow-ms", type=float, default=500.0)
    parser.add_argument("--slow-share", type=float, default=0.05)
    parser.add_argument("--out", default=str(HERE / "results" / "hedging.json"))
    parser.add_argument("--cell", nargs=6, help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        _run_cell(args.cell)
        return
    if args.serve:
        _serve(args.serve, args.slow_ms / 1000, args.slow_share)
        return
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                folder,
                "--slow-ms",
                str(args.slow_ms),
                "--slow-share",
                str(args.slow_share),
            ],
            stdout=subprocess.PIPE,
        )
        try:
            assert server.stdout is not None
            plain, secure = server.stdout.readline().split()
            ca = os.path.join(folder, "ca.pem")
            urls = {
                "h1": f"http://127.0.0.1:{int(plain)}",
                "h2": f"https://127.0.0.1:{int(secure)}",
            }
            rows = _table(args, urls, ca)
        finally:
            server.terminate()
            server.wait(timeout=10)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nwritten: {args.out}")


def _table(args: argparse.Namespace, urls: dict[str, str], ca: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    print(
        f"{args.requests} GETs at concurrency {args.concurrency}; "
        f"{args.slow_share:.0%} of responses take {args.slow_ms:.0f} ms, the rest 1 ms\n"
    )
    header = (
        f"{'loop':8} {'proto':5} {'client':18} {'P50 ms':>8} {'P99 ms':>8} {'P99.9 ms':>9}"
        f" {'extra':>7} {'P99 cut':>8} {'req/s':>7}"
    )
    print(header)
    print("-" * len(header))
    for loop in args.loops.split(","):
        for proto in args.protocols.split(","):
            plain_p99 = None
            for client in CLIENTS:
                url = urls[proto]
                _stats(url, ca)  # reset the server's count
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--cell",
                        client,
                        url,
                        ca,
                        str(args.requests),
                        str(args.concurrency),
                        loop,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=600,
                )
                cell = json.loads(out.stdout.strip().splitlines()[-1])
                cell["extra"] = _stats(url, ca) / args.requests - 1
                if client == "hyperhttp":
                    plain_p99 = cell["p99_ms"]
                cut = (
                    plain_p99 / cell["p99_ms"] if plain_p99 and client.endswith("hedging") else None
                )
                cell.update(loop=loop, proto=proto, client=client, p99_cut=cut)
                rows.append(cell)
                print(
                    f"{loop:8} {proto:5} {client:18} {cell['p50_ms']:8.2f} {cell['p99_ms']:8.2f} "
                    f"{cell['p999_ms']:9.2f} {cell['extra']:7.1%} "
                    f"{(f'{cut:.1f}x' if cut else ''):>8} {cell['rps']:7.0f}",
                    flush=True,
                )
    return rows


if __name__ == "__main__":
    main()
