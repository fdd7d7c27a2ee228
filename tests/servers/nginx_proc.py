"""Start and stop nginx (Debian's package) on a loopback port with TLS + HTTP/2.

Used by the test fixture (tests/servers/nginx.py) and the HTTP/2 benchmark.
It writes its own configuration into a folder of the caller's and runs
``nginx -g 'daemon off;'`` as a child process: nothing of the system's nginx
setup is used or touched. Files served: ``/size/N`` for N in ``SIZES``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

KEEPALIVE_REQUESTS = 100  # the tests' value: GOAWAYs come while requests are in flight
SIZES = (200, 10 * 1024, 1024 * 1024)


@dataclass
class Nginx:
    """A running nginx: its https URL and port."""

    url: str
    port: int
    process: subprocess.Popen[bytes]


def nginx_binary() -> str | None:
    """Return nginx's path (it lives in /usr/sbin, often not on a user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http_preamble(root: Path, *, log_level: str = "warn", worker_connections: int = 1024) -> str:
    """Return a configuration up to its open ``http {`` block, every path under ``root``.

    Callers append their ``http``-level directives and ``server`` blocks and
    close the block: nothing of the system's nginx setup is read or written.
    """
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read our files
    temp = root / "temp"
    return f"""{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log {log_level};
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
"""


def _config(root: Path, port: int, cert: Path, key: Path, keepalive_requests: int) -> str:
    return (
        http_preamble(root)
        + f"""    keepalive_requests {keepalive_requests};
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        root {root}/www;
        location / {{ }}
    }}
}}
"""
    )


def launch(
    root: Path, config: Callable[[list[int]], str], ports: int = 1
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Run nginx on ``ports`` free loopback ports with ``config(ports)``; wait until all answer.

    A probed port can be taken before nginx binds it: up to five tries, each
    with new ports. Raises RuntimeError with the end of nginx's error log.
    """
    binary = nginx_binary()
    assert binary is not None
    (root / "temp").mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        chosen = [_free_port() for _ in range(ports)]
        conf = root / "nginx.conf"
        conf.write_text(config(chosen))
        process = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(root), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            try:
                for port in chosen:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            return process, chosen
        stop_nginx(process)
    log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
    raise RuntimeError(f"nginx did not start: {log[-2000:]}")


def start_nginx(
    root: Path, cert: Path, key: Path, *, keepalive_requests: int = KEEPALIVE_REQUESTS
) -> Nginx:
    """Start nginx with its own configuration under ``root`` and wait for its port.

    ``keepalive_requests``: requests per connection before nginx ends it
    (GOAWAY on HTTP/2); small for the tests, large for benchmarks.
    """
    www = root / "www" / "size"
    www.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        (www / str(size)).write_bytes(b"x" * size)
    process, (port,) = launch(
        root, lambda ports: _config(root, ports[0], cert, key, keepalive_requests)
    )
    return Nginx(f"https://127.0.0.1:{port}", port, process)


def stop_nginx(process: subprocess.Popen[bytes]) -> None:
    """Stop the nginx we started (its master, by PID; workers follow it)."""
    if process.poll() is None:
        process.send_signal(signal.SIGQUIT)  # graceful: workers finish and exit
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if process.stderr is not None:
        process.stderr.close()
