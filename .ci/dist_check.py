"""Release check: build, check and install the five distributions as users will get them.

Run as ``python .ci/dist_check.py`` (standard library only; hatch must be on PATH,
as ``.ci/run`` installs it). Everything it makes lives in one temporary directory,
removed at the end (``--keep`` leaves it and prints where).

1. ``hatch build`` a wheel and an sdist of each of packages/*.
2. ``twine check --strict`` every artifact (twine in a throwaway venv).
3. A fresh venv with ``hyperhttp[speedups]`` from the built wheels. An older,
   unrelated ``hyperhttp`` lives on PyPI, so no hyperhttp* name ever reaches the
   index: our five wheels are installed by path with ``--no-deps``, then only the
   third-party requirements they declare (base + the ``speedups`` extra) are
   installed from the index. Every hyperhttp* distribution present is then
   checked: our version, installed from our wheel (direct_url.json), and each
   file's hash equal to the wheel's RECORD.
4. A smoke test there: a loopback asyncio server with a fixed HTTP/1.1 response,
   ``hyperhttp.Client().get()`` against it, on uvloop (``install_uvloop()`` True);
   and the ``hyperhttp`` console script, installed without its extra, says
   to install ``hyperhttp[cli]`` (exit status 1).
   4b. The pytest plugin in that venv (pytest from the index): a fresh
   project's tests use the ``hyperhttp_mock`` fixture with no conftest and
   no ``-p`` option: the ``pytest11`` entry point brings it.
5. A fresh venv with ``hyperhttp[cli]`` from the built wheels (same rule: our
   wheels by path, only third-party requirements from the index): the
   ``hyperhttp`` console script and ``python -m hyperhttp`` run a request
   (``hyperhttp GET``) and the load generator (``hyperhttp bench -n 200
   --json``, on uvloop) against a loopback server.
6. Fresh venvs holding only hyperhttp-dns and only hyperhttp-resilience, each
   running its README's ```python blocks (with aiohttp installed when a block
   shows it). A block naming a host other than localhost is skipped, with the
   reason printed; the others run with getaddrinfo limited to loopback names.

Exits non-zero when any step fails; every subprocess has a timeout.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"
NAMES = (
    "hyperhttp-parser",
    "hyperhttp-dns",
    "hyperhttp-pool",
    "hyperhttp-resilience",
    "hyperhttp",
)
BUILD_TIMEOUT = 180.0
INSTALL_TIMEOUT = 300.0
RUN_TIMEOUT = 60.0
PIP = ("-m", "pip", "--disable-pip-version-check", "--no-input")


class CheckFailed(Exception):
    """A step failed; the message says which and why."""


def run(
    cmd: list[str], *, timeout: float, cwd: Path | None = None, quiet: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; raise CheckFailed (with its output) on a non-zero exit or a timeout."""
    # Inline scripts (-c) are shown by their first line only.
    shown = " ".join(
        (str(c).strip().splitlines()[0] + " ...") if i and cmd[i - 1] == "-c" else str(c)
        for i, c in enumerate(cmd)
    )
    if not quiet:
        print(f"   $ {shown}", flush=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["HATCH_INTERACTIVE"] = "false"
    env["NO_COLOR"] = "1"
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"timed out after {timeout:.0f} s: {shown}") from exc
    if proc.returncode != 0:
        raise CheckFailed(
            f"exit {proc.returncode}: {shown}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


def make_venv(path: Path) -> Path:
    """Create a venv with pip at ``path`` (no system site-packages); return its python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        raise CheckFailed(f"venv has no interpreter: {python}")
    return python


def pip_install(python: Path, *args: str) -> None:
    """``pip install --quiet`` into the venv of ``python``."""
    run([str(python), *PIP, "install", "--quiet", *args], timeout=INSTALL_TIMEOUT)


# ---------------------------------------------------------------- 1. build, 2. twine


def build(dist: Path) -> dict[str, tuple[Path, Path]]:
    """Build a wheel and an sdist of every package into ``dist``; name -> (wheel, sdist)."""
    built: dict[str, tuple[Path, Path]] = {}
    for name in NAMES:
        before = set(dist.iterdir()) if dist.exists() else set()
        run(
            ["hatch", "build", "-t", "wheel", "-t", "sdist", str(dist)],
            cwd=PACKAGES / name,
            timeout=BUILD_TIMEOUT,
        )
        new = set(dist.iterdir()) - before
        wheels = [p for p in new if p.suffix == ".whl"]
        sdists = [p for p in new if p.name.endswith(".tar.gz")]
        if len(wheels) != 1 or len(sdists) != 1:
            raise CheckFailed(f"{name}: expected one wheel and one sdist, got {sorted(new)}")
        built[name] = (wheels[0], sdists[0])
    return built


def twine_check(tmp: Path, artifacts: list[Path]) -> None:
    """``twine check --strict`` every artifact, with twine in a throwaway venv."""
    python = make_venv(tmp / "venv-twine")
    pip_install(python, "twine")
    proc = run(
        [str(python), "-m", "twine", "check", "--strict", *map(str, artifacts)], timeout=RUN_TIMEOUT
    )
    print(textwrap.indent(proc.stdout.strip(), "     "))


# ---------------------------------------------------------------- 3. install without the index


def wheel_metadata(wheel: Path) -> tuple[str, str]:
    """(Name, Version) from a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode()
    fields = dict(
        line.split(": ", 1) for line in text.split("\n\n", 1)[0].splitlines() if ": " in line
    )
    return fields["Name"], fields["Version"]


# Run inside a venv: the third-party requirements of the installed hyperhttp*
# distributions (markers evaluated with the requested extras), one per line.
THIRD_PARTY = r"""
import json, sys
from importlib import metadata
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name
extras = json.loads(sys.argv[1])  # {dist name: [extras]}
out = []
for name, wanted in extras.items():
    for spec in metadata.requires(name) or []:
        req = Requirement(spec)
        if canonicalize_name(req.name).startswith("hyperhttp"):
            continue  # ours: already installed from our wheels, never from the index
        envs = [{"extra": e} for e in ["", *wanted]]
        if req.marker is None or any(req.marker.evaluate(env) for env in envs):
            req.marker = None
            out.append(str(req))
print("\n".join(sorted(set(out))))
"""

# Run inside a venv: every hyperhttp* distribution is one of ours, in our version,
# installed from our wheel by path, with the wheel's exact files.
VERIFY = r"""
import base64, hashlib, json, sys, zipfile
from importlib import metadata
from pathlib import Path
expected = json.loads(sys.argv[1])  # {name: [version, wheel path]}
problems, seen = [], set()
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if not name.lower().replace("_", "-").startswith("hyperhttp"):
        continue
    seen.add(name)
    if name not in expected:
        problems.append(f"{name} {dist.version}: not one of ours")
        continue
    version, wheel = expected[name]
    if dist.version != version:
        problems.append(f"{name}: version {dist.version}, ours is {version}")
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    if Path(direct.get("url", "").removeprefix("file://")).resolve() != Path(wheel).resolve():
        problems.append(f"{name}: installed from {direct.get('url')!r}, not {wheel}")
    with zipfile.ZipFile(wheel) as zf:
        record = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
        want = {}
        for line in zf.read(record).decode().splitlines():
            path, digest, _ = line.rsplit(",", 2)
            if digest:
                want[path] = digest
    installed = {str(f): f for f in dist.files or []}
    for path, digest in want.items():
        if path not in installed:
            problems.append(f"{name}: {path} missing")
            continue
        algo, _, value = digest.partition("=")
        data = Path(installed[path].locate()).read_bytes()
        actual = base64.urlsafe_b64encode(hashlib.new(algo, data).digest()).rstrip(b"=").decode()
        if actual != value:
            problems.append(f"{name}: {path} differs from the wheel")
    print(f"{name} {dist.version}: {len(want)} files match the wheel")
for name in expected:
    if name not in seen:
        problems.append(f"{name}: not installed")
if problems:
    sys.exit("\n".join(problems))
"""


def install_from_wheels(
    python: Path, wheels: dict[str, Path], extras: dict[str, list[str]]
) -> None:
    """Install ``wheels`` by path (no deps), then only their third-party requirements."""
    pip_install(python, "--no-deps", "--no-index", *map(str, wheels.values()))
    third = run(
        [str(python), "-I", "-c", THIRD_PARTY, json.dumps(extras)], timeout=RUN_TIMEOUT
    ).stdout.split()
    if third:
        print(f"   third-party requirements from the index: {', '.join(third)}")
        pip_install(python, *third)
    else:
        print("   no third-party requirements")
    run([str(python), *PIP, "check"], timeout=RUN_TIMEOUT)
    expected = {wheel_metadata(w)[0]: [wheel_metadata(w)[1], str(w)] for w in wheels.values()}
    proc = run([str(python), "-I", "-c", VERIFY, json.dumps(expected)], timeout=RUN_TIMEOUT)
    print(textwrap.indent(proc.stdout.strip(), "     "))


# ---------------------------------------------------------------- 4. smoke test

SMOKE = r"""
import asyncio, sys
import hyperhttp

BODY = b"hello from loopback"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
    + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"GET /smoke HTTP/1.1\r\n"), head
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    loop = type(asyncio.get_running_loop())
    assert loop.__module__.startswith("uvloop"), f"not running on uvloop: {loop}"
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        async with hyperhttp.Client() as client:
            for _ in range(3):  # the second and third reuse the kept-alive connection
                response = await client.get(f"http://127.0.0.1:{port}/smoke")
                assert response.status_code == 200, response.status_code
                assert response.content == BODY, response.content
    print(f"hyperhttp {hyperhttp.__version__} on {loop.__module__}.{loop.__qualname__}: "
          f"3 GETs -> 200 {BODY!r}")

assert hyperhttp.__file__ and "site-packages" in hyperhttp.__file__, hyperhttp.__file__
assert hyperhttp.install_uvloop() is True, "install_uvloop() returned False"
for module in ("orjson", "brotli", "zstandard", "uvloop"):  # the speedups extra
    __import__(module)
asyncio.run(main())
"""


# ---------------------------------------------------------------- 5. the command line

# Run inside the hyperhttp[cli] venv as: python -I cli_smoke.py BIN_DIR. A loopback
# server in a thread answers every request with a fixed keep-alive response.
CLI_SMOKE = r"""
import asyncio, json, subprocess, sys, threading
from pathlib import Path

bindir = Path(sys.argv[1])
BODY = b'{"hello": "loopback"}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)
ready = threading.Event()
port = []

async def handle(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def serve(stop):
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port.append(server.sockets[0].getsockname()[1])
    ready.set()
    async with server:
        await stop

loop = asyncio.new_event_loop()
stop = loop.create_future()
thread = threading.Thread(target=loop.run_until_complete, args=(serve(stop),), daemon=True)
thread.start()
assert ready.wait(10), "the loopback server did not start"
url = f"http://127.0.0.1:{port[0]}/smoke"

def run(*argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (argv, done.returncode, done.stdout, done.stderr)
    return done.stdout

out = run(str(bindir / "hyperhttp"), "GET", url, "--no-color")
assert out.startswith("HTTP/1.1 200 OK"), out
assert '"hello": "loopback"' in out, out  # pretty-printed JSON
bench = (str(bindir / "hyperhttp"), "bench", url, "-n", "200", "-c", "4", "--json", "-q")
report = json.loads(run(*bench))
assert report["responses"] == 200 and report["status"] == {"200": 200}, report
assert report["loop"] == "uvloop", report["loop"]
version = run(sys.executable, "-m", "hyperhttp", "--version").strip()
loop.call_soon_threadsafe(stop.set_result, None)
thread.join(10)
p99 = report["latency_ms"]["p99"]
print(f"{version}: GET -> 200 (JSON pretty-printed); bench -n 200 -> "
      f"{report['responses']} responses on {report['loop']}, P99 {p99:.2f} ms")
"""

# Run inside the venv WITHOUT the extra: the console script says what to install.
# A fresh project's test file: nothing but hyperhttp and pytest installed, no
# conftest, no -p option: the pytest11 entry point must bring hyperhttp_mock.
PLUGIN_TESTS = r"""
import asyncio

import hyperhttp
import pytest


def test_the_fixture_answers_a_client_built_in_the_test(hyperhttp_mock):
    hyperhttp_mock.add_response(url="https://api.example.test/users", json=[{"id": 1}])

    async def main():
        async with hyperhttp.Client() as client:
            return (await client.get("https://api.example.test/users")).json()

    assert asyncio.run(main()) == [{"id": 1}]
    assert hyperhttp_mock.get_request().url == "https://api.example.test/users"


@pytest.mark.hyperhttp_mock(assert_all_requests_were_expected=False)
def test_an_unmatched_request_fails_readably(hyperhttp_mock):
    hyperhttp_mock.add_response(url="https://api.example.test/a", is_optional=True)

    async def main():
        async with hyperhttp.Client() as client:
            await client.get("https://api.example.test/b")

    with pytest.raises(hyperhttp.MockTransportError, match="api.example.test/a"):
        asyncio.run(main())
"""

NO_EXTRA = r"""
import subprocess, sys
from pathlib import Path
done = subprocess.run([str(Path(sys.argv[1]) / "hyperhttp"), "GET", "http://127.0.0.1:9/"],
                      capture_output=True, text=True, timeout=60)
assert done.returncode == 1, (done.returncode, done.stderr)
assert "pip install 'hyperhttp[cli]'" in done.stderr, done.stderr
print("without the cli extra: " + done.stderr.strip())
"""


# ---------------------------------------------------------------- 6. README examples

# Run inside a venv as: python -I runner.py BLOCK_FILE. Names resolve only if
# they are loopback; a block with top-level await runs in a loop; a block that
# defines `async def main()` without running it has it run.
RUNNER = r"""
import ast, asyncio, inspect, ipaddress, random, socket, sys

_getaddrinfo = socket.getaddrinfo

def loopback_only(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name not in (None, "localhost"):
        try:
            ok = ipaddress.ip_address(name.split("%")[0]).is_loopback
        except ValueError:
            ok = False
        if not ok:
            raise OSError(f"README example tried to resolve {name!r}: only loopback allowed")
    return _getaddrinfo(host, *args, **kwargs)

socket.getaddrinfo = loopback_only
random.seed(20261130)  # examples that simulate flakiness do so reproducibly

source = open(sys.argv[1]).read()
code = compile(source, "<README block>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
namespace = {"__name__": "__readme__"}

if code.co_flags & inspect.CO_COROUTINE:  # top-level await: run it in a loop
    asyncio.run(eval(code, namespace))
else:
    exec(code, namespace)
main = namespace.get("main")
called = any(isinstance(n, ast.Call) and getattr(n.func, "id", None) == "main"
             for n in ast.walk(ast.parse(source)))
if inspect.iscoroutinefunction(main) and not called:
    print(f"main() -> {asyncio.run(main())!r}")
"""

FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
HOSTLIKE = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


def skip_reason(block: str) -> str | None:
    """Why a README block cannot run here (a name beyond loopback), else None."""
    tree = ast.parse(block)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and HOSTLIKE.match(node.value)
            and node.value != "localhost"
        ):
            return f"needs network access: names the host {node.value!r}"
    return None


def readme_examples(tmp: Path, name: str, wheels: dict[str, Path]) -> tuple[int, list[str]]:
    """Install ``name`` alone in a fresh venv and run its README blocks; (ran, skips)."""
    python = make_venv(tmp / f"venv-{name}")
    install_from_wheels(python, {name: wheels[name]}, {name: []})
    # Standing alone: the umbrella and the other components are absent.
    others = [n for n in NAMES if n != name]
    alone = (
        "import sys; from importlib import metadata as m\n"
        f"present = [n for n in {others!r} if any(True for _ in m.distributions(name=n))]\n"
        "sys.exit(f'also installed: {present}' if present else 0)"
    )
    run([str(python), "-I", "-c", alone], timeout=RUN_TIMEOUT)
    runner = tmp / "readme_runner.py"
    runner.write_text(RUNNER)
    blocks = FENCE.findall((PACKAGES / name / "README.md").read_text())
    if not blocks:
        raise CheckFailed(f"{name}: README has no ```python blocks")
    if any(re.search(r"^\s*(import|from) aiohttp\b", b, re.MULTILINE) for b in blocks):
        # An example shown with aiohttp (a third party, not one of ours) runs with it.
        run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "aiohttp"],
            timeout=RUN_TIMEOUT * 4,
        )
    ran, skips = 0, []
    for i, block in enumerate(blocks, 1):
        label = f"{name} README block {i}/{len(blocks)}"
        reason = skip_reason(block)
        if reason:
            print(f"   skip {label}: {reason}")
            skips.append(f"{label}: {reason}")
            continue
        path = tmp / f"{name}-block{i}.py"
        path.write_text(block)
        proc = run(
            [str(python), "-I", str(runner), str(path)], cwd=tmp, timeout=RUN_TIMEOUT, quiet=True
        )
        out = proc.stdout.strip()
        print(f"   ok   {label}" + (f": {out}" if out else ""))
        ran += 1
    if not ran:
        raise CheckFailed(f"{name}: every README example was skipped; none ran")
    return ran, skips


# ---------------------------------------------------------------- main


def main() -> int:
    """Run every step; 0 when all pass, 1 on the first failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if shutil.which("hatch") is None:
        print("dist_check: hatch is not on PATH (python -m pip install hatch)", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="hyperhttp-dist-check-"))
    dist = tmp / "dist"
    dist.mkdir()
    started = time.monotonic()
    summary: list[str] = []
    failed: str | None = None
    step = "start"

    def done(what: str) -> None:
        summary.append(f"ok    {what} ({time.monotonic() - started:.0f} s)")

    try:
        step = "build"
        print("== 1. hatch build (wheel + sdist) of each package", flush=True)
        built = build(dist)
        artifacts = sorted(p for pair in built.values() for p in pair)
        for p in artifacts:
            print(f"   {p.name}  ({p.stat().st_size:,} bytes)")
        done(f"built {len(artifacts)} artifacts")

        step = "twine check"
        print("== 2. twine check --strict", flush=True)
        twine_check(tmp, artifacts)
        done("twine check --strict on every artifact")

        wheels = {name: pair[0] for name, pair in built.items()}
        step = "install hyperhttp[speedups]"
        print("== 3. fresh venv: hyperhttp[speedups] from the built wheels", flush=True)
        python = make_venv(tmp / "venv-hyperhttp")
        install_from_wheels(python, wheels, {"hyperhttp": ["speedups"]})
        done("hyperhttp[speedups] installed; every hyperhttp* dist is ours")

        step = "smoke test"
        print("== 4. smoke test: Client().get() against a loopback server, on uvloop", flush=True)
        smoke = tmp / "smoke.py"
        smoke.write_text(SMOKE)
        proc = run([str(python), "-I", str(smoke)], cwd=tmp, timeout=RUN_TIMEOUT)
        print(f"   {proc.stdout.strip()}")
        no_extra = tmp / "no_extra.py"
        no_extra.write_text(NO_EXTRA)
        proc = run(
            [str(python), "-I", str(no_extra), str(python.parent)], cwd=tmp, timeout=RUN_TIMEOUT
        )
        print(f"   {proc.stdout.strip()}")
        done("smoke test (install_uvloop() True, GET over loopback; the CLI asks for its extra)")

        step = "the pytest plugin in a fresh project"
        print(
            "== 4b. the pytest plugin: active in a fresh project (hyperhttp + pytest)", flush=True
        )
        pip_install(python, "pytest")
        project = tmp / "fresh-project"
        project.mkdir()
        (project / "test_uses_the_plugin.py").write_text(PLUGIN_TESTS)
        proc = run(
            [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project)],
            cwd=project,
            timeout=RUN_TIMEOUT,
        )
        print(f"   {proc.stdout.strip().splitlines()[-1]}")
        done("pytest plugin: hyperhttp_mock active in a fresh project (entry point pytest11)")

        step = "install hyperhttp[cli] and run the command"
        print("== 5. fresh venv: hyperhttp[cli] from the built wheels, both commands", flush=True)
        python = make_venv(tmp / "venv-hyperhttp-cli")
        install_from_wheels(python, wheels, {"hyperhttp": ["cli"]})
        cli_smoke = tmp / "cli_smoke.py"
        cli_smoke.write_text(CLI_SMOKE)
        proc = run(
            [str(python), "-I", str(cli_smoke), str(python.parent)],
            cwd=tmp,
            timeout=RUN_TIMEOUT * 2,
        )
        print(f"   {proc.stdout.strip()}")
        done("hyperhttp[cli]: `hyperhttp GET` and `hyperhttp bench` against a loopback server")

        for i, name in enumerate(("hyperhttp-dns", "hyperhttp-resilience"), 6):
            step = f"{name} README examples"
            print(f"== {i}. fresh venv: {name} alone, its README examples", flush=True)
            ran, skips = readme_examples(tmp, name, wheels)
            done(f"{name} alone: {ran} README example(s) ran, {len(skips)} skipped")
            summary.extend(f"skip  {s}" for s in skips)
    except CheckFailed as exc:
        failed = f"{step}: {exc}"
    finally:
        if args.keep:
            print(f"(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print("\n== summary")
    for line in summary:
        print(f"   {line}")
    elapsed = time.monotonic() - started
    if failed:
        print(f"   FAIL  {failed}")
        print(f"dist_check: FAILED after {elapsed:.0f} s")
        return 1
    print(f"dist_check: all passed in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
