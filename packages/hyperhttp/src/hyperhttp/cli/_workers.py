"""Running a plan: in this process, or in ``--procs N`` processes whose histograms are merged.

Strategy
--------
Each worker is one process with one event loop (uvloop when installed),
running its share of the plan (``Plan.share``: connections, ``-n`` and
``--rate`` split evenly, arrivals interleaved). Workers are started with
``multiprocessing``'s *spawn* method (a fresh interpreter: no event loop
or socket inherited) and talk to the parent over a pipe:

1. the worker opens its connections, then sends ``("ready",)`` (or
   ``("failed", reason)``);
2. once every worker is ready the parent sends ``("go", start)``: a
   ``time.perf_counter_ns()`` value shortly ahead (CLOCK_MONOTONIC, the same
   clock in every process), so all workers start measuring together;
3. once a second each worker sends ``("progress", responses, errors,
   in_flight, due_unsent)``, which the parent sums for the progress line;
4. at the end each sends ``("result", outcome)``: its histograms as their
   used buckets, merged by the parent bucket by bucket (exactly, see
   ``_hdr``).

A worker that dies or stays silent past its bounds is killed, by its PID,
and the run fails with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import signal
import time
from typing import TYPE_CHECKING, Any

from ._client_engine import ClientEngine
from ._engine import ConnectFailed, Engine
from ._outcome import Outcome
from ._plan import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._engine import Progress
    from ._plan import Plan

__all__ = ["loop_factory", "run_here", "run_workers"]

_START_AHEAD = 0.1  # seconds between "go" and the common start
_SETUP_SLACK = 30.0  # seconds a worker may take to start, beyond its connect timeout
_END_SLACK = 30.0  # seconds a worker may take to report, beyond the run's end


def loop_factory(choice: str) -> tuple[Callable[[], asyncio.AbstractEventLoop], str]:
    """Return the event loop factory for ``--loop`` and its name.

    Raises:
        UsageError: ``uvloop`` asked for and not installed, or an unknown choice.

    """
    if choice not in ("auto", "uvloop", "asyncio"):
        raise UsageError(f"--loop is auto, uvloop or asyncio, not {choice!r}")
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise UsageError("--loop uvloop: uvloop is not installed") from None
        else:
            return uvloop.new_event_loop, "uvloop"
    return asyncio.new_event_loop, "asyncio"


def _engine(plan: Plan, loop: asyncio.AbstractEventLoop) -> Engine | ClientEngine:
    return ClientEngine(plan, loop) if plan.engine == "client" else Engine(plan, loop)


def run_here(plan: Plan, progress: Progress | None) -> Outcome:
    """Run the whole plan in this process, on its own event loop.

    Raises:
        ConnectFailed: no connection could be opened.
        UsageError: the plan cannot be sent (a bad field, no uvloop...).

    """
    factory, name = loop_factory(plan.loop)
    with asyncio.Runner(loop_factory=factory) as runner:
        engine = _engine(plan, runner.get_loop())
        try:
            runner.run(engine.connect())
        except BaseException:
            runner.run(engine.aclose())
            raise
        outcome = runner.run(engine.measure(None, progress))
    outcome.loop = name
    return outcome


# ---------------------------------------------------------------- the worker side


def worker_main(plan: Plan, pipe: multiprocessing.connection.Connection) -> None:
    """Run one ``--procs`` worker: connect, say ready, wait for go, measure, send the outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        factory, name = loop_factory(plan.loop)
        with asyncio.Runner(loop_factory=factory) as runner:
            engine = _engine(plan, runner.get_loop())
            try:
                runner.run(engine.connect())
            except ConnectFailed as exc:
                runner.run(engine.aclose())
                pipe.send(("failed", str(exc)))
                return
            pipe.send(("ready",))
            message = pipe.recv()
            if message[0] != "go":
                runner.run(engine.aclose())
                return

            def progress(*figures: int) -> None:
                pipe.send(("progress", *figures))

            outcome = runner.run(engine.measure(message[1], progress))
        outcome.loop = name
        pipe.send(("result", outcome.to_wire()))
    except Exception as exc:  # reported to the parent, which prints it
        with contextlib.suppress(OSError):
            pipe.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


# ---------------------------------------------------------------- the parent side


class WorkerFailed(Exception):
    """A worker process failed or stayed silent; the message says which and why."""


def run_workers(plan: Plan, procs: int, progress: Progress | None) -> Outcome:
    """Run ``plan`` in ``procs`` worker processes and merge their outcomes.

    Raises:
        ConnectFailed: a worker could not open any connection.
        WorkerFailed: a worker crashed or did not answer in time.
        UsageError: the plan cannot be split (fewer connections than workers).

    """
    shares = [plan.share(index, procs) for index in range(procs)]
    context = multiprocessing.get_context("spawn")
    pipes: list[multiprocessing.connection.Connection] = []
    processes: list[Any] = []
    try:
        for share in shares:
            parent, child = context.Pipe()
            process = context.Process(target=worker_main, args=(share, child), daemon=True)
            process.start()
            child.close()
            pipes.append(parent)
            processes.append(process)
        _wait_ready(pipes, processes, plan.timeout + _SETUP_SLACK)
        start = time.perf_counter_ns() + int(_START_AHEAD * 1e9)
        for pipe in pipes:
            pipe.send(("go", start))
        return _collect(plan, pipes, processes, progress)
    finally:
        for pipe in pipes:
            with contextlib.suppress(OSError):
                pipe.send(("stop",))
            pipe.close()
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)


def _wait_ready(
    pipes: list[multiprocessing.connection.Connection], processes: list[Any], limit: float
) -> None:
    waiting = dict(zip(pipes, processes, strict=True))
    deadline = time.monotonic() + limit
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            raise WorkerFailed(f"{len(waiting)} worker(s) did not connect within {limit:g} s")
        for pipe in multiprocessing.connection.wait(list(waiting), left):
            assert isinstance(pipe, multiprocessing.connection.Connection)
            try:
                message = pipe.recv()
            except EOFError:
                raise WorkerFailed(f"worker {waiting[pipe].pid} exited while connecting") from None
            if message[0] == "failed":
                raise ConnectFailed(message[1])
            del waiting[pipe]


def _collect(
    plan: Plan,
    pipes: list[multiprocessing.connection.Connection],
    processes: list[Any],
    progress: Progress | None,
) -> Outcome:
    figures: dict[Any, tuple[int, ...]] = {}
    outcomes: list[Outcome] = []
    waiting = dict(zip(pipes, processes, strict=True))
    started = time.monotonic()
    limit = (plan.duration or 0.0) + plan.timeout + _END_SLACK
    last_report = time.monotonic()
    while waiting:
        silent_for = time.monotonic() - started
        if plan.requests is None and silent_for > limit:
            raise WorkerFailed(f"{len(waiting)} worker(s) did not finish within {limit:g} s")
        for pipe in multiprocessing.connection.wait(list(waiting), 0.25):
            assert isinstance(pipe, multiprocessing.connection.Connection)
            try:
                message = pipe.recv()
            except EOFError:
                raise WorkerFailed(f"worker {waiting[pipe].pid} exited without a result") from None
            if message[0] == "progress":
                figures[pipe] = tuple(message[1:])
            elif message[0] == "result":
                outcomes.append(Outcome.from_wire(message[1]))
                del waiting[pipe]
            elif message[0] == "failed":
                raise WorkerFailed(message[1])
        now = time.monotonic()
        if progress is not None and figures and now - last_report >= 1.0:
            last_report = now
            totals = [sum(column) for column in zip(*figures.values(), strict=True)]
            progress(*totals)
    merged = outcomes[0]
    for outcome in outcomes[1:]:
        merged.merge(outcome)
    return merged
