"""Timeout and Limits: small value objects, validated when built."""

from __future__ import annotations

import warnings
from typing import Any, Literal

from ._exceptions import InsecureRequestWarning

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_DECOMPRESSED",
    "DEFAULT_TIMEOUT",
    "Limits",
    "Timeout",
    "check_client_options",
    "idle_connections_cap",
]

_UNSET: Any = object()


def _seconds(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds or None, not {value!r}")
    if not value > 0:  # also rejects NaN
        raise ValueError(f"{name} must be > 0 seconds, got {value}")
    return float(value)


class Timeout:
    """Timeouts per phase, in seconds; None disables one.

    ``Timeout(5.0)`` sets connect, read, write and pool to 5 s (total stays
    None); keywords override single phases. ``total`` bounds the whole
    request including the wait for a pooled connection.
    """

    __slots__ = ("connect", "pool", "read", "total", "write")

    def __init__(
        self,
        timeout: float | None = _UNSET,
        *,
        connect: float | None = _UNSET,
        read: float | None = _UNSET,
        write: float | None = _UNSET,
        pool: float | None = _UNSET,
        total: float | None = None,
    ) -> None:
        if isinstance(timeout, Timeout):
            raise TypeError("use the Timeout itself, not Timeout(Timeout(...))")
        if timeout is _UNSET:
            defaults: tuple[float | None, ...] = (10.0, 30.0, 30.0, 10.0)
        else:
            seconds = _seconds("timeout", timeout)
            defaults = (seconds, seconds, seconds, seconds)
        self.connect = _seconds("connect", defaults[0] if connect is _UNSET else connect)
        self.read = _seconds("read", defaults[1] if read is _UNSET else read)
        self.write = _seconds("write", defaults[2] if write is _UNSET else write)
        self.pool = _seconds("pool", defaults[3] if pool is _UNSET else pool)
        self.total = _seconds("total", total)

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        """Return ``value`` as a Timeout (a number sets every phase; None disables them)."""
        if isinstance(value, Timeout):
            return value
        return cls(value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timeout):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self) -> str:
        return (
            f"Timeout(connect={self.connect}, read={self.read}, write={self.write}, "
            f"pool={self.pool}, total={self.total})"
        )


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


class Limits:
    """Connection pool limits (see hyperhttp-pool).

    Defaults, each chosen so a user who changes nothing is not throttled
    (docs/performance.md, "Defaults"):

    - ``max_connections=100``: the cap on connections in use or being
      opened (aiohttp's ``limit``, counted the same way); idle ones do not
      count against it;
    - ``max_connections_per_host=None``: no per-host cap below the global
      one. A cap of 10 held one origin with a 20 ms service time to 500
      requests a second on any machine; set one to be polite to a host;
    - ``max_idle_connections="auto"``: idle connections kept for reuse,
      across hosts, the least recently used closed past the cap: 1 000 or
      ``max_connections``, whichever is more, but no more than half the
      process's soft ``RLIMIT_NOFILE`` (at least 10): 512 at the common
      limit of 1 024. None: no cap (``keepalive_expiry`` alone); 0: keep
      none;
    - ``keepalive_expiry=60.0``: idle connections are kept a minute (servers
      usually close sooner; a connection they closed is detected when it is
      taken and the request replayed once);
    - ``max_requests_per_connection`` and ``max_connection_lifetime``: None.
    """

    __slots__ = (
        "keepalive_expiry",
        "max_connection_lifetime",
        "max_connections",
        "max_connections_per_host",
        "max_idle_connections",
        "max_requests_per_connection",
    )

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_connections_per_host: int | None = None,
        keepalive_expiry: float | None = 60.0,
        max_requests_per_connection: int | None = None,
        max_connection_lifetime: float | None = None,
        max_idle_connections: int | Literal["auto"] | None = "auto",
    ) -> None:
        self.max_connections = _count("max_connections", max_connections)
        self.max_connections_per_host = (
            None
            if max_connections_per_host is None
            else _count("max_connections_per_host", max_connections_per_host)
        )
        self.keepalive_expiry = _seconds("keepalive_expiry", keepalive_expiry)
        self.max_requests_per_connection = (
            None
            if max_requests_per_connection is None
            else _count("max_requests_per_connection", max_requests_per_connection)
        )
        self.max_connection_lifetime = _seconds("max_connection_lifetime", max_connection_lifetime)
        if max_idle_connections is None or max_idle_connections == "auto":
            self.max_idle_connections: int | Literal["auto"] | None = max_idle_connections
        elif isinstance(max_idle_connections, bool) or not isinstance(max_idle_connections, int):
            raise TypeError(
                f"max_idle_connections must be an int, 'auto' or None, not {max_idle_connections!r}"
            )
        elif max_idle_connections < 0:
            raise ValueError(f"max_idle_connections must be >= 0, got {max_idle_connections}")
        else:
            self.max_idle_connections = max_idle_connections

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Limits):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in sorted(self.__slots__))
        return f"Limits({fields})"


def idle_connections_cap(limits: Limits) -> int | None:
    """Return the idle-connection cap ``limits`` means; "auto" is resolved now.

    "auto": 1 000 or ``max_connections``, whichever is more (a pool busy
    at its cap keeps its connections when it quiets down), but at most half
    the soft ``RLIMIT_NOFILE`` (at least 10). Resolved when a client is
    built, so a process that raises its limit first gets more.
    """
    value = limits.max_idle_connections
    if value != "auto":
        return value
    cap = max(1000, limits.max_connections)
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # no such limit here (Windows)
        return cap
    if soft == resource.RLIM_INFINITY:
        return cap
    return max(10, min(cap, soft // 2))


DEFAULT_TIMEOUT = Timeout()
DEFAULT_LIMITS = Limits()
# What a decoder may produce per response unless the client says otherwise: a
# compressed body can expand a thousandfold (a "zip bomb").
DEFAULT_MAX_DECOMPRESSED = 64 * 1024 * 1024


def check_client_options(
    limits: object,
    http1: bool,
    http2: bool,
    sizes: tuple[int | None, int | None],
    windows: tuple[int, int],
    transport: object = None,
    verify: object = True,
) -> None:
    """Check the ``Client`` arguments no other object checks; raise on the first bad one.

    ``sizes``: ``max_response_size`` and ``max_decompressed_size`` (a
    non-negative int or None); ``windows``: ``http2_stream_window`` and
    ``http2_connection_window`` (65 535 to 2**31 - 1, RFC 9113 §6.9.1 and
    §6.5.2); ``transport``: a mock, ASGI or WSGI transport, or None; ``verify=False`` warns
    (``InsecureRequestWarning``, at the caller's caller).
    """
    if verify is False:
        warnings.warn(
            "verify=False: TLS certificates are not checked; anyone on the path can read"
            " and change this client's https traffic",
            InsecureRequestWarning,
            stacklevel=3,
        )
    if (
        transport is not None
        and not hasattr(transport, "handle")
        and not hasattr(transport, "_network")
    ):
        raise TypeError(
            "transport must be a hyperhttp.MockTransport, ASGITransport or WSGITransport,"
            f" not {type(transport).__name__}"
        )
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a hyperhttp.Limits, not {type(limits).__name__}")
    if not http1 and not http2:
        raise ValueError("http1=False needs http2=True: no protocol left to speak")
    for name, value in zip(("max_response_size", "max_decompressed_size"), sizes, strict=True):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int or None, not {value!r}")
    names = ("http2_stream_window", "http2_connection_window")
    for name, window in zip(names, windows, strict=True):
        if isinstance(window, bool) or not isinstance(window, int) or not 65535 <= window < 2**31:
            raise ValueError(f"{name} must be an int from 65535 to 2**31-1, not {window!r}")
