"""hyperhttp-pool: a fair, O(1), cancellation-safe async connection pool keyed by origin."""

from __future__ import annotations

from .__about__ import __version__
from ._errors import PoolClosed, PoolError, PoolStats, PoolTimeout
from ._pool import Lease, Leasing, Pool, TimedConnect
from ._state import ConnectionRecord, PoolConnection, PoolState, Waiter, WaiterState

__all__ = [
    "ConnectionRecord",
    "Lease",
    "Leasing",
    "Pool",
    "PoolClosed",
    "PoolConnection",
    "PoolError",
    "PoolState",
    "PoolStats",
    "PoolTimeout",
    "TimedConnect",
    "Waiter",
    "WaiterState",
    "__version__",
]
