"""HTTP/2 benchmark: hyperhttp over HTTP/2 against httpx's HTTP/2 and HTTP/1.1-over-TLS.

The server is nginx (Debian's package, started here with its own
configuration on a loopback port: TLS, http2, one worker) when installed,
else hypercorn (tests/servers/h2_app.py). Clients, each (client, body size)
in a fresh process (bench/_clients.py):

- ``hyperhttp-h2``: hyperhttp over HTTP/2, every request a stream of one connection;
- ``httpx-h2``: httpx with ``http2=True``;
- ``hyperhttp-tls`` and ``aiohttp-tls``: HTTP/1.1 over TLS, up to one connection per
  concurrent request.

Rounds are interleaved and each cell is the median over rounds; ratios are to
aiohttp's HTTP/1.1-over-TLS and to httpx's HTTP/2, measured in the same run.

Run: ``hatch run bench:h2`` (``--quick`` for a smoke run, ``--uvloop``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.servers.* (the nginx launcher)
sys.path.insert(0, str(HERE))

from bench_client import Ratio, collect, render  # noqa: E402

from tests.servers.nginx_proc import nginx_binary, start_nginx, stop_nginx  # noqa: E402

CLIENTS = ("hyperhttp-h2", "httpx-h2", "hyperhttp-tls", "aiohttp-tls")


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    both = folder / "both.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(both))
    return ca_path, cert_path, key_path


class _Server:
    """nginx when installed, else hypercorn; both over TLS with ALPN h2 and http/1.1."""

    def __init__(self, folder: Path) -> None:
        self.ca, cert, key = _certificates(folder)
        self.nginx = None
        self.hypercorn: subprocess.Popen[str] | None = None
        if nginx_binary() is not None:
            self.nginx = start_nginx(folder / "nginx", cert, key, keepalive_requests=1_000_000)
            self.name = "nginx"
            self.url = self.nginx.url
        else:
            script = HERE.parent / "tests" / "servers" / "h2_app.py"
            self.hypercorn = subprocess.Popen(
                [sys.executable, str(script), str(folder / "both.pem")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self.hypercorn.stdout is not None
            port = self.hypercorn.stdout.readline().strip()
            self.name = "hypercorn (nginx is not installed)"
            self.url = f"https://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.nginx is not None:
            stop_nginx(self.nginx.process)
        if self.hypercorn is not None:
            assert self.hypercorn.stdin is not None
            self.hypercorn.stdin.close()
            self.hypercorn.wait(10)


RATIOS: tuple[Ratio, ...] = (
    ("RPS vs aiohttp-tls", "aiohttp-tls", "rps"),
    ("RPS vs httpx-h2", "httpx-h2", "rps"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1 round of 500 requests")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.requests = 1, 500
    clients = tuple(c for c in args.clients.split(",") if c)
    with tempfile.TemporaryDirectory(prefix="hyperhttp-bench-") as folder:
        server = _Server(Path(folder))
        try:
            loop = "uvloop" if args.uvloop else "asyncio"
            print(
                f"Python {sys.version.split()[0]}, clients on {loop}, server {server.name}, "
                f"{args.requests} requests at concurrency {args.concurrency} "
                f"(1 MiB: a quarter), {args.rounds} rounds, medians\n"
            )
            os.environ["BENCH_CA"] = str(server.ca)  # read by the client processes
            results = collect(server.url, args, clients)
            print(render("HTTP/2 and HTTP/1.1 over TLS", results, RATIOS))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
