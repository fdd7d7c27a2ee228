"""docs/architecture.md names code by ``file.py: Name.attribute``: every name it gives exists.

The page replaces reading the client to understand it, so a renamed
function must not leave it pointing at nothing.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
# `_pipeline.py: Pipeline.send` or `_http2/connection.py: HTTP2Connection.start_request`
REFERENCE = re.compile(r"`(_[\w/]+)\.py:\s*([\w.]+)`")


def _references() -> list[tuple[str, str]]:
    text = " ".join(PAGE.read_text(encoding="utf-8").split())  # references may wrap lines
    return REFERENCE.findall(text)


def test_the_page_names_code() -> None:
    assert len(_references()) >= 30


def test_every_named_function_exists() -> None:
    missing = []
    for path, dotted in _references():
        module = importlib.import_module("hyperhttp." + path.replace("/", "."))
        target: object = module
        for part in dotted.split("."):
            if not hasattr(target, part):
                missing.append(f"{path}.py: {dotted}")
                break
            target = getattr(target, part)
    assert not missing, missing
