"""Per-request cost of ``ASGITransport``: hyperhttp against httpx, in-process, no network.

``python bench/bench_asgi.py [--requests N] [--rounds R] [--loop asyncio|uvloop]``

Sequential GETs through ``hyperhttp.Client(transport=hyperhttp.ASGITransport(app))``
and ``httpx.AsyncClient(transport=httpx.ASGITransport(app))``, each against:

- ``raw``: a minimal ASGI app (one receive, a start and a 5-byte body): what
  is measured is the client and the transport;
- ``fastapi``: a FastAPI route returning a small JSON object (when FastAPI
  is installed): what a user's test pays, the framework included.

Each round builds a fresh client, warms it up, then times ``N`` requests;
the best round of each is reported, in microseconds per request, with the
ratio httpx / hyperhttp. On Python 3.12+ hyperhttp starts each app call
eagerly (``asyncio.Task(..., eager_start=True)``), which is most of the
difference between 3.11 and later versions.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import httpx
import hyperhttp


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


def _apps() -> dict[str, Any]:
    apps: dict[str, Any] = {"raw": raw_app}
    try:
        from fastapi import FastAPI
    except ImportError:  # pragma: no cover - an optional comparison
        return apps
    fast = FastAPI()

    @fast.get("/")
    async def root() -> dict[str, str]:
        return {"message": "Tomato"}

    apps["fastapi"] = fast
    return apps


async def _time(client: Any, requests: int) -> float:
    for _ in range(200):  # warm-up
        await client.get("/")
    started = time.perf_counter()
    for _ in range(requests):
        response = await client.get("/")
        assert response.status_code == 200
    return (time.perf_counter() - started) / requests * 1e6


async def main(requests: int, rounds: int) -> None:
    print(f"Python {sys.version.split()[0]}, {requests} sequential GETs, best of {rounds}")
    for name, app in _apps().items():
        ours, theirs = [], []
        for _ in range(rounds):
            transport = hyperhttp.ASGITransport(app)
            async with hyperhttp.Client(transport=transport, base_url="http://test") as client:
                ours.append(await _time(client, requests))
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url="http://test"
            ) as other:
                theirs.append(await _time(other, requests))
        best, other_best = min(ours), min(theirs)
        print(
            f"{name:8} hyperhttp {best:7.1f} us/request   httpx {other_best:7.1f} us/request"
            f"   httpx / hyperhttp {other_best / best:5.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(main(args.requests, args.rounds))
