"""A TLS connect through hyperhttp-dns's ``start_tls`` vs the loop's ``create_connection(ssl=)``.

``hyperhttp_dns.start_tls`` (TCP first, then ``loop.start_tls``, a stand-in
protocol until the caller's is made) is how every https connection of the
client, its tunnels and ``hyperhttp bench`` is handshaken. This measures a
whole connect against a local TLS server (asyncio's, in a subprocess, TLS 1.3,
a trustme certificate) in one process and one run:

- ``loop``: ``loop.create_connection(Protocol, host, port, ssl=ctx)``;
- ``start_tls``: ``loop.create_connection(Protocol, host, port)`` then
  ``hyperhttp_dns.start_tls(transport, Protocol, ctx, server_hostname=...)``.

Each connect is aborted at once. Rounds alternate the two, their order
rotated, so drift hits both alike; each figure is the median over rounds of
wall time per connect. A connect is dominated by the handshake's crypto:
the ratio should be ~1.00.

Run: ``hatch run bench:tls-connect [--connects N] [--rounds R] [--uvloop]``.
Figures are comparable within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hyperhttp_dns
import trustme

_SERVER = """
import asyncio, ssl, sys
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(sys.argv[1])
async def main():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0, ssl=context, backlog=512)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


async def _loop_connect(port: int, context: ssl.SSLContext) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(
        asyncio.Protocol, "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
    )
    transport.abort()


async def _start_tls_connect(port: int, context: ssl.SSLContext) -> None:
    loop = asyncio.get_running_loop()
    raw, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    transport, _ = await hyperhttp_dns.start_tls(
        raw, asyncio.Protocol, context, server_hostname="127.0.0.1"
    )
    transport.abort()


WAYS = {"loop": _loop_connect, "start_tls": _start_tls_connect}


async def _run(port: int, context: ssl.SSLContext, connects: int, rounds: int) -> dict[str, float]:
    per: dict[str, list[float]] = {name: [] for name in WAYS}
    names = list(WAYS)
    for way in WAYS.values():  # warm up
        for _ in range(20):
            await way(port, context)
    for r in range(rounds):
        for name in names[r % 2 :] + names[: r % 2]:
            way = WAYS[name]
            began = time.perf_counter()
            for _ in range(connects):
                await way(port, context)
            per[name].append((time.perf_counter() - began) / connects)
        await asyncio.sleep(0.05)  # the server's side of the aborted connections closes
    return {name: statistics.median(times) for name, times in per.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connects", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as folder:
        pem = Path(folder) / "server.pem"
        ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
        server = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(pem)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            context = ssl.create_default_context()
            ca.configure_trust(context)
            runner = asyncio.run
            if args.uvloop:
                import uvloop

                runner = uvloop.run
            medians = runner(_run(port, context, args.connects, args.rounds))
        finally:
            server.kill()
            server.wait()
    loop_name = "uvloop" if args.uvloop else "asyncio"
    print(f"TLS connect, {loop_name}, median of {args.rounds} rounds x {args.connects} connects")
    print(f"{'way':<10} {'us/connect':>11} {'vs loop':>8}")
    for name, seconds in medians.items():
        print(f"{name:<10} {seconds * 1e6:>11.0f} {seconds / medians['loop']:>8.2f}")


if __name__ == "__main__":
    main()
