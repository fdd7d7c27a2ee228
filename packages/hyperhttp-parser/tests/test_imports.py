"""Import hygiene: this component stands alone."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_pull_in_the_umbrella() -> None:
    """Importing hyperhttp_parser in a fresh interpreter never imports hyperhttp."""
    code = "import sys, hyperhttp_parser; print('hyperhttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
