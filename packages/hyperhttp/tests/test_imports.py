"""Import hygiene of the umbrella package."""

from __future__ import annotations

import subprocess
import sys


def test_umbrella_imports_in_a_fresh_interpreter() -> None:
    """`import hyperhttp` works in a fresh interpreter and exposes a version."""
    code = "import hyperhttp; print(hyperhttp.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0.1.0", out.stderr
