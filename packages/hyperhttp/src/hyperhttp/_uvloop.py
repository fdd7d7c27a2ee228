"""``hyperhttp.install_uvloop()``: uvloop's event loop when it is installed."""

from __future__ import annotations

import asyncio
import importlib

__all__ = ["install_uvloop"]


def install_uvloop() -> bool:
    """Make uvloop the event loop of later ``asyncio.run`` calls; False without uvloop.

    A no-op (returning False) where uvloop is not installed (``pip install
    hyperhttp[speedups]`` brings it), so scripts can call it unconditionally.
    """
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True
