"""The dante fixtures: Debian's ``danted`` as a SOCKS proxy on a loopback port.

``dante`` accepts SOCKS4 and SOCKS5 without authentication; ``dante_auth``
takes SOCKS5 with the RFC 1929 username/password method only, checked
against the system user ``hyperhttp-socks`` (dante's ``socksmethod:
username`` reads the system's password database; ``.ci/install_dante.sh``
creates the user with the fixed password below). Both are session-scoped:
one danted each for the whole run.

Each runs as a child process with its own configuration, PID file and log
in a temporary folder (nothing of the system's dante setup is read), on a
free port of 127.0.0.1. Clients are accepted from 127.0.0.0/8 only and only
CONNECT to 127.0.0.0/8 is passed (a name such as ``localhost`` is resolved
by dante and must land there too); everything else gets a "not allowed by
ruleset" reply. The process is stopped by its PID at the end of the session,
and anything of its process group left behind (its children) with it.

Dante 1.4.2 (Debian 12) speaks SOCKS4 but not SOCKS4A: a SOCKS4A request
(DSTIP 0.0.0.1 and a name after the USERID) is taken as a SOCKS4 request
for 0.0.0.1, which the rules block (reply 91). SOCKS4 has no password, so
SOCKS4 is only served by ``dante``.

When danted (or, for ``dante_auth``, the test user or root) is missing the
tests are skipped with the reason, except under CI (``CI`` set), where
``.ci/run`` installs them and a missing one fails, as with nginx.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["SOCKS_PASSWORD", "SOCKS_USER", "Dante", "danted_binary", "start_dante", "stop_dante"]

#: The system user dante's username method checks, and its fixed, public test
#: password (.ci/install_dante.sh creates both).
SOCKS_USER = "hyperhttp-socks"
SOCKS_PASSWORD = "hyperhttp-socks-test"  # noqa: S105 - a public test value
#: How long danted may take to listen, and to stop.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


@dataclass
class Dante:
    """A running danted: where it listens, the credentials it wants, its process and log."""

    host: str
    port: int
    username: str | None
    password: str | None
    process: subprocess.Popen[bytes]
    log: Path


def danted_binary() -> str | None:
    """Return danted's path (it lives in /usr/sbin, often not on a user's PATH)."""
    return shutil.which("danted") or shutil.which("danted", path="/usr/sbin:/usr/local/sbin")


def _missing(reason: str, install: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it ({install})")
    pytest.skip(f"{reason} ({install} to run these tests)")


def require_dante(*, auth: bool = False) -> str:
    """Return danted's path; without it (or the test user) skip the test, or fail it under CI."""
    binary = danted_binary()
    if binary is None:
        _missing("danted is not installed", "bash .ci/install_dante.sh")
    assert binary is not None
    if auth:
        try:
            pwd.getpwnam(SOCKS_USER)
        except KeyError:
            _missing(f"the SOCKS test user {SOCKS_USER!r} is missing", "bash .ci/install_dante.sh")
        if os.geteuid() != 0:
            _missing("dante checks passwords in /etc/shadow only as root", "run as root")
    return binary


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _config(root: Path, port: int, *, auth: bool) -> str:
    # Run as root (the password check reads /etc/shadow); without root, dante
    # runs as the user it was started by.
    users = "user.privileged: root\nuser.unprivileged: nobody\n" if os.geteuid() == 0 else ""
    return f"""logoutput: {root}/danted.log
internal: 127.0.0.1 port = {port}
external: 127.0.0.1
clientmethod: none
socksmethod: {"username" if auth else "none"}
{users}client pass {{
    from: 127.0.0.0/8 to: 127.0.0.0/8
    log: error
}}
client block {{
    from: 0.0.0.0/0 to: 0.0.0.0/0
    log: error connect
}}
socks pass {{
    from: 127.0.0.0/8 to: 127.0.0.0/8
    command: connect
    log: error connect
}}
socks block {{
    from: 0.0.0.0/0 to: 0.0.0.0/0
    log: error connect
}}
"""


def start_dante(root: Path, *, auth: bool = False) -> Dante:
    """Start danted with its own configuration under ``root``; wait until it listens.

    ``auth``: the username method (RFC 1929) with :data:`SOCKS_USER`, else
    no authentication. A probed port can be taken before danted binds it: up
    to five tries, each with a new port. Raises RuntimeError with the end of
    danted's log when it does not start.
    """
    binary = danted_binary()
    assert binary is not None
    root.mkdir(parents=True, exist_ok=True)
    log = root / "danted.log"
    for _ in range(5):
        port = _free_port()
        conf = root / "danted.conf"
        conf.write_text(_config(root, port, auth=auth))
        with (root / "danted.stderr").open("ab") as stderr:
            process = subprocess.Popen(
                [binary, "-f", str(conf), "-p", str(root / "danted.pid"), "-N", "1"],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group: its children stop with it
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            username, password = (SOCKS_USER, SOCKS_PASSWORD) if auth else (None, None)
            return Dante("127.0.0.1", port, username, password, process, log)
        stop_dante(process)
    text = log.read_text() if log.exists() else ""
    raise RuntimeError(f"danted did not start: {text[-2000:]}")


def stop_dante(process: subprocess.Popen[bytes]) -> None:
    """Stop the danted we started, by its PID, and whatever of its process group is left.

    SIGTERM makes the mother process stop its children and exit. Until we reap
    it its PID, and so its process group's id (``start_new_session``), cannot
    be reused: the group is then killed whole (children that outlived it), and
    only then is the process reaped.
    """
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and not _exited(process.pid):
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(STOP_TIMEOUT)


def _exited(pid: int) -> bool:
    """Whether our child ``pid`` has exited, without reaping it."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


@pytest.fixture(scope="session")
def dante(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dante]:
    """Run danted on 127.0.0.1 without authentication (SOCKS4 and SOCKS5)."""
    require_dante()
    server = start_dante(tmp_path_factory.mktemp("dante"))
    try:
        yield server
    finally:
        stop_dante(server.process)


@pytest.fixture(scope="session")
def dante_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dante]:
    """Run danted on 127.0.0.1 with SOCKS5 username/password (SOCKS_USER, SOCKS_PASSWORD)."""
    require_dante(auth=True)
    server = start_dante(tmp_path_factory.mktemp("dante-auth"), auth=True)
    try:
        yield server
    finally:
        stop_dante(server.process)
