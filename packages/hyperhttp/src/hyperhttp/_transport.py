"""Opening connections: resolve, race (Happy Eyeballs), TLS, and map the errors."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from typing import TYPE_CHECKING

import hyperhttp_dns

from ._exceptions import ConnectError, ConnectTimeout
from ._http11 import HTTP11Connection

if TYPE_CHECKING:
    from ._tracing import Tracer

__all__ = ["connect_origin"]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def connect_origin(
    origin: tuple[str, str, int],
    resolver: hyperhttp_dns.Resolver,
    context: ssl.SSLContext | None,
    timeout: float | None,
    tracer: Tracer | None,
) -> HTTP11Connection:
    """Open an HTTP/1.1 connection to ``origin`` (TLS for https).

    Raises:
        ConnectTimeout: not within ``timeout`` (resolution, connect and TLS together).
        ConnectError: resolution failed, every address refused, or TLS failed.

    """
    scheme, host, port = origin
    loop = asyncio.get_running_loop()
    tls = context if scheme == "https" else None
    try:
        async with asyncio.timeout(timeout):
            if tracer is not None:
                tracer("dns.start", {"host": host})
            addresses = await resolver.resolve(host, port)
            if tracer is not None:
                tracer("dns.end", {"host": host, "addresses": [str(a) for a in addresses]})
                tracer("connect.start", {"origin": origin})
            _, connection = await hyperhttp_dns.connect(
                addresses,
                lambda: HTTP11Connection(loop),
                ssl=tls,
                server_hostname=host if tls is not None else None,
            )
            if tracer is not None:
                tracer("connect.end", {"origin": origin})
    except TimeoutError as exc:
        raise ConnectTimeout(f"no connection to {host}:{port} within {timeout:g} s") from exc
    except ssl.SSLCertVerificationError as exc:
        raise ConnectError(f"TLS certificate of {host}:{port} rejected: {exc}") from exc
    except (OSError, ssl.SSLError) as exc:
        raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
    return connection
