"""Fair, O(1), cancellation-safe async connection pool keyed by origin.

Only the package skeleton exists so far; the implementation lands with its issue.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
