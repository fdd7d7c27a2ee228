"""The fuzz targets, by name; each module defines ``one_input``, ``MAX_LEN`` and ``MEMORY_BUDGET``.

Modules are named here, not imported: the runner imports a target only
inside atheris's instrumentation, so hyperhttp must not be imported before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["NAMES", "Target", "load"]

#: Every target, in the order the runner takes them.
NAMES = (
    "hpack",
    "h2_frames",
    "http11_response",
    "set_cookie",
    "www_authenticate",
    "content_decoding",
    "socks",
    "sse",
)


class Target(Protocol):
    """What a target module provides."""

    #: The largest input libFuzzer builds for it (``-max_len``).
    MAX_LEN: int
    #: Bytes one input may allocate at its peak (tracemalloc), beyond the start.
    MEMORY_BUDGET: int

    @property
    def one_input(self) -> Callable[[bytes], None]:
        """Run one input; raise only on a finding."""
        ...


def load(name: str) -> Target:
    """Import the target module ``name``."""
    if name not in NAMES:
        raise KeyError(f"no fuzz target {name!r}; targets: {', '.join(NAMES)}")
    module: Target = importlib.import_module(f"fuzz.targets.{name}")
    return module
