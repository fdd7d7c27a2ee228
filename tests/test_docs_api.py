"""docs/api.md names every public name of hyperhttp (and nothing that is not)."""

from __future__ import annotations

import re
from pathlib import Path

import hyperhttp

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_every_public_name_is_in_the_reference() -> None:
    text = DOC.read_text()
    documented = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)(?:\(\))?`", text))
    missing = sorted(set(hyperhttp.__all__) - documented)
    assert not missing, f"docs/api.md does not mention {missing}"


def test_the_reference_names_only_what_exists() -> None:
    text = DOC.read_text()
    rows = re.findall(r"^\| (`[^|]+) \|", text, re.MULTILINE)
    named = {name for row in rows for name in re.findall(r"`([A-Z][A-Za-z]+)`", row)}
    assert named <= set(hyperhttp.__all__), sorted(named - set(hyperhttp.__all__))
