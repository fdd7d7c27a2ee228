"""The ``trace=`` callback: ``trace(name, info)`` at named points of a request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Tracer"]

Tracer = Callable[[str, dict[str, Any]], object]
