"""Soak: one client, a million requests over HTTP/1.1 and HTTP/2 with faults; gauges stay flat.

Strategy
--------
The servers run in their own process (bench/_soak_server.py: a raw
HTTP/1.1 server and an HTTP/2-over-TLS server that turn connections over as
real servers do), so every gauge read here is the client's. One
``hyperhttp.Client`` sends ``--requests`` requests (or runs ``--seconds``)
from ``--concurrency`` workers. Each request is drawn, in order, from one
seeded RNG (``--seed``; the same seed replays the same requests): protocol,
method and body kind (GET, HEAD, POST of bytes or of a stream), response
size, how it is read (whole, streamed, abandoned after the first chunk), and
about ``--fault-rate`` of them a server-side fault (reset mid-response,
truncated body, a response slower than the request's read timeout, a 503).

Every request must end as planned: a correct response carrying its own id
(the body is derived from the id; ``x-id``/``x-path-id``/``x-got``/``x-crc``
echo the request), or, for a fault, a typed ``hyperhttp.HTTPError``. Anything
else (a wrong response, an untyped exception, a request outliving its
timeouts, an error without a fault) is counted and fails the run.

Every ``--interval`` seconds the sampler records the gauges: RSS (VmRSS of
/proc/self/status), open fds (/proc/self/fd), live asyncio tasks and the
pool's gauges (``client.pool_stats()``: connections, leases, waiters), each
the mean of readings every 0.1 s over the interval (one reading swings with
the workers), and the allocator's live blocks (``sys.getallocatedblocks()``:
every Python object, not only the GC's containers) right after a full
collection, so garbage in reference cycles does not count as alive. After
``--warmup`` seconds a least-squares line is fitted to each gauge over time:
its slope per minute is the verdict against the threshold (``--max-rss``
...); the slope per 1 000 requests is shown too (growth per unit of work,
the same on a fast or a busy machine). At the end the pool must hold no
lease or waiter and serve one more request per protocol, and after
``aclose()`` fds and tasks must be back to their baseline.

Run: ``hatch run bench:soak`` (1 000 000 requests), ``--seconds 300``,
``--json PATH`` to keep the figures; the exit status is non-zero if any
gauge grows or any request ended wrongly. tests/test_soak.py runs 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

import hyperhttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _soak_server import body  # noqa: E402

FAULTS = ("reset", "truncate", "slow", "503")
# Response sizes (bytes) and their weights: mostly small, some larger ones.
SIZES = ((200, 80), (8 * 1024, 15), (128 * 1024, 5))
# (gauge, unit, default threshold per minute): a slope above it fails the run.
GAUGES: tuple[tuple[str, str, float], ...] = (
    ("rss", "KiB", 1024.0),
    ("fds", "fds", 2.0),
    ("tasks", "tasks", 2.0),
    ("blocks", "blocks", 2000.0),
    ("connections", "conns", 2.0),
    ("leases", "leases", 2.0),
    ("waiters", "waiters", 2.0),
)


@dataclass(slots=True)
class Plan:
    """One request as drawn from the RNG."""

    index: int
    protocol: str  # "h1" | "h2"
    method: str
    upload: str  # "" | "bytes" | "stream"
    upload_size: int
    size: int
    read: str  # "whole" | "stream" | "abandon"
    fault: str  # "ok" or one of FAULTS


def plans(seed: int, fault_rate: float) -> Iterator[Plan]:
    """Yield the run's requests in order: the same seed, the same requests."""
    rng = random.Random(seed)
    sizes, weights = zip(*SIZES, strict=True)
    index = 0
    while True:
        index += 1
        roll = rng.random()
        method, upload = "GET", ""
        if roll < 0.20:
            method, upload = "POST", "bytes"
        elif roll < 0.25:
            method, upload = "POST", "stream"
        elif roll < 0.30:
            method = "HEAD"
        read = "whole"
        roll = rng.random()
        if method != "HEAD" and roll < 0.10:
            read = "stream" if roll < 0.07 else "abandon"
        fault = rng.choice(FAULTS) if rng.random() < fault_rate else "ok"
        if method == "HEAD" and fault in ("reset", "truncate"):
            fault = "ok"  # a HEAD response has no body to cut
        yield Plan(
            index=index,
            protocol="h2" if rng.random() < 0.5 else "h1",
            method=method,
            upload=upload,
            upload_size=rng.randint(1, 16 * 1024) if upload else 0,
            size=rng.choices(sizes, weights)[0],
            read=read,
            fault=fault,
        )


@dataclass
class Outcomes:
    """How the requests ended."""

    ok: int = 0  # a correct response (a 503 where one was injected counts here)
    fault_errors: int = 0  # a typed error where a fault was injected
    by_protocol: dict[str, int] = field(default_factory=lambda: {"h1": 0, "h2": 0})
    errors: dict[str, int] = field(default_factory=dict)  # error type -> count (faults)
    wrong: list[str] = field(default_factory=list)  # anything that must not happen

    def fail(self, plan: Plan, what: str) -> None:
        if len(self.wrong) < 50:
            self.wrong.append(f"#{plan.index} {plan}: {what}")
        else:
            self.wrong.append("...")
            del self.wrong[50:-1]


# ---------------------------------------------------------------- gauges


def rss_kib() -> int:
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def gauges_now(client: hyperhttp.Client) -> dict[str, float]:
    """Read the cheap gauges (tens of microseconds): read many times per interval."""
    stats = client.pool_stats()
    return {
        "rss": rss_kib(),
        "fds": fd_count(),
        "tasks": len(asyncio.all_tasks()),
        "connections": stats.connections,
        "leases": stats.leases,
        "waiters": stats.waiters,
    }


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points: y per unit of x."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var


# ---------------------------------------------------------------- requests


async def _chunks(size: int, seed: int) -> AsyncIterator[bytes]:
    data = body(seed, size)
    step = max(1, size // 3)
    for at in range(0, size, step):
        await asyncio.sleep(0)
        yield data[at : at + step]


class Soak:
    """One run: the client, the workers, the sampler and the verdict."""

    def __init__(self, args: argparse.Namespace, urls: dict[str, str], ca: str) -> None:
        self.args = args
        self.urls = urls
        self.ca = ca
        self.outcomes = Outcomes()
        self.samples: list[dict[str, float]] = []
        self.done = 0
        self.plans = plans(args.seed, args.fault_rate)
        self.normal = hyperhttp.Timeout(10.0)
        # The slow fault answers after --slow seconds: the read timeout is well before.
        self.short = hyperhttp.Timeout(10.0, read=args.slow / 4)
        self.deadline = 0.0
        self.limit: int | None = args.requests
        self.inflight = 0
        self.winding_down = False
        self.traced: tracemalloc.Snapshot | None = None

    def _next(self) -> Plan | None:
        if (self.limit is not None and self.done + self.inflight >= self.limit) or (
            self.deadline and time.monotonic() >= self.deadline
        ):
            self.winding_down = True  # samples from now on are not the steady state
            return None
        self.inflight += 1
        return next(self.plans)

    async def run(self) -> dict[str, Any]:
        args = self.args
        baseline_fds, baseline_tasks = fd_count(), len(asyncio.all_tasks())
        limits = hyperhttp.Limits(
            max_connections=args.concurrency * 2, max_connections_per_host=args.concurrency
        )
        client = hyperhttp.Client(
            verify=self.ca, limits=limits, timeout=self.normal, follow_redirects=False
        )
        started = time.monotonic()
        if args.seconds is not None:
            self.deadline = started + args.seconds
        stop = asyncio.Event()
        sampler = asyncio.create_task(self._sampler(client, started, stop))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(args.concurrency):
                    group.create_task(self._worker(client))
        finally:
            stop.set()
            await sampler
        elapsed = time.monotonic() - started
        if self.traced is not None:  # where memory grew after the warm-up
            stats = tracemalloc.take_snapshot().compare_to(self.traced, "traceback")
            tracemalloc.stop()
            print("memory grown after the warm-up, largest first (tracemalloc):")
            for stat in stats[:10]:
                print(f"  {stat.size_diff / 1024:+,.1f} KiB in {stat.count_diff:+,} blocks")
                for line in stat.traceback.format()[-2 * args.trace_memory :]:
                    print("    " + line)
        # Quiet now: the pool holds nothing, and still serves both protocols.
        end_stats = client.pool_stats()
        after: dict[str, Any] = {"leases": end_stats.leases, "waiters": end_stats.waiters}
        ok_before = self.outcomes.ok
        for protocol in ("h1", "h2"):
            self.inflight += 1
            await self._one(client, Plan(0, protocol, "GET", "", 0, 200, "whole", "ok"))
        after["served_after"] = self.outcomes.ok - ok_before == 2
        await client.aclose()
        for _ in range(3):
            await asyncio.sleep(0)
        after["fds_after_close"] = fd_count() - baseline_fds
        after["tasks_after_close"] = len(asyncio.all_tasks()) - baseline_tasks
        return self._report(elapsed, after)

    async def _worker(self, client: hyperhttp.Client) -> None:
        while (plan := self._next()) is not None:
            await self._one(client, plan)

    async def _sampler(self, client: hyperhttp.Client, started: float, stop: asyncio.Event) -> None:
        """Every ``interval``: the mean of the gauges read every 0.1 s.

        A mean over the interval, not one reading: how many leases or
        connections are out at one instant swings with the workers; its
        average over seconds is what can grow.
        """
        args = self.args
        tick = min(0.1, args.interval)
        while not stop.is_set():
            sums: dict[str, float] = {}
            readings = 0
            end = time.monotonic() + args.interval
            while time.monotonic() < end and not stop.is_set():
                for name, value in gauges_now(client).items():
                    sums[name] = sums.get(name, 0.0) + value
                readings += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(tick):
                        await stop.wait()
            if self.winding_down or stop.is_set():
                return  # the last, partial interval is not the steady state
            row = {name: total / readings for name, total in sums.items()}
            # Every object the allocator holds, not only the GC's containers (a
            # leaked bytes or tuple of ints counts too), once the garbage in
            # cycles is gone: what is left is alive.
            gc.collect()
            row |= {
                "t": time.monotonic() - started,
                "requests": self.done,
                "blocks": sys.getallocatedblocks(),
            }
            self.samples.append(row)
            tracing = tracemalloc.is_tracing()
            if args.trace_memory and not tracing and row["t"] >= args.warmup:
                tracemalloc.start(args.trace_memory)
                self.traced = tracemalloc.take_snapshot()
            if not args.quiet:
                previous = self.samples[-2] if len(self.samples) > 1 else {"t": 0, "requests": 0}
                rate = (row["requests"] - previous["requests"]) / (row["t"] - previous["t"])
                print(
                    f"{row['t']:7.0f} s {row['requests']:>9,.0f} req {rate:7,.0f}/s"
                    f"  rss {row['rss']:,.0f} KiB  fds {row['fds']:.1f}  tasks {row['tasks']:.1f}"
                    f"  blocks {row['blocks']:,}  conns {row['connections']:.1f}"
                    f"  leases {row['leases']:.1f}  waiters {row['waiters']:.1f}",
                    flush=True,
                )

    async def _one(self, client: hyperhttp.Client, plan: Plan) -> None:
        guard = asyncio.timeout(self.args.hang)
        try:
            async with guard:
                await self._request(client, plan)
        except TimeoutError as exc:
            if guard.expired():
                self.outcomes.fail(plan, f"still running after {self.args.hang} s")
            elif isinstance(exc, hyperhttp.HTTPError):
                self._typed(plan, exc)
            else:
                self.outcomes.fail(plan, f"untyped {type(exc).__name__}: {exc!r}")
        except hyperhttp.HTTPError as exc:
            self._typed(plan, exc)
        except Exception as exc:  # every other exception is a finding
            self.outcomes.fail(plan, f"untyped {type(exc).__name__}: {exc!r}")
        finally:
            self.inflight -= 1
            self.done += 1
            self.outcomes.by_protocol[plan.protocol] += 1

    def _typed(self, plan: Plan, exc: hyperhttp.HTTPError) -> None:
        if plan.fault in ("reset", "truncate", "slow"):
            self.outcomes.fault_errors += 1
            name = type(exc).__name__
            self.outcomes.errors[name] = self.outcomes.errors.get(name, 0) + 1
        else:
            self.outcomes.fail(plan, f"{type(exc).__name__}: {exc} (no fault injected)")

    async def _request(self, client: hyperhttp.Client, plan: Plan) -> None:
        url = f"{self.urls[plan.protocol]}/{plan.fault}/{plan.size}/{plan.index}"
        content: bytes | AsyncIterator[bytes] | None = None
        expected_crc = 0
        if plan.upload:
            upload = body(plan.index + 7, plan.upload_size)
            expected_crc = zlib.crc32(upload)
            content = (
                upload if plan.upload == "bytes" else _chunks(plan.upload_size, plan.index + 7)
            )
        timeout = self.short if plan.fault == "slow" else self.normal
        headers = {"x-id": str(plan.index)}
        async with client.stream(
            plan.method, url, headers=headers, content=content, timeout=timeout
        ) as response:
            received = b""
            if plan.read == "abandon":
                async for _ in response.aiter_bytes():
                    break
            elif plan.read == "stream":
                parts = [part async for part in response.aiter_bytes()]
                received = b"".join(parts)
            else:
                received = await response.aread()
            problems = []
            want_version = "HTTP/2" if plan.protocol == "h2" else "HTTP/1.1"
            if response.http_version != want_version:
                problems.append(f"version {response.http_version}")
            if response.headers.get("x-id") != str(plan.index):
                problems.append(f"x-id {response.headers.get('x-id')}")
            if response.headers.get("x-path-id") != str(plan.index):
                problems.append(f"x-path-id {response.headers.get('x-path-id')}")
            if plan.upload and (
                response.headers.get("x-got") != str(plan.upload_size)
                or response.headers.get("x-crc") != str(expected_crc)
            ):
                problems.append("upload did not arrive whole")
            if plan.fault == "503":
                if response.status_code != 503:
                    problems.append(f"status {response.status_code}, not 503")
            elif plan.fault != "ok":
                if plan.read != "abandon":  # (abandoned before the cut: nothing to see)
                    problems.append(f"no error for a {plan.fault} fault ({len(received)} bytes)")
            elif response.status_code != 200:
                problems.append(f"status {response.status_code}")
            elif plan.read != "abandon":
                expected = b"" if plan.method == "HEAD" else body(plan.index, plan.size)
                if received != expected:
                    problems.append(f"body of {len(received)} bytes is not the request's own")
        if problems:
            self.outcomes.fail(plan, "; ".join(problems))
        else:
            self.outcomes.ok += 1

    # ------------------------------------------------------------ verdict

    def _report(self, elapsed: float, after: dict[str, Any]) -> dict[str, Any]:
        args = self.args
        kept = [s for s in self.samples if s["t"] >= args.warmup]
        thresholds = {name: getattr(args, f"max_{name}", default) for name, _, default in GAUGES}
        gauges = []
        failed = []
        for name, unit, _ in GAUGES:
            row: dict[str, Any] = {"gauge": name, "unit": unit, "threshold": thresholds[name]}
            if len(kept) >= 3:
                values = [s[name] for s in kept]
                row |= {
                    "first": values[0],
                    "last": values[-1],
                    "min": min(values),
                    "max": max(values),
                    "slope": 60.0 * slope([(s["t"], s[name]) for s in kept]),
                    # The same per 1 000 requests: growth that follows the work
                    # done (a leak per request) reads the same on any machine.
                    "per_1k": 1000.0 * slope([(s["requests"], s[name]) for s in kept]),
                }
                row["ok"] = row["slope"] <= thresholds[name]
            else:
                row["ok"] = False
                row["slope"] = float("nan")
            if not row["ok"]:
                failed.append(f"{name} grows {row['slope']:.1f} {unit}/min")
            gauges.append(row)
        if len(kept) < 3:
            failed.append(f"only {len(kept)} samples after the {args.warmup} s warm-up")
        out = self.outcomes
        if out.wrong:
            failed.append(f"{len(out.wrong)} requests ended wrongly")
        if not after["served_after"]:
            failed.append("the pool did not serve a request per protocol at the end")
        if after["leases"] or after["waiters"]:
            failed.append(f"pool not quiet at the end: {after}")
        if after["fds_after_close"] > 0 or after["tasks_after_close"] > 0:
            failed.append(f"not back to baseline after aclose(): {after}")
        return {
            "python": sys.version.split()[0],
            "loop": args.loop,
            "seed": args.seed,
            "requests": self.done,
            "seconds": elapsed,
            "rps": self.done / elapsed if elapsed else 0.0,
            "outcomes": asdict(out),
            "gauges": gauges,
            "after": after,
            "samples": self.samples,
            "failed": failed,
        }


def render(report: dict[str, Any]) -> str:
    """Return the report as a small markdown table and a verdict."""
    out = report["outcomes"]
    lines = [
        (
            f"Python {report['python']} on {report['loop']}, seed {report['seed']}: "
            f"{report['requests']:,} requests in {report['seconds']:.0f} s "
            f"({report['rps']:,.0f}/s; HTTP/1.1 {out['by_protocol']['h1']:,}, "
            f"HTTP/2 {out['by_protocol']['h2']:,})"
        ),
        (
            f"outcomes: {out['ok']:,} correct responses (injected 503s included), "
            f"{out['fault_errors']:,} typed errors for injected faults {out['errors']}, "
            f"{len(out['wrong'])} wrong"
        ),
        "",
        "| gauge | first | last | min | max | slope / min | per 1k req | threshold | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for g in report["gauges"]:
        if "first" not in g:
            lines.append(f"| {g['gauge']} |{' - |' * 6} {g['threshold']:g} | too short |")
            continue
        lines.append(
            f"| {g['gauge']} ({g['unit']}) | {g['first']:,.0f} | {g['last']:,.0f} | "
            f"{g['min']:,.0f} | {g['max']:,.0f} | {g['slope']:+,.1f} | {g['per_1k']:+,.2f} | "
            f"{g['threshold']:g} | "
            f"{'flat' if g['ok'] else 'GROWS'} |"
        )
    after = report["after"]
    lines.append("")
    lines.append(
        f"at the end: leases {after['leases']}, waiters {after['waiters']}; after aclose(): "
        f"fds {after['fds_after_close']:+d}, tasks {after['tasks_after_close']:+d} vs baseline"
    )
    lines.extend(f"wrong: {w}" for w in out["wrong"][:20])
    failed = report["failed"]
    lines.append("verdict: " + ("FAIL: " + "; ".join(failed) if failed else "PASS"))
    return "\n".join(lines)


@contextlib.contextmanager
def servers(args: argparse.Namespace) -> Iterator[tuple[dict[str, str], str]]:
    """Start bench/_soak_server.py; yield the URLs and the CA file."""
    import trustme

    with tempfile.TemporaryDirectory(prefix="hyperhttp-soak-") as folder:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        paths = {name: os.path.join(folder, f"{name}.pem") for name in ("ca", "cert", "key")}
        ca.cert_pem.write_to_path(paths["ca"])
        cert.private_key_pem.write_to_path(paths["key"])
        with open(paths["cert"], "wb") as chain:
            for pem in cert.cert_chain_pems:
                chain.write(pem.bytes())
        command = [
            sys.executable,
            str(HERE / "_soak_server.py"),
            paths["cert"],
            paths["key"],
            f"--slow={args.slow}",
            f"--h1-requests={args.h1_requests}",
            f"--h2-streams={args.h2_streams}",
        ]
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().split()
            if len(line) != 2:
                raise SystemExit(f"the soak server did not start: {line!r}")
            urls = {"h1": f"http://127.0.0.1:{line[0]}", "h2": f"https://127.0.0.1:{line[1]}"}
            yield urls, paths["ca"]
        finally:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            process.stdout.close()  # type: ignore[union-attr]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=None, help="default 1 000 000")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--fault-rate", type=float, default=0.01)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds not fitted")
    parser.add_argument("--slow", type=float, default=2.0, help="the slow fault's delay (s)")
    parser.add_argument("--hang", type=float, default=30.0, help="a request still running: wrong")
    parser.add_argument("--h1-requests", type=int, default=1000, help="per HTTP/1.1 connection")
    parser.add_argument("--h2-streams", type=int, default=10_000, help="per HTTP/2 connection")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--json", help="write the report (with every sample) here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--trace-memory",
        type=int,
        default=0,
        metavar="FRAMES",
        help="diagnose: tracemalloc after the warm-up, show where memory grew (slow)",
    )
    for name, unit, default in GAUGES:
        parser.add_argument(
            f"--max-{name}", type=float, default=default, help=f"{unit}/min allowed ({default:g})"
        )
    args = parser.parse_args(argv)
    if args.requests is None and args.seconds is None:
        args.requests = 1_000_000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with servers(args) as (urls, ca):
        soak = Soak(args, urls, ca)
        if args.loop == "uvloop":
            import uvloop

            report = uvloop.run(soak.run())
        else:
            report = asyncio.run(soak.run())
    print(render(report), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
