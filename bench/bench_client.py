"""Client benchmark: hyperhttp against aiohttp, httpx and a floor client.

Every (client, body size) runs in a fresh process (bench/_clients.py):
warm-up, then ``--requests`` GETs at ``--concurrency`` over keep-alive
connections, measuring requests per second, latency percentiles and the
client's own CPU time per request (user + sys over the measured phase).

Two servers, each in its own process (bench/_servers.py):

- ``raw``: a prebuilt-response asyncio Protocol (uvloop when installed), so
  the client is the bottleneck: the CPU column is what the targets are about;
- ``aiohttp``: an aiohttp.web server (the seed's server), where RPS is compared.

Rounds are interleaved (every client once per round), and each cell is the
median over rounds; ratios are to aiohttp and to the floor client measured in
the same run. The floor client is the least work any asyncio client can do:
one prebuilt request, Content-Length framing, nothing else.

Run: ``hatch run bench:table`` (``--quick`` for a fast smoke run, ``--uvloop``
to run the clients on uvloop).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIENTS = ("hyperhttp", "aiohttp", "httpx", "floor")
SIZES = {"200 B": 200, "10 KiB": 10 * 1024, "1 MiB": 1024 * 1024}
METRICS = ("rps", "p50", "p95", "p99", "cpu_us")


def _start_server(kind: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "_servers.py"), kind], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise SystemExit(f"the {kind} server did not start: {line!r}")
    return process, int(line)


def _run_one(
    client: str, url: str, requests: int, concurrency: int, uvloop: bool
) -> dict[str, float]:
    script = str(HERE / "_clients.py")
    command = [sys.executable, script, client, url, str(requests), str(concurrency)]
    if uvloop:
        command.append("--uvloop")
    out = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{client} failed on {url}:\n{out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


Results = dict[str, dict[str, dict[str, float]]]  # size -> client -> metric -> median


def collect(base_url: str, args: argparse.Namespace, clients: tuple[str, ...]) -> Results:
    """Run every (client, size) ``args.rounds`` times, interleaved; return the medians."""
    samples: dict[str, dict[str, list[dict[str, float]]]] = {
        size: {client: [] for client in clients} for size in SIZES
    }
    for _ in range(args.rounds):
        for size, length in SIZES.items():
            url = f"{base_url}/size/{length}"
            requests = args.requests if length < 1024 * 1024 else max(200, args.requests // 4)
            for client in clients:
                samples[size][client].append(
                    _run_one(client, url, requests, args.concurrency, args.uvloop)
                )
    return {
        size: {
            client: {m: statistics.median(s[m] for s in runs) for m in METRICS}
            for client, runs in by_client.items()
        }
        for size, by_client in samples.items()
    }


def measure(server: str, args: argparse.Namespace, clients: tuple[str, ...]) -> Results:
    process, port = _start_server(server)
    try:
        return collect(f"http://127.0.0.1:{port}", args, clients)
    finally:
        process.terminate()
        process.wait(timeout=10)


# (column title, client the ratio is to, metric)
Ratio = tuple[str, str, str]
RATIOS: tuple[Ratio, ...] = (
    ("RPS vs aiohttp", "aiohttp", "rps"),
    ("CPU vs aiohttp", "aiohttp", "cpu_us"),
    ("CPU vs floor", "floor", "cpu_us"),
)


def render(title: str, results: Results, ratios: tuple[Ratio, ...] = RATIOS) -> str:
    """Return ``results`` as a markdown table, with ratios measured in the same run."""
    lines = [
        f"### {title}",
        "",
        "| body | client | RPS | P50 ms | P95 ms | P99 ms | CPU µs/req | "
        + " | ".join(label for label, _, _ in ratios)
        + " |",
        "|---|---|---:|---:|---:|---:|---:|" + "---:|" * len(ratios),
    ]
    for size, by_client in results.items():
        for client, m in by_client.items():
            cells = []
            for _, base_client, metric in ratios:
                base = by_client.get(base_client)
                cells.append(f"{m[metric] / base[metric]:.2f}×" if base else "-")
            lines.append(
                f"| {size} | {client} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p95']:.2f} "
                f"| {m['p99']:.2f} | {m['cpu_us']:.1f} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines)


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
    loop = "uvloop" if args.uvloop else "asyncio"
    print(
        f"Python {sys.version.split()[0]}, clients on {loop}, {args.requests} requests at "
        f"concurrency {args.concurrency} (1 MiB: a quarter), {args.rounds} rounds, medians\n"
    )
    print(render("Client-bound: prebuilt-response server", measure("raw", args, clients)))
    print()
    print(render("aiohttp server", measure("aiohttp", args, clients)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
