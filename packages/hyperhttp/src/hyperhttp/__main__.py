"""``python -m hyperhttp``: the ``hyperhttp`` command (docs/cli.md)."""

from __future__ import annotations

import sys

from hyperhttp.cli import main

if __name__ == "__main__":
    sys.exit(main())
