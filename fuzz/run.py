"""Run the fuzz targets with atheris (libFuzzer), each for a bounded time.

Usage (from the repository root, in the ``fuzz`` hatch environment)::

    python -m fuzz.run [--seconds N] [--target NAME ...]   # fuzz, one target after another
    python -m fuzz.run --replay [--target NAME] [PATH ...]  # run inputs, no fuzzing
    python -m fuzz.run --merge [--target NAME ...]          # grow the committed corpus

Each target runs in its own process (``--child``): atheris instruments the
target's imports (hyperhttp, hyperhttp-parser, h2, hpack) for coverage,
starts from the committed seeds in ``fuzz/corpus/<target>/`` plus what
earlier local runs found (``fuzz/.work/<target>/``, not committed), and
stops after ``--seconds``. The process runs under an address-space limit
(RLIMIT_AS), libFuzzer's RSS limit and a per-input timeout, and each input
under the target's tracemalloc budget (:mod:`fuzz._memory`). A finding (an
exception other than the decoder's typed errors, a broken check, a memory
budget exceeded, a hang) stops that target: libFuzzer writes the input to
``fuzz/crashes/<target>/`` and the run exits non-zero. Replay a finding with
``python -m fuzz.run --replay fuzz/crashes/<target>/crash-...``.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path

from fuzz.targets import NAMES, load

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
CORPUS = FUZZ / "corpus"
CRASHES = FUZZ / "crashes"
WORK = FUZZ / ".work"
DICTS = FUZZ / "dicts"

ADDRESS_SPACE = 4 << 30  # RLIMIT_AS of a target process: a runaway allocation fails
RSS_LIMIT_MB = 2048  # libFuzzer's own limit (its watchdog thread), an "oom-" finding
INPUT_TIMEOUT = 10  # seconds one input may take: a "timeout-" finding
# Packages whose coverage guides the fuzzer (the standard library is left
# alone: instrumenting asyncio and ssl took seconds at every start).
INSTRUMENTED = (
    "hyperhttp",
    "hyperhttp_parser",
    "h2",
    "hpack",
    "hyperframe",
    "fuzz",
)

_STAT = re.compile(rb"^stat::(\w+):\s*(\d+)", re.MULTILINE)
_DONE = re.compile(rb"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/")


def _child(name: str, libfuzzer_args: list[str], memory_check: bool) -> None:
    """Fuzz one target in this process (never returns)."""
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    with atheris.instrument_imports(include=list(INSTRUMENTED)):
        target = load(name)
    one_input = target.one_input
    if memory_check:
        from fuzz._memory import bounded

        one_input = bounded(one_input, target.MEMORY_BUDGET, name)
    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


def _fuzz(name: str, seconds: int, memory_check: bool) -> dict[str, object]:
    """Fuzz ``name`` for ``seconds`` in a child process; return its figures."""
    target = load(name)
    work = WORK / name
    crashes = CRASHES / name
    seeds = CORPUS / name
    for directory in (work, crashes, seeds):
        directory.mkdir(parents=True, exist_ok=True)
    before = set(crashes.iterdir())
    args = [
        f"-max_total_time={seconds}",
        f"-max_len={target.MAX_LEN}",
        f"-timeout={INPUT_TIMEOUT}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
    ]
    dictionary = DICTS / f"{name}.dict"
    if dictionary.is_file():
        args.append(f"-dict={dictionary}")
    command = [sys.executable, "-m", "fuzz.run", "--child", name]
    if not memory_check:
        command.append("--no-memory-check")
    log = WORK / f"{name}.log"
    started = time.monotonic()
    with log.open("wb") as out:
        result = subprocess.run(  # noqa: S603 - this interpreter, this module
            [*command, "--", *args, str(work), str(seeds)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    elapsed = time.monotonic() - started
    text = log.read_bytes()
    stats = {key.decode(): int(value) for key, value in _STAT.findall(text)}
    done = _DONE.findall(text)
    found = sorted(set(crashes.iterdir()) - before)
    figures: dict[str, object] = {
        "target": name,
        "seconds": round(elapsed, 1),
        "executions": stats.get("number_of_executed_units", 0),
        "exec_per_sec": stats.get("average_exec_per_sec", 0),
        "coverage": int(done[-1][1]) if done else None,
        "features": int(done[-1][2]) if done else None,
        "corpus": int(done[-1][3]) if done else None,
        "peak_rss_mb": stats.get("peak_rss_mb"),
        "exit": result.returncode,
        "findings": [str(path.relative_to(ROOT)) for path in found],
        "log": str(log.relative_to(ROOT)),
    }
    if result.returncode != 0:
        tail = text.decode("utf-8", "replace").splitlines()[-40:]
        print(f"--- {name}: exit {result.returncode}, last lines of {log}:", *tail, sep="\n")
    return figures


def _replay(paths: list[Path], names: list[str]) -> int:
    """Run inputs through targets without fuzzing; return the number of findings."""
    from fuzz._memory import bounded

    failures = 0
    jobs: list[tuple[str, Path]] = []
    if paths:
        for path in paths:
            owners = [part for part in path.resolve().parts if part in NAMES]
            for name in names or owners[-1:]:
                files = sorted(path.iterdir()) if path.is_dir() else [path]
                jobs += [(name, file) for file in files if file.is_file()]
            if not names and not owners:
                print(f"{path}: name the target with --target", file=sys.stderr)
                failures += 1
    else:
        for name in names or NAMES:
            for directory in (CORPUS / name, CRASHES / name):
                if directory.is_dir():
                    jobs += [(name, file) for file in sorted(directory.iterdir())]
    checked = {}
    for name, file in jobs:
        if name not in checked:
            target = load(name)
            checked[name] = bounded(target.one_input, target.MEMORY_BUDGET, name)
        try:
            checked[name](file.read_bytes())
        except Exception:
            failures += 1
            print(f"FINDING {name} {file}:", file=sys.stderr)
            traceback.print_exc()
    print(f"replayed {len(jobs)} inputs, {failures} findings")
    return failures


def _merge(names: list[str]) -> int:
    """Add the work corpus's new coverage to the committed seeds (libFuzzer -merge=1)."""
    for name in names:
        target = load(name)
        (CORPUS / name).mkdir(parents=True, exist_ok=True)
        (WORK / name).mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "fuzz.run", "--child", name, "--no-memory-check", "--"]
        args = ["-merge=1", f"-max_len={target.MAX_LEN}", str(CORPUS / name), str(WORK / name)]
        result = subprocess.run([*command, *args], cwd=ROOT, check=False)  # noqa: S603
        if result.returncode != 0:
            return result.returncode
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run."""
    argv = sys.argv[1:] if argv is None else argv
    passthrough: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, passthrough = argv[:at], argv[at + 1 :]
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per target")
    parser.add_argument("--target", action="append", choices=NAMES, help="default: all")
    parser.add_argument("--replay", action="store_true", help="run inputs, no fuzzing")
    parser.add_argument("--merge", action="store_true", help="merge .work into the corpus")
    parser.add_argument("--no-memory-check", action="store_true", help="skip tracemalloc")
    parser.add_argument("--child", choices=NAMES, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help="inputs for --replay")
    options, unknown = parser.parse_known_args(argv)
    names: list[str] = options.target or []
    if options.child:  # libFuzzer's own arguments follow (hatch run drops a "--")
        files = [str(path) for path in options.paths]
        _child(options.child, [*unknown, *passthrough, *files], not options.no_memory_check)
        return 0
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if options.replay:
        return 1 if _replay(options.paths, names) else 0
    if options.merge:
        return _merge(names or list(NAMES))
    os.environ.setdefault("PYTHONHASHSEED", "0")
    rows = [_fuzz(name, options.seconds, not options.no_memory_check) for name in names or NAMES]
    print(
        f"{'target':<18} {'secs':>6} {'execs':>10} {'exec/s':>7} {'cov':>5} {'ft':>6} corp  result"
    )
    for row in rows:
        found = " ".join(row["findings"]) or row["log"]  # type: ignore[arg-type]
        result = "ok" if row["exit"] == 0 else f"FINDING {found}"
        print(
            f"{row['target']:<18} {row['seconds']:>6} {row['executions']:>10} "
            f"{row['exec_per_sec']:>7} {row['coverage']!s:>5} {row['features']!s:>6} "
            f"{row['corpus']!s:>5}  {result}"
        )
    return 1 if any(row["exit"] != 0 for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
