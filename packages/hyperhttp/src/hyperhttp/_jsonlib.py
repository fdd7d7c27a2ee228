"""JSON for request bodies and ``Response.json()``: orjson when installed, else the stdlib.

The one place orjson is imported. ``dumps`` writes compact UTF-8 (what orjson
writes; the stdlib is told to match it) and falls back to the stdlib for
what orjson refuses (integers beyond 64 bits, subclasses it does not know).
"""

from __future__ import annotations

import importlib
import json
from typing import Any

__all__ = ["dumps", "loads"]

_orjson: Any
try:
    _orjson = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - depends on the optional extra
    _orjson = None


def dumps(value: Any) -> bytes:
    """Serialize ``value`` as compact UTF-8 JSON."""
    if _orjson is not None:
        try:
            body: bytes = _orjson.dumps(value)
        except TypeError:
            pass
        else:
            return body
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: bytes, **kwargs: Any) -> Any:
    """Parse JSON; keyword arguments (the stdlib's) select the stdlib parser."""
    if kwargs or _orjson is None:
        return json.loads(data, **kwargs)
    return _orjson.loads(data)
