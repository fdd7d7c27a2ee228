"""The soak's 30-second version (CI): ``hatch run bench:soak`` is the long one.

Strategy: bench/bench_soak.py runs in its own process (so the gauges are its
own, not pytest's) for 30 seconds: one client, HTTP/1.1 and HTTP/2 over TLS
mixed, 1 % injected server-side faults, gauges sampled every second and
fitted after a 10-second warm-up. HTTP/1.1 connections turn over every 200
requests (and at every fault), so per-connection state is created and
dropped thousands of times.

The bounds are generous: 30 seconds do not reach the plateau that bounded
caches (HPACK memos, h2's record of closed streams, the URL and field-line
caches) and the allocator fill up to, which the long soak reaches after a
minute or so. RSS and the allocator's live blocks are bounded per 1 000
requests, not per minute, so a bound means the same on a fast machine and a
busy one: the warm-up costs about 20 bytes and well under 0.1 blocks a
request here, while a leaked tuple of two ints a request reads about 2 000
blocks per 1 000 requests (checked), and a leaked response far more. The
report (JSON) is checked field by field, so a failure says which gauge grew
or which request ended wrongly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Per minute, after the warm-up: generous for 20 seconds of samples.
PER_MINUTE = {"fds": 30.0, "tasks": 30.0, "connections": 30.0, "leases": 30.0, "waiters": 30.0}
# Per 1 000 requests, after the warm-up.
PER_1K = {"rss": 200.0, "blocks": 300.0}  # KiB (200 bytes a request); blocks


def test_soak_30_seconds_gauges_flat_and_every_request_as_planned(tmp_path: Path) -> None:
    report_path = tmp_path / "soak.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "bench_soak.py"),
        "--seconds=30",
        "--interval=1",
        "--warmup=10",
        "--concurrency=32",
        "--fault-rate=0.01",
        "--h1-requests=200",
        "--quiet",
        f"--json={report_path}",
        # (the per-minute verdict of the table; RSS and blocks are judged below)
        *(f"--max-{name}={bound}" for name, bound in PER_MINUTE.items()),
        "--max-rss=1e9",
        "--max-blocks=1e9",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert report_path.exists(), f"no report; stderr:\n{done.stderr[-4000:]}"
    report: dict[str, Any] = json.loads(report_path.read_text())
    table = done.stdout
    outcomes = report["outcomes"]

    # Every request ended as planned: its own response, or a typed error for a fault.
    assert outcomes["wrong"] == [], table
    assert report["requests"] >= 1000, table  # (not a speed check: a sanity floor)
    assert outcomes["by_protocol"]["h1"] > 0, table
    assert outcomes["by_protocol"]["h2"] > 0, table
    assert outcomes["fault_errors"] > 0, table  # faults were injected and surfaced typed
    # Resets and truncations are the peer breaking HTTP; the slow ones time out.
    assert set(outcomes["errors"]) <= {"RemoteProtocolError", "ReadTimeout"}, table

    # Flat after the warm-up: each gauge's slope within its bound, and never far
    # above what 32 workers need (a connection each, a task each).
    gauges = {gauge["gauge"]: gauge for gauge in report["gauges"]}
    for name, bound in PER_MINUTE.items():
        assert gauges[name]["slope"] <= bound, table
    for name, bound in PER_1K.items():
        assert gauges[name]["per_1k"] <= bound, table
    assert gauges["connections"]["max"] <= 32 + 4, table
    assert gauges["leases"]["max"] <= 32, table
    assert gauges["tasks"]["max"] <= 32 + 8, table
    assert gauges["fds"]["max"] <= gauges["connections"]["max"] + 16, table

    # Quiet at the end, served one more request per protocol, and back to baseline.
    after = report["after"]
    assert (after["leases"], after["waiters"]) == (0, 0), table
    assert after["served_after"], table
    assert after["fds_after_close"] <= 0, table
    assert after["tasks_after_close"] <= 0, table
    assert report["failed"] == [], table
    assert done.returncode == 0, table + done.stderr[-4000:]
