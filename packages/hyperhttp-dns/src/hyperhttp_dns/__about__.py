"""The distribution's version, read by hatch at build time."""

from __future__ import annotations

__version__ = "0.2.0"
