"""Run mypy --strict over every package (sources and tests), then tests/, bench/ and fuzz/.

Each package is checked on its own: test modules share names across packages
(conftest.py, test_imports.py), which one mypy run would report as duplicates.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    """Check each target; return non-zero when any check failed."""
    targets = [
        [str(package / "src"), str(package / "tests")]
        for package in sorted((ROOT / "packages").iterdir())
        if (package / "pyproject.toml").is_file()
    ]
    targets.append([str(ROOT / "tests"), str(ROOT / "bench"), str(ROOT / "fuzz")])
    failed = 0
    for paths in targets:
        print("mypy", *(Path(path).relative_to(ROOT) for path in paths), flush=True)
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *paths],
            check=False,
        )
        failed |= result.returncode
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
