"""A fast, strict async HTTP client for Python: HTTP/1.1 and HTTP/2 on asyncio.

Only the package skeleton exists so far; the implementation lands with its issue.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
