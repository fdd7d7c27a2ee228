"""Review of issue 19: ASGITransport/WSGITransport, the pytest plugin, ``hyperhttp.otel``, the CLI.

Every test but the ``test_guard_*`` ones failed on the reviewed code (fixed
in the commit that added this file); its docstring names the defect and
where it was. The guards pin what was checked
and found right (credentials and signatures out of ``url.full``, the caller's
request left unchanged by propagation, CR/LF in ``-H``, ``--data @missing``,
the histogram's merge).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from typing import TYPE_CHECKING, Any

import hyperhttp
import pytest
from hyperhttp import _mock
from hyperhttp.cli import ExitStatus, main
from hyperhttp.cli._hdr import Histogram
from hyperhttp.cli._plan import Plan, UsageError
from hyperhttp.pytest_plugin import mock_clients

if TYPE_CHECKING:
    from pathlib import Path


async def _until(condition: Any, what: str) -> None:
    """Let the loop run until ``condition()`` holds (bounded: 1000 turns, then 5 s)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def _run_cli(*argv: str) -> tuple[int, str]:
    """Run ``main(argv)`` with stderr captured; return its exit status and stderr."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        status = main(list(argv))
    return status, stderr.getvalue()


# ---------------------------------------------------------------- ASGI lifespan


@pytest.mark.asyncio
async def test_lifespan_startup_cancelled_ends_the_app_task() -> None:
    """A startup bounded with ``asyncio.timeout`` (as _lifespan's invariant 3 advises) leaks.

    ``Lifespan.start`` (packages/hyperhttp/src/hyperhttp/_lifespan.py) creates
    the app's lifespan task, then awaits ``_wait()`` with no ``try``: a
    cancellation there (the caller's timeout) leaves the task waiting for
    ever, and the transport keeps no reference (``_lifespan`` is set only
    after ``start()`` returns), so nothing can ever stop it. Invariant 1,
    "nothing outlives the exit", is broken on the path the docs recommend.
    """
    tasks: list[asyncio.Task[Any]] = []
    hang = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task)
        await receive()  # lifespan.startup
        await hang.wait()  # a startup that hangs

    transport = hyperhttp.ASGITransport(app)
    enter = asyncio.ensure_future(transport.__aenter__())
    try:
        await _until(lambda: tasks, "the lifespan started")
        enter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await enter
        await _until(lambda: tasks[0].done(), "the lifespan task ended with the cancelled enter")
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


@pytest.mark.asyncio
async def test_lifespan_shutdown_cancelled_ends_the_app_task() -> None:
    """A shutdown bounded with ``asyncio.timeout`` leaks the lifespan task.

    ``ASGITransport.__aexit__`` (_asgi.py) clears ``_lifespan`` and awaits
    ``Lifespan.stop`` (_lifespan.py), which waits for the app's answer with
    no ``try``: cancelled there, ``_stop()`` (the cancel-and-await of the
    task) never runs, and nobody holds the task any more.
    """
    tasks: list[asyncio.Task[Any]] = []
    hang = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task)
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await hang.wait()  # a shutdown that hangs

    transport = hyperhttp.ASGITransport(app)
    await transport.__aenter__()
    leave = asyncio.ensure_future(transport.__aexit__(None, None, None))
    try:
        await _until(lambda: transport._lifespan is None, "the exit began")
        for _ in range(5):
            await asyncio.sleep(0)
        leave.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leave
        await _until(lambda: tasks[0].done(), "the lifespan task ended with the cancelled exit")
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


# ---------------------------------------------------------------- WSGI


@pytest.mark.asyncio
async def test_wsgi_status_with_crlf_in_its_reason_is_refused() -> None:
    """A WSGI status line's reason phrase is never checked: CR, LF, NUL pass into the response.

    ``_WSGICall.start_response`` (packages/hyperhttp/src/hyperhttp/_wsgi.py)
    checks the three digits and the space, then keeps ``status[4:]`` as the
    reason whatever it holds. The module docstring promises
    ``RemoteProtocolError`` for "a bad status" (what the parser answers a
    server whose status line holds a CR or LF, RFC 9112 §4); instead
    ``response.reason_phrase`` carries "OK", CR, LF, "X-Injected: 1" to whoever
    prints or logs it (the CLI prints it as the status line).
    """

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK\r\nX-Injected: 1", [("Content-Length", "0")])
        return [b""]

    async with hyperhttp.Client(
        transport=hyperhttp.WSGITransport(app), base_url="http://test"
    ) as client:
        with pytest.raises(hyperhttp.RemoteProtocolError):
            await client.get("/")


# ---------------------------------------------------------------- pytest plugin


def test_interception_slot_clear_after_overlapping_blocks() -> None:
    """Two ``mock_clients()`` blocks that overlap without nesting leave the slot set for good.

    ``intercept_clients`` (the end of packages/hyperhttp/src/hyperhttp/_mock.py)
    saves the slot it found and restores it on exit. Entered A then B and
    left A then B (two tasks or threads, each with its own block; the slot
    is process-wide on purpose), A's exit writes None and B's exit writes
    back A: after both blocks ended, every Client built anywhere in the
    process (the rest of the test session) is still answered by A's mock.
    """
    first = mock_clients()
    second = mock_clients()
    try:
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)
        second.__exit__(None, None, None)
        assert _mock.interception is None, "an interception outlived every block"
    finally:
        _mock.interception = None


# ---------------------------------------------------------------- CLI


def test_cli_json_file_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    """``--json @FILE`` of a file that is not UTF-8 raises out of ``main`` (a traceback).

    ``_Call.build`` (packages/hyperhttp/src/hyperhttp/cli/_request.py) reads
    the file with ``read_text("utf-8")`` outside the ``try`` that turns a
    bad JSON text into ``UsageError``; the ``UnicodeDecodeError`` is a
    ``ValueError``, which neither ``request_main`` nor ``main`` catches. Nothing
    is sent (the request is built first); the user gets a traceback, not
    "hyperhttp: error: ..." and exit status 2.
    """
    body = tmp_path / "body.json"
    body.write_bytes(b'{"a": "\xff"}')
    status, stderr = _run_cli("POST", "http://127.0.0.1:9/", "--json", f"@{body}")
    assert status == ExitStatus.USAGE
    assert "error" in stderr


def test_cli_timeout_nan_is_a_usage_error() -> None:
    """``--timeout nan`` passes the CLI's check and fails in ``Timeout`` with a traceback.

    ``_Call.client`` (cli/_request.py) refuses ``args.timeout <= 0``, which
    is False for NaN, then calls ``Timeout(nan)``, whose ``ValueError`` no
    handler in ``request_main`` or ``main`` catches: a traceback instead of
    a usage error (exit status 2).
    """
    status, stderr = _run_cli("GET", "http://127.0.0.1:9/", "--timeout", "nan")
    assert status == ExitStatus.USAGE
    assert "timeout" in stderr


def test_bench_plan_refuses_a_nan_rate() -> None:
    """``hyperhttp bench --rate nan`` is taken as an open-model rate.

    ``Plan.__post_init__`` (cli/_plan.py) refuses ``rate <= 0``, False for
    NaN: the schedule (cli/_schedule.py) then computes ``1e9 / nan`` as the
    interval between arrivals, and every due time is NaN. The same for
    ``--timeout nan``. A usage error is what a negative rate gets.
    """
    with pytest.raises(UsageError):
        Plan(url="http://127.0.0.1:9/", rate=float("nan"))


def test_histogram_percentile_rank_is_exact_despite_float_rounding() -> None:
    """P99.9 of 1 000 samples is reported as the maximum, not the 999th value.

    ``Histogram.percentiles`` (cli/_hdr.py) computes the nearest rank as
    ``ceil(percent / 100 * count)`` in floating point: 99.9 / 100 * 1000 is
    999.0000000000001, so the rank is 1000 (the same for 7 % of 100: rank 8).
    Invariant 2 promises the exact nearest rank; every value below 2 048 has
    its own bucket, so the answer must be exact. ``percent * count / 100``
    (or integer arithmetic) gives 999. The bench's headline P99.9 is
    wrong whenever the product lands on an integer.
    """
    histogram = Histogram()
    for value in range(1, 1001):
        histogram.record(value)
    assert histogram.percentile(99.9) == 999
    small = Histogram()
    for value in range(1, 101):
        small.record(value)
    assert small.percentile(7) == 7


# ---------------------------------------------------------------- guards


def test_guard_histogram_merge_is_the_histogram_of_all_values() -> None:
    """Merging two histograms equals recording every value in one (invariant 3)."""
    left, right, both = Histogram(), Histogram(), Histogram()
    for index in range(3000):
        value = (index * 7919) % 5_000_000
        (left if index % 3 else right).record(value)
        both.record(value)
    left.merge(right)
    assert left.counts == both.counts
    assert (left.count, left.min, left.max, left.total) == (
        both.count,
        both.min,
        both.max,
        both.total,
    )


def test_guard_cli_header_with_crlf_is_a_usage_error() -> None:
    """``-H`` with a CR/LF in its value is refused before anything is sent (exit status 2)."""
    status, stderr = _run_cli("GET", "http://127.0.0.1:9/", "-H", "X-A: 1\r\nX-B: 2")
    assert status == ExitStatus.USAGE
    assert "error" in stderr


def test_guard_cli_data_from_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    """``--data @missing`` is a usage error naming the file, not a traceback."""
    status, stderr = _run_cli("POST", "http://127.0.0.1:9/", "--data", f"@{tmp_path / 'nope'}")
    assert status == ExitStatus.USAGE
    assert "no such file" in stderr


def test_guard_url_full_redacts_credentials_and_signatures() -> None:
    """``url.full`` never holds the password or a signature's value (http-spans.md note 4)."""
    from hyperhttp._urls import parse_url
    from hyperhttp.otel._telemetry import full_url

    text = full_url(
        parse_url("https://user:s3cret@example.com/p?a=1&X-Amz-Signature=abc&sig=def#frag")
    )
    assert "s3cret" not in text
    assert "user" not in text
    assert "abc" not in text
    assert "def" not in text
    assert "a=1" in text
