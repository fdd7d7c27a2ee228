"""Retry policy and circuit breaker around any async callable.

Only the package skeleton exists so far; the implementation lands with its issue.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
