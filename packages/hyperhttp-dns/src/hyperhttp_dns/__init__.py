"""hyperhttp-dns: async resolver with a bounded-TTL cache and RFC 8305 Happy Eyeballs connect."""

from __future__ import annotations

from .__about__ import __version__
from ._cache import Address, Answer, CacheEntry, CacheStatus, DNSCache
from ._errors import ConnectError, DNSError, ResolveError
from ._happy_eyeballs import DEFAULT_ATTEMPT_DELAY, connect, interleave, open_tcp_socket
from ._resolver import Backend, GetaddrinfoBackend, Resolver
from ._tls import start_tls

__all__ = [
    "DEFAULT_ATTEMPT_DELAY",
    "Address",
    "Answer",
    "Backend",
    "CacheEntry",
    "CacheStatus",
    "ConnectError",
    "DNSCache",
    "DNSError",
    "GetaddrinfoBackend",
    "ResolveError",
    "Resolver",
    "__version__",
    "connect",
    "interleave",
    "open_tcp_socket",
    "start_tls",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith(__name__ + "._"):
        _obj.__module__ = __name__
del _name, _obj
