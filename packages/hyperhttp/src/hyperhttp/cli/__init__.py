"""The ``hyperhttp`` command: requests from the terminal, and ``hyperhttp bench`` (docs/cli.md)."""

from __future__ import annotations

from ._main import ExitStatus, main

__all__ = ["ExitStatus", "main"]
