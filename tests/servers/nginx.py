"""nginx (Debian's package) on a loopback port, TLS + HTTP/2, started by the tests.

The fixture writes its own configuration into a temporary folder and runs
``nginx -g 'daemon off;'`` as a child process: nothing of the system's nginx
setup is used or touched. ``keepalive_requests`` is small so that nginx ends
connections with GOAWAY while requests are in flight.

When nginx is not installed the tests are skipped with the reason, except
under CI (``CI`` set), where ``.ci/run`` installs it and a missing nginx fails.
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

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.servers.fixtures import TLSSetup

KEEPALIVE_REQUESTS = 100
SIZES = {"200": 200, "10k": 10 * 1024, "1m": 1024 * 1024}


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


def _config(root: Path, port: int, cert: Path, key: Path) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read our files
    temp = root / "temp"
    return f"""{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    keepalive_requests {KEEPALIVE_REQUESTS};
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


def start_nginx(root: Path, cert: Path, key: Path) -> Nginx:
    """Start nginx with its own configuration under ``root`` and wait for its port."""
    binary = nginx_binary()
    assert binary is not None
    (root / "temp").mkdir(parents=True, exist_ok=True)
    www = root / "www"
    www.mkdir(exist_ok=True)
    for name, size in SIZES.items():
        (www / f"size{name}").write_bytes(b"x" * size)
    for _ in range(5):  # a free port can be taken between probing and nginx's bind
        port = _free_port()
        conf = root / "nginx.conf"
        conf.write_text(_config(root, port, cert, key))
        process = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(root), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            return Nginx(f"https://127.0.0.1:{port}", port, process)
        stop_nginx(process)
    log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
    raise RuntimeError(f"nginx did not start: {log[-2000:]}")


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


@pytest.fixture(scope="session")
def nginx(tls: TLSSetup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """Nginx serving /size200, /size10k, /size1m over TLS with HTTP/2."""
    if nginx_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed; .ci/run installs it (apt-get install nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light to run these tests)")
    root = tmp_path_factory.mktemp("nginx")
    cert = tls.ca.issue_cert("localhost", "127.0.0.1")
    cert_path, key_path = root / "cert.pem", root / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    server = start_nginx(root, cert_path, key_path)
    try:
        yield server
    finally:
        stop_nginx(server.process)
