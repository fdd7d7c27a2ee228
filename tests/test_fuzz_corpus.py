"""The fuzz corpus, replayed: every committed input through its target (fuzz/README.md).

Each file under ``fuzz/corpus/<target>/`` (seeds and what fuzzing added) and
``fuzz/crashes/<target>/`` (fixed findings, kept as regressions) goes through
the target's ``one_input`` with its per-input memory budget, as in a fuzz
run but without atheris: only the decoders' typed errors may occur, and no
check may fail.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fuzz._checks import Finding
from fuzz._memory import bounded
from fuzz.targets import NAMES, load

if TYPE_CHECKING:
    from collections.abc import Iterator

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"


def _inputs(name: str) -> list[Path]:
    files: list[Path] = []
    for kind in ("corpus", "crashes"):
        directory = FUZZ / kind / name
        if directory.is_dir():
            files += sorted(p for p in directory.iterdir() if p.is_file())
    return files


@pytest.fixture
def memory_tracing() -> Iterator[None]:
    """Trace allocations for the test only (tracing slows every later test otherwise)."""
    was_tracing = tracemalloc.is_tracing()
    yield
    if not was_tracing:
        tracemalloc.stop()


@pytest.mark.parametrize("name", NAMES)
def test_every_target_has_seeds(name: str) -> None:
    seeds = [p for p in _inputs(name) if p.name.startswith("seed-")]
    assert len(seeds) >= 5, f"fuzz/corpus/{name}/ needs realistic seeds"


@pytest.mark.parametrize("name", NAMES)
def test_corpus_replays_clean(name: str, memory_tracing: None) -> None:
    target = load(name)
    one_input = bounded(target.one_input, target.MEMORY_BUDGET, name)
    failures = []
    for path in _inputs(name):
        data = path.read_bytes()
        try:
            one_input(data)
        except Finding as exc:
            failures.append(f"{path.relative_to(FUZZ)}: {exc}")
    assert not failures, "\n".join(failures)


def test_a_broken_promise_is_a_finding(memory_tracing: None) -> None:
    """The harness can fail: a budget of 1 byte is broken by any input."""
    target = load("http11_response")
    one_input = bounded(target.one_input, 1, "http11_response")
    with pytest.raises(Finding, match=r"http11_response\.memory"):
        one_input(b"\x00\x00HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
