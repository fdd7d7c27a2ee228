"""The ``trace=`` callback: ``trace(name, info)`` at named points of a request.

Events are for logs and telemetry, so they carry nothing secret: a ``url``,
``from`` or ``to`` value is ``str(url)``, whose userinfo password is written
as ``***`` (see :mod:`hyperhttp._urls`), and a proxy is named without its
password. docs/tracing.md lists the events and their fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Tracer"]

Tracer = Callable[[str, dict[str, Any]], object]
