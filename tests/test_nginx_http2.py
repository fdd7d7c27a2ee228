"""HTTP/2 against nginx (Debian's package, started by the fixture): GOAWAY under load."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import hyperhttp
import pytest

from tests.servers.nginx_proc import KEEPALIVE_REQUESTS

if TYPE_CHECKING:
    from tests.servers.fixtures import TLSSetup
    from tests.servers.nginx_proc import Nginx

pytestmark = pytest.mark.asyncio


async def test_1000_requests_at_concurrency_50_through_goaways(tls: TLSSetup, nginx: Nginx) -> None:
    """Nginx ends each connection with GOAWAY after 100 requests: all 1 000 succeed."""
    total, concurrency = 1000, 50
    opened = 0

    def trace(name: str, info: object) -> None:
        nonlocal opened
        if name == "connect.end":
            opened += 1

    async with hyperhttp.Client(verify=tls.ca_path, trace=trace) as client:
        versions: set[str] = set()
        done = 0

        async def worker() -> None:
            nonlocal done
            for _ in range(total // concurrency):
                r = await client.get(f"{nginx.url}/size/200")
                assert r.status_code == 200
                assert len(r.content) == 200
                versions.add(r.http_version)
                done += 1

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 120)
    assert done == total
    assert versions == {"HTTP/2"}
    # nginx closed a connection every KEEPALIVE_REQUESTS requests: the client moved on.
    assert opened >= total // KEEPALIVE_REQUESTS


async def test_bodies_of_each_size(tls: TLSSetup, nginx: Nginx) -> None:
    """200 B, 10 KiB and 1 MiB over one HTTP/2 connection, and over HTTP/1.1 with TLS."""
    for http2 in (True, False):
        async with hyperhttp.Client(verify=tls.ca_path, http2=http2) as client:
            for size in (200, 10240, 1024 * 1024):
                r = await client.get(f"{nginx.url}/size/{size}")
                assert r.content == b"x" * size
                assert r.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
