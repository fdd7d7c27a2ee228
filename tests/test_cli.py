"""The ``hyperhttp`` command's requests (hyperhttp.cli), against loopback servers.

``main(argv)`` runs in a thread (it runs its own event loop) while the
test's loop serves; its output is captured with capsys. A few cases run
``python -m hyperhttp`` as a subprocess, as users do.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from hyperhttp.cli import ExitStatus, main

from tests.servers.fixtures import response

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from tests.servers.fixtures import H2Server, RawServer, Script, TLSSetup, WebServer

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class FakeTTY(io.StringIO):
    """A captured stream that says it is a terminal (for colour and progress bars)."""

    def isatty(self) -> bool:
        return True


async def cli(*argv: str) -> int:
    """Run ``hyperhttp ARGV`` in-process, in a thread (it has its own event loop)."""
    return await asyncio.to_thread(main, list(argv))


async def run_module(*argv: str) -> tuple[int, str, str]:
    """Run ``python -m hyperhttp ARGV``; return (exit status, stdout, stderr)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hyperhttp", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


# ---------------------------------------------------------------- output


@pytest.mark.asyncio
async def test_get_prints_status_line_headers_and_json_pretty(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON response: status line, header fields, then the body indented, no colour in a pipe."""
    status = await cli("GET", f"{web_server.url}/echo?x=1")
    out, _ = capsys.readouterr()
    assert status == ExitStatus.OK
    assert out.startswith("HTTP/1.1 200 OK\n")
    assert re.search(r"^content-type: application/json", out, re.MULTILINE | re.IGNORECASE)
    assert '\n{\n  "method": "GET",\n  "path": "/echo",' in out
    assert not ANSI.search(out)


@pytest.mark.asyncio
async def test_colour_on_request(web_server: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """--color colours the status line, the field names and the JSON even into a pipe."""
    await cli(f"{web_server.url}/echo", "--color")
    out, _ = capsys.readouterr()
    assert ANSI.search(out)
    plain = ANSI.sub("", out)
    assert plain.startswith("HTTP/1.1 200 OK")
    assert json.loads(plain.split("\n\n", 1)[1])["method"] == "GET"


@pytest.mark.asyncio
async def test_terminal_gets_colour_and_no_color_turns_it_off(
    web_server: WebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal the output is coloured; --no-color (and NO_COLOR) make it plain."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for flags, coloured in (((), True), (("--no-color",), False)):
        stdout = FakeTTY()
        monkeypatch.setattr(sys, "stdout", stdout)
        assert await cli(f"{web_server.url}/size/3", *flags) == ExitStatus.OK
        assert bool(ANSI.search(stdout.getvalue())) is coloured, flags
    monkeypatch.setenv("NO_COLOR", "1")
    stdout = FakeTTY()
    monkeypatch.setattr(sys, "stdout", stdout)
    await cli(f"{web_server.url}/size/3")
    assert not ANSI.search(stdout.getvalue())


@pytest.mark.asyncio
async def test_body_markup_is_printed_as_text(
    raw_server: Callable[[Script], Awaitable[RawServer]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A body or field that looks like rich markup is shown as it is, coloured or not."""
    server = await raw_server(lambda _req, _n: response(200, b"[bold]x[/bold]", ["X-Note: [red]y"]))
    await cli(server.url, "--color")
    out = ANSI.sub("", capsys.readouterr().out)
    assert "[bold]x[/bold]" in out
    assert "x-note: [red]y" in out.lower()


@pytest.mark.asyncio
async def test_body_only_prints_the_bytes_as_received(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """-b prints the body alone, unformatted (for pipes)."""
    await cli(f"{web_server.url}/echo", "-b")
    out = capsys.readouterr().out
    assert out.startswith('{"method": "GET"')
    assert "HTTP/1.1" not in out


@pytest.mark.asyncio
async def test_no_body_prints_the_head_only(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """--no-body stops after the header fields."""
    await cli(f"{web_server.url}/size/50", "--no-body")
    out = capsys.readouterr().out
    assert out.startswith("HTTP/1.1 200 OK")
    assert "x" * 50 not in out


@pytest.mark.asyncio
async def test_binary_body_is_not_dumped_on_the_terminal(
    raw_server: Callable[[Script], Awaitable[RawServer]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A body with NUL bytes is a note on stderr, not garbage on stdout."""
    server = await raw_server(
        lambda _req, _n: response(200, b"\x00\x01\x02binary", ["Content-Type: image/png"])
    )
    assert await cli(server.url) == ExitStatus.OK
    out, err = capsys.readouterr()
    assert "binary" not in out
    assert "[binary body: 9 bytes" in err


@pytest.mark.asyncio
async def test_quiet_prints_nothing(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """-q: no output at all; the exit status tells."""
    assert await cli(f"{web_server.url}/size/10", "-q") == ExitStatus.OK
    assert capsys.readouterr() == ("", "")


@pytest.mark.asyncio
async def test_verbose_shows_the_request_and_the_trace_timings(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """-v: the request fields and the timings from the client's trace events, on stderr."""
    await cli(f"{web_server.url}/size/10", "-v", "-H", "X-Test: 1")
    out, err = capsys.readouterr()
    assert "> GET " in err
    assert "> X-Test: 1" in err
    assert re.search(r"\* connected to 127\.0\.0\.1:\d+ \(HTTP/1\.1\)", err)
    timings = next(line for line in err.splitlines() if line.startswith("* timings:"))
    for phase in ("DNS", "connect", "TTFB", "total"):
        assert phase in timings
    assert "> GET" not in out  # stdout keeps the response alone


# ---------------------------------------------------------------- what is sent


@pytest.mark.asyncio
async def test_headers_repeat_and_json_body(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """-H is repeatable; --json sends the text as given with Content-Type application/json."""
    await cli(
        "POST",
        f"{web_server.url}/echo",
        "-H",
        "X-A: 1",
        "-H",
        "X-B:  two ",
        "--json",
        '{"a": 1}',
        "-b",
    )
    seen = json.loads(capsys.readouterr().out)
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert headers["x-a"] == "1"
    assert headers["x-b"] == "two"
    assert headers["content-type"] == "application/json"
    assert seen["body"] == '{"a": 1}'
    assert seen["method"] == "POST"


@pytest.mark.asyncio
async def test_method_defaults_to_post_with_a_body(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """With only a URL and --data the method is POST (GET without a body)."""
    await cli(f"{web_server.url}/echo", "--data", "hello", "-b")
    seen = json.loads(capsys.readouterr().out)
    assert (seen["method"], seen["body"]) == ("POST", "hello")


@pytest.mark.asyncio
async def test_any_method(web_server: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A method is any token; lower case is upper-cased."""
    await cli("purge", f"{web_server.url}/echo", "-b")
    assert json.loads(capsys.readouterr().out)["method"] == "PURGE"


@pytest.mark.asyncio
async def test_upload_is_streamed_from_the_file_with_its_length(
    web_server: WebServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--data @FILE: the file's bytes, sent with Content-Length (not chunked), not read whole."""
    payload = bytes(range(256)) * 4096  # 1 MiB
    path = tmp_path / "upload.bin"
    path.write_bytes(payload)
    assert await cli("PUT", f"{web_server.url}/echo", "--data", f"@{path}", "-b") == 0
    out, err = capsys.readouterr()
    seen = json.loads(out)
    assert seen["body"].encode("latin-1") == payload
    assert seen["chunked"] is False
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert headers["content-length"] == str(len(payload))
    assert err == ""  # no progress bar when stderr is not a terminal


@pytest.mark.asyncio
async def test_upload_progress_bar_on_a_terminal(
    web_server: WebServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal an upload shows a progress bar (bytes, rate, time left) on stderr."""
    path = tmp_path / "up.bin"
    path.write_bytes(b"u" * 300_000)
    stderr = FakeTTY()
    monkeypatch.setattr(sys, "stderr", stderr)
    assert await cli("POST", f"{web_server.url}/echo", "--data", f"@{path}", "-q") == 0
    assert stderr.getvalue() == ""  # -q: not even the bar
    assert await cli("POST", f"{web_server.url}/echo", "--data", f"@{path}", "--no-body") == 0
    shown = ANSI.sub("", stderr.getvalue())
    assert "up.bin" in shown
    assert "300.0/300.0 kB" in shown


@pytest.mark.asyncio
async def test_body_from_standard_input(
    web_server: WebServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--data @- sends what standard input holds."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"piped in")))
    await cli("PUT", f"{web_server.url}/echo", "--data", "@-", "-b")
    seen = json.loads(capsys.readouterr().out)
    assert (seen["method"], seen["body"]) == ("PUT", "piped in")


@pytest.mark.asyncio
async def test_form_fields(web_server: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """--form NAME=VALUE sends an urlencoded form."""
    await cli(f"{web_server.url}/echo", "-f", "a=1", "-f", "b=x y", "-b")
    seen = json.loads(capsys.readouterr().out)
    assert seen["body"] == "a=1&b=x+y"
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert headers["content-type"] == "application/x-www-form-urlencoded"


@pytest.mark.asyncio
async def test_form_file_is_multipart(
    web_server: WebServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--form NAME@FILE sends multipart/form-data with the file as a part."""
    path = tmp_path / "note.txt"
    path.write_text("file content")
    await cli(f"{web_server.url}/echo", "-f", "doc@" + str(path), "-f", "k=v", "-b")
    seen = json.loads(capsys.readouterr().out)
    assert 'name="doc"; filename="note.txt"' in seen["body"]
    assert "file content" in seen["body"]
    assert 'name="k"' in seen["body"]


# ---------------------------------------------------------------- downloads


@pytest.mark.asyncio
async def test_download_to_a_file_without_progress_in_a_pipe(
    web_server: WebServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o FILE saves the body; stderr is not a terminal, so no progress bar, only the note."""
    target = tmp_path / "big.bin"
    assert await cli(f"{web_server.url}/big?bytes=300000", "-o", str(target)) == 0
    assert target.read_bytes() == b"b" * 300_000
    out, err = capsys.readouterr()
    assert out.startswith("HTTP/1.1 200 OK")
    assert "b" * 100 not in out
    assert err.strip() == f"saved 300,000 bytes to {target}"


@pytest.mark.asyncio
async def test_download_progress_bar_on_a_terminal(
    web_server: WebServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal -o shows a progress bar with the total from Content-Length."""
    target = tmp_path / "file.bin"
    stderr = FakeTTY()
    monkeypatch.setattr(sys, "stderr", stderr)
    assert await cli(f"{web_server.url}/big?bytes=200000", "-o", str(target), "--no-color") == 0
    shown = ANSI.sub("", stderr.getvalue())
    assert "file.bin" in shown
    assert "200.0/200.0 kB" in shown
    assert target.stat().st_size == 200_000


# ---------------------------------------------------------------- protocols


@pytest.mark.asyncio
async def test_http2_with_a_ca_file(
    h2_server: H2Server, tls: TLSSetup, capsys: pytest.CaptureFixture[str]
) -> None:
    """--http2 --verify CA: the response comes over HTTP/2, certificate checked."""
    status = await cli(f"{h2_server.url}/size/5", "--http2", "--verify", tls.ca_path)
    out, err = capsys.readouterr()
    assert status == ExitStatus.OK, err
    assert out.startswith("HTTP/2 200")


@pytest.mark.asyncio
async def test_http2_prior_knowledge_on_http(
    h2c_server: H2Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """--http2 on http://: HTTP/2 with prior knowledge (h2c)."""
    assert await cli(f"{h2c_server.url}/size/5", "--http2") == ExitStatus.OK
    assert capsys.readouterr().out.startswith("HTTP/2 200")


@pytest.mark.asyncio
async def test_insecure_skips_verification_quietly(
    h2_server: H2Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """-k accepts a certificate from an unknown CA, without a warning on stderr."""
    assert await cli(f"{h2_server.url}/size/5", "-k") == ExitStatus.OK
    out, err = capsys.readouterr()
    assert out.startswith("HTTP/2 200")
    assert err == ""


@pytest.mark.asyncio
async def test_unknown_ca_is_an_error(
    h2_server: H2Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without -k a certificate from an unknown CA fails: ConnectError, exit status 1."""
    assert await cli(f"{h2_server.url}/size/5") == ExitStatus.ERROR
    err = capsys.readouterr().err
    assert err.startswith("hyperhttp: error: ConnectError:")
    assert "Traceback" not in err


@pytest.mark.asyncio
async def test_http1_only(h2_server: H2Server, capsys: pytest.CaptureFixture[str]) -> None:
    """--http1 keeps an h2-capable server on HTTP/1.1."""
    await cli(f"{h2_server.url}/size/5", "--http1", "-k")
    assert capsys.readouterr().out.startswith("HTTP/1.1 200")


# ---------------------------------------------------------------- exit statuses


@pytest.mark.asyncio
async def test_connection_refused_is_exit_1_with_its_type(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nothing listening: one line naming ConnectError, exit status 1, no traceback."""
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert await cli(f"http://127.0.0.1:{port}/") == ExitStatus.ERROR
    err = capsys.readouterr().err
    assert err.startswith("hyperhttp: error: ConnectError: ")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.asyncio
async def test_timeout_is_exit_7(web_server: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A response slower than --timeout: ReadTimeout, exit status 7."""
    assert await cli(f"{web_server.url}/sleep/5", "--timeout", "0.2") == ExitStatus.TIMEOUT
    assert capsys.readouterr().err.startswith("hyperhttp: error: ReadTimeout")


@pytest.mark.asyncio
@pytest.mark.parametrize(("code", "status"), [(200, 0), (404, 4), (503, 5)])
async def test_check_status(
    web_server: WebServer, code: int, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """--check-status: 4 for a 4xx, 5 for a 5xx; without it, 0 whatever the status."""
    assert await cli(f"{web_server.url}/status/{code}", "--check-status") == status
    assert await cli(f"{web_server.url}/status/{code}") == ExitStatus.OK
    assert capsys.readouterr().out.startswith(f"HTTP/1.1 {code}")


@pytest.mark.asyncio
async def test_redirects_followed_shown_or_looping(
    raw_server: Callable[[Script], Awaitable[RawServer]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Redirects are followed; --no-follow shows the 3xx; a loop is exit status 6.

    With --no-follow and --check-status a 3xx is exit status 3.
    """

    def respond(request: bytes, _n: int) -> bytes:
        if request.startswith(b"GET /loop"):
            return response(302, headers=["Location: /loop"])
        if request.startswith(b"GET /moved"):
            return response(301, headers=["Location: /here"])
        return response(200, b"arrived")

    server = await raw_server(respond)
    assert await cli(f"{server.url}/moved") == ExitStatus.OK
    assert capsys.readouterr().out.endswith("arrived\n")
    assert await cli(f"{server.url}/moved", "--no-follow", "--check-status") == 3
    assert capsys.readouterr().out.startswith("HTTP/1.1 301")
    assert await cli(f"{server.url}/loop") == ExitStatus.TOO_MANY_REDIRECTS
    assert "TooManyRedirects" in capsys.readouterr().err


@pytest.mark.asyncio
async def test_malformed_response_is_a_remote_protocol_error(
    raw_server: Callable[[Script], Awaitable[RawServer]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The client's strict parser refuses CL + TE: RemoteProtocolError, exit status 1."""
    server = await raw_server(
        lambda _r, _n: b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    assert await cli(server.url) == ExitStatus.ERROR
    assert capsys.readouterr().err.startswith("hyperhttp: error: RemoteProtocolError:")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["GET", "ftp://example.invalid/"], "InvalidURL"),
        (["GET", "not a url"], "InvalidURL"),
        (["http://127.0.0.1:9/", "-H", "NoColon"], "is not 'Name: value'"),
        (["http://127.0.0.1:9/", "-H", "Bad Name: x"], "Bad Name"),
        (["http://127.0.0.1:9/", "--json", "{nope"], "--json is not valid JSON"),
        (["http://127.0.0.1:9/", "--data", "@/no/such/file"], "no such file"),
        (["http://127.0.0.1:9/", "--form", "novalue"], "NAME=VALUE or NAME@FILE"),
        (["http://127.0.0.1:9/", "--timeout", "-1"], "--timeout must be a positive number"),
        (["http://127.0.0.1:9/", "--bogus"], "unrecognized arguments: --bogus"),
        (["http://127.0.0.1:9/", "--json", "{}", "--data", "x"], "not allowed with"),
        (["a", "b", "c"], "expected [METHOD] URL"),
        (["http://127.0.0.1:9/", "GET"], "the method comes before the URL"),
        (["G;T", "http://127.0.0.1:9/"], "not a token"),
        (["http://127.0.0.1:9/", "-o", "/no/such/dir/file"], "no such directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad input: exit status 2 and one line saying what is wrong, nothing sent, no traceback."""
    assert main(argv) == ExitStatus.USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("hyperhttp: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_no_arguments_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """No arguments: the usage of both commands, exit status 2."""
    assert main([]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "hyperhttp [METHOD] URL" in err
    assert "hyperhttp bench URL" in err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--help exits 0 with the options; --version prints hyperhttp's version."""
    import hyperhttp

    assert main(["--help"]) == ExitStatus.OK
    assert "--check-status" in capsys.readouterr().out
    assert main(["--version"]) == ExitStatus.OK
    assert capsys.readouterr().out == f"hyperhttp {hyperhttp.__version__}\n"


def test_missing_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without rich (the cli extra) the command says what to install, exit status 1."""
    monkeypatch.setitem(sys.modules, "rich", None)  # import rich -> ImportError
    assert main(["GET", "http://127.0.0.1:9/"]) == ExitStatus.ERROR
    err = capsys.readouterr().err
    assert "pip install 'hyperhttp[cli]'" in err
    assert "rich" in err


# ---------------------------------------------------------------- as users run it


@pytest.mark.asyncio
async def test_python_m_hyperhttp(web_server: WebServer) -> None:
    """``python -m hyperhttp GET URL`` works as a subprocess: output, exit status, errors."""
    status, out, err = await run_module("GET", f"{web_server.url}/echo", "--no-color")
    assert status == 0, err
    assert out.startswith("HTTP/1.1 200 OK")
    assert '"method": "GET"' in out
    status, out, err = await run_module(f"{web_server.url}/status/500", "--check-status", "-q")
    assert (status, out, err) == (5, "", "")
    status, _, err = await run_module("GET", "http://[::1")
    assert status == 2
    assert err.startswith("hyperhttp: error: InvalidURL")
    assert "Traceback" not in err


def test_importing_hyperhttp_does_not_import_the_cli() -> None:
    """``import hyperhttp`` loads neither hyperhttp.cli nor rich (the extra stays optional)."""
    code = (
        "import sys, hyperhttp\n"
        "assert 'hyperhttp.cli' not in sys.modules, 'cli imported'\n"
        "assert 'rich' not in sys.modules, 'rich imported'\n"
        "import hyperhttp.cli\n"
        "assert 'rich' not in sys.modules, 'rich imported by hyperhttp.cli'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
