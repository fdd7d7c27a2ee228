"""``hyperhttp``'s entry point: which command, the extra's check, errors as one line.

``main(argv)`` never raises for bad input or a failed request: it prints
one line naming what went wrong and returns the exit status
(:class:`ExitStatus`). ``hyperhttp bench ...`` is the load generator, any
other first word a method or a URL.
"""

from __future__ import annotations

import enum
import sys
from typing import TextIO

from ._plan import UsageError

__all__ = ["ExitStatus", "main"]

EXTRA_HINT = "pip install 'hyperhttp[cli]'"


class ExitStatus(enum.IntEnum):
    """The exit statuses of ``hyperhttp`` (docs/cli.md)."""

    OK = 0
    ERROR = 1  # transport or protocol error; for bench: the run could not start
    USAGE = 2  # bad input: an option, the URL, a header, JSON, a file
    HTTP_3XX = 3  # with --check-status: a redirect not followed
    HTTP_4XX = 4  # with --check-status
    HTTP_5XX = 5  # with --check-status
    TOO_MANY_REDIRECTS = 6
    TIMEOUT = 7
    INTERRUPTED = 130


USAGE = """usage: hyperhttp [METHOD] URL [options]     one request (hyperhttp --help)
       hyperhttp bench URL [options]      the load generator (hyperhttp bench --help)
"""


def _missing_extra() -> str | None:
    """Return the first module of the ``cli`` extra that does not import, or None."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return "rich"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the ``hyperhttp`` command with ``argv`` (default: ``sys.argv[1:]``).

    Returns:
        The exit status (:class:`ExitStatus`).

    """
    argv = sys.argv[1:] if argv is None else list(argv)
    stdout: TextIO = sys.stdout
    stderr: TextIO = sys.stderr
    missing = _missing_extra()
    if missing is not None:
        stderr.write(
            f"hyperhttp: the command line needs the 'cli' extra ({missing} is not installed):"
            f" {EXTRA_HINT}\n"
        )
        return ExitStatus.ERROR
    if not argv:
        stderr.write(USAGE)
        return ExitStatus.USAGE
    if argv[0] in ("--version", "-V"):
        from hyperhttp.__about__ import __version__

        stdout.write(f"hyperhttp {__version__}\n")
        return ExitStatus.OK
    bench = argv[0] == "bench"
    try:
        if bench:
            from ._bench import bench_main

            return bench_main(argv[1:], stdout, stderr)
        from ._request import request_main

        return request_main(argv, stdout, stderr)
    except UsageError as exc:
        stderr.write(f"hyperhttp{' bench' if bench else ''}: error: {exc}\n")
        return ExitStatus.USAGE
    except SystemExit as exc:  # argparse's --help
        return exc.code if isinstance(exc.code, int) else ExitStatus.USAGE
    except KeyboardInterrupt:
        stderr.write("hyperhttp: interrupted\n")
        return ExitStatus.INTERRUPTED
