"""Use a :class:`~hyperhttp_dns.Resolver` as aiohttp's resolver.

Importing this module needs aiohttp installed; the rest of hyperhttp-dns
does not::

    from hyperhttp_dns import Resolver
    from hyperhttp_dns.aiohttp_resolver import AiohttpResolver

    connector = aiohttp.TCPConnector(resolver=AiohttpResolver(Resolver()), use_dns_cache=False)
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult

from ._resolver import Resolver

__all__ = ["AiohttpResolver"]

_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


class AiohttpResolver(AbstractResolver):
    """aiohttp's resolver interface over a hyperhttp-dns resolver.

    Args:
        resolver: the resolver to use (a new default one when omitted).
        close_resolver: whether ``close()`` (called by aiohttp's connector)
            also closes ``resolver``; True when this adapter created it.

    """

    def __init__(
        self, resolver: Resolver | None = None, *, close_resolver: bool | None = None
    ) -> None:
        self.resolver = Resolver() if resolver is None else resolver
        self._close_resolver = resolver is None if close_resolver is None else close_resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` as aiohttp expects: a list of ResolveResult dicts."""
        addresses = await self.resolver.resolve(host, port, family)
        return [
            ResolveResult(
                hostname=host,
                host=address.host,
                port=address.port,
                family=address.family,
                proto=socket.IPPROTO_TCP,
                flags=_NUMERIC,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        """Close the wrapped resolver if this adapter owns it."""
        if self._close_resolver:
            await self.resolver.aclose()
