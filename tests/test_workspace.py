"""The workspace itself: every distribution is complete and independent."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())
COMPONENTS = [p for p in PACKAGES if p.name != "hyperhttp"]


def _module(package: Path) -> str:
    return package.name.replace("-", "_")


def test_all_five_distributions_exist() -> None:
    """packages/ holds the umbrella and the four components."""
    assert [p.name for p in PACKAGES] == [
        "hyperhttp",
        "hyperhttp-dns",
        "hyperhttp-parser",
        "hyperhttp-pool",
        "hyperhttp-resilience",
    ]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_distribution_is_complete(package: Path) -> None:
    """Each has pyproject, README, CHANGELOG, src layout, __about__ and py.typed."""
    source = package / "src" / _module(package)
    for path in (
        package / "README.md",
        package / "CHANGELOG.md",
        source / "__init__.py",
        source / "__about__.py",
        source / "py.typed",
    ):
        assert path.is_file(), path
    assert any((package / "tests").glob("test_*.py"))


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_installed_version_is_the_workspace_version(package: Path) -> None:
    """The environment imports our packages, not a same-named one from the index."""
    module = importlib.import_module(_module(package))
    about: dict[str, str] = {}
    exec((package / "src" / _module(package) / "__about__.py").read_text(), about)  # noqa: S102
    assert module.__version__ == about["__version__"]
    assert Path(module.__file__ or "").resolve().is_relative_to(package / "src")


@pytest.mark.parametrize("package", COMPONENTS, ids=lambda p: p.name)
def test_component_depends_on_nothing_in_the_workspace(package: Path) -> None:
    """Components declare no dependency on each other or on the umbrella."""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    assert not [d for d in project.get("dependencies", []) if d.startswith("hyperhttp")]
