"""``hyperhttp bench``, the load generator, against loopback servers.

Nothing here asserts a rate: the runs are small (-n) or short (-d 1-2 s),
and the checks are on counts, statuses, errors, the report's shape, and
latencies shaped by a deliberate one-second stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from hyperhttp.cli import ExitStatus, main

from tests.servers.fixtures import response
from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from tests.servers.fixtures import H2Server, RawServer, Script, TLSSetup, WebServer
    from tests.servers.nginx_proc import Nginx

STALL = 1.0  # seconds the stalling server holds one response


async def bench(*argv: str) -> int:
    """Run ``hyperhttp bench ARGV`` in-process, in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(main, ["bench", *argv])


async def bench_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """Run ``hyperhttp bench ARGV --json -q`` and return the parsed report."""
    status = await bench(*argv, "--json", "-q")
    out, err = capsys.readouterr()
    assert status == ExitStatus.OK, err
    report: dict[str, Any] = json.loads(out)
    return report


# ---------------------------------------------------------------- the closed model


@pytest.mark.asyncio
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_closed_model_sends_exactly_n(
    web_server: WebServer, capsys: pytest.CaptureFixture[str], loop: str
) -> None:
    """-n 300 -c 8: 300 requests reach the server, 300 responses are counted, no error."""
    report = await bench_json(
        capsys, f"{web_server.url}/size/10", "-n", "300", "-c", "8", "--loop", loop
    )
    assert report["responses"] == 300
    assert report["status"] == {"200": 300}
    assert report["errors"] == {}
    assert report["loop"] == loop
    assert len(web_server.requests) == 300  # connection setup sends nothing
    assert report["connections_opened"] == 8
    assert report["in_flight_at_end"] == 0


@pytest.mark.asyncio
async def test_a_host_name_uses_the_first_address_that_accepts(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name resolving to ::1 first while the server listens on 127.0.0.1 only still works."""
    report = await bench_json(
        capsys, f"http://localhost:{web_server.port}/size/10", "-n", "20", "-c", "2"
    )
    assert (report["responses"], report["errors"]) == (20, {})


@pytest.mark.asyncio
async def test_json_report_shape(web_server: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """--json: every field the docs list, with the right types."""
    report = await bench_json(capsys, f"{web_server.url}/size/100", "-n", "50", "-c", "2")
    assert report["protocol"] == "HTTP/1.1"
    assert report["model"] == "closed"
    assert (report["method"], report["engine"], report["procs"]) == ("GET", "lean", 1)
    assert (report["connections"], report["streams"], report["concurrency"]) == (2, 1, 2)
    assert report["requests"] == 50
    assert report["duration"] is None
    assert report["rate"] is None
    latency = report["latency_ms"]
    assert set(latency) == {"p50", "p90", "p99", "p99.9", "p99.99", "min", "mean", "max"}
    assert 0 < latency["min"] <= latency["p50"] <= latency["p99.99"] <= latency["max"]
    assert report["histogram"]["unit"] == "ns"
    assert report["histogram"]["relative_error"] == 1 / 2048
    assert report["bytes"]["received"] > 50 * 100
    assert report["bytes"]["sent"] > 50 * len("GET /size/100 HTTP/1.1\r\n")
    assert report["error_count"] == 0
    assert report["rps"] > 0
    assert report["elapsed"] > 0
    assert report["cpu_seconds"] >= 0
    assert "lag_ms" not in report  # the open model's


@pytest.mark.asyncio
async def test_text_report(web_server: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """The text report: the setup, responses and rate, latency percentiles, statuses, errors."""
    status = await bench(f"{web_server.url}/size/10", "-n", "40", "-c", "2", "-q")
    out, err = capsys.readouterr()
    assert status == ExitStatus.OK
    assert err == ""  # -q: no progress line
    assert out.startswith(f"hyperhttp bench GET {web_server.url}/size/10\n")
    assert "HTTP/1.1, 2 connections, closed model (fixed concurrency), 1 process" in out
    assert "40 responses in " in out
    assert "latency (ms): p50 " in out
    assert "p99.99 " in out
    assert "status codes: 200 x 40" in out
    assert "errors: none" in out


@pytest.mark.asyncio
async def test_progress_line_once_a_second(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A timed run prints a progress line to stderr each second (a line each: not a terminal)."""
    status = await bench(f"{web_server.url}/size/10", "-d", "1.6s", "-c", "2", "--json")
    out, err = capsys.readouterr()
    assert status == ExitStatus.OK
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("[  1.0s] ") or lines[0].startswith("[  1.")
    assert " responses, " in lines[0]
    assert " req/s, 0 errors, " in lines[0]
    report = json.loads(out)
    assert report["duration"] == 1.6
    assert report["responses"] > 0


@pytest.mark.asyncio
async def test_head_and_post_with_a_body(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """-m HEAD frames responses without a body; -m POST --data sends the body every time."""
    report = await bench_json(
        capsys, f"{web_server.url}/size/1000", "-n", "20", "-c", "2", "-m", "HEAD"
    )
    assert report["status"] == {"200": 20}
    report = await bench_json(
        capsys,
        f"{web_server.url}/echo",
        "-n",
        "10",
        "-c",
        "1",
        "-m",
        "post",
        "--data",
        "hi",
        "-H",
        "X-A: b",
    )
    assert report["status"] == {"200": 10}
    last = web_server.requests[-1]
    assert last.method == "POST"
    assert last.headers["X-A"] == "b"
    assert last.headers["Content-Length"] == "2"


@pytest.mark.asyncio
async def test_duration_run(web_server: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """-d: the run ends at the deadline; in-flight requests are counted, not recorded."""
    report = await bench_json(capsys, f"{web_server.url}/size/10", "-d", "1", "-c", "4")
    assert report["duration"] == 1.0
    assert report["requests"] is None
    assert report["responses"] > 0
    assert report["errors"] == {}
    assert 0 <= report["in_flight_at_end"] <= 4


# ---------------------------------------------------------------- the open model


def _stalling(count: list[int], stall_at: int) -> Script:
    """Return a server script answering at once, except request ``stall_at``: held STALL s."""

    async def respond(_request: bytes, _n: int) -> bytes:
        count[0] += 1
        if count[0] == stall_at:
            await asyncio.sleep(STALL)
        return response(200, b"ok")

    return respond


@pytest.mark.asyncio
async def test_open_model_shows_a_stall_in_every_request_it_delayed(
    raw_server: Callable[[Script], Awaitable[RawServer]], capsys: pytest.CaptureFixture[str]
) -> None:
    """--rate: a 1 s stall shows in every request due during it, not in one.

    Latency counts from each request's intended start, so the ~100 requests due
    during the stall all carry it (P90 ~0.8 s): no coordinated omission.
    """
    count = [0]
    server = await raw_server(_stalling(count, stall_at=21))
    report = await bench_json(capsys, server.url, "--rate", "100", "-n", "200", "-c", "1")
    assert report["model"] == "open"
    assert report["rate"] == 100
    assert report["responses"] == 200
    latency = report["latency_ms"]
    assert latency["max"] >= STALL * 1000 * 0.9
    assert latency["p90"] >= 400  # most requests due during the stall waited for it
    lag = report["lag_ms"]
    assert lag["max"] >= 500  # they were sent late, and that counted
    assert report["due_unsent"] == 0


@pytest.mark.asyncio
async def test_closed_model_hides_the_same_stall(
    raw_server: Callable[[Script], Awaitable[RawServer]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The same stall in the closed model shows in one request only.

    The others were never sent meanwhile (coordinated omission): P90 stays far
    below the stall, only the max shows it.
    """
    count = [0]
    server = await raw_server(_stalling(count, stall_at=21))
    report = await bench_json(capsys, server.url, "-n", "200", "-c", "1")
    latency = report["latency_ms"]
    assert latency["max"] >= STALL * 1000 * 0.9
    assert latency["p90"] < 400


@pytest.mark.asyncio
async def test_open_model_paces_arrivals(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """--rate 50 -n 30: 30 responses, and the run lasts about the schedule (>= 29 / 50 s)."""
    report = await bench_json(
        capsys, f"{web_server.url}/size/10", "--rate", "50", "-n", "30", "-c", "4"
    )
    assert report["responses"] == 30
    assert report["elapsed"] >= 29 / 50


# ---------------------------------------------------------------- several processes


@pytest.mark.asyncio
async def test_procs_merge_their_histograms(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """--procs 2: two worker processes share -n and -c; their histograms merge into one report."""
    report = await bench_json(
        capsys, f"{web_server.url}/size/10", "-n", "400", "-c", "4", "--procs", "2"
    )
    assert report["procs"] == 2
    assert report["responses"] == 400
    assert report["status"] == {"200": 400}
    assert len(web_server.requests) == 400
    assert report["connections_opened"] == 4
    assert len(web_server.connections) == 4


@pytest.mark.asyncio
async def test_procs_with_the_open_model(
    web_server: WebServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """--procs 2 --rate: the rate is shared, arrivals interleaved; every request is answered."""
    report = await bench_json(
        capsys, f"{web_server.url}/size/10", "--rate", "200", "-n", "100", "-c", "2", "--procs", "2"
    )
    assert (report["procs"], report["responses"], report["model"]) == (2, 100, "open")


# ---------------------------------------------------------------- HTTP/2


@pytest.mark.asyncio
async def test_http2_over_tls(
    h2_server: H2Server, tls: TLSSetup, capsys: pytest.CaptureFixture[str]
) -> None:
    """--http2 --streams: streams over few connections, the certificate checked (--cacert)."""
    report = await bench_json(
        capsys,
        f"{h2_server.url}/size/100",
        "--http2",
        "-c",
        "2",
        "--streams",
        "8",
        "-n",
        "200",
        "--cacert",
        tls.ca_path,
    )
    assert report["protocol"] == "HTTP/2"
    assert (report["connections"], report["streams"], report["concurrency"]) == (2, 8, 16)
    assert report["responses"] == 200
    assert report["errors"] == {}
    assert report["connections_opened"] == 2


@pytest.mark.asyncio
async def test_http2_prior_knowledge(
    h2c_server: H2Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """--http2 on http://: HTTP/2 with prior knowledge (h2c)."""
    report = await bench_json(
        capsys, f"{h2c_server.url}/size/10", "--http2", "-n", "100", "--streams", "4"
    )
    assert (report["protocol"], report["responses"], report["errors"]) == ("HTTP/2", 100, {})


@pytest.mark.asyncio
async def test_http2_upload_waits_for_flow_control(
    h2_server: H2Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A body larger than the server's windows is sent as they open (WINDOW_UPDATE)."""
    body = tmp_path / "body.bin"
    body.write_bytes(b"z" * 200_000)
    report = await bench_json(
        capsys,
        f"{h2_server.url}/echo",
        "--http2",
        "-k",
        "-m",
        "PUT",
        "--data",
        f"@{body}",
        "-n",
        "6",
        "--streams",
        "3",
    )
    assert report["status"] == {"200": 6}
    assert report["bytes"]["sent"] > 6 * 200_000


@pytest.mark.asyncio
async def test_http2_goaway_reconnects(nginx: Nginx, capsys: pytest.CaptureFixture[str]) -> None:
    """Each connection ends with nginx's GOAWAY after 100 requests; the engine opens another.

    Streams above the GOAWAY's last id are sent again, not counted as errors.
    """
    report = await bench_json(
        capsys, f"{nginx.url}/size/200", "--http2", "-k", "-c", "2", "--streams", "16", "-n", "1000"
    )
    assert report["responses"] == 1000
    assert report["errors"] == {}
    assert report["status"] == {"200": 1000}
    assert report["connections_opened"] >= 10


@pytest.mark.asyncio
async def test_http11_keepalive_limit_reconnects(
    nginx: Nginx, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nginx closes each HTTP/1.1 connection after 100 requests (Connection: close): reconnect."""
    report = await bench_json(capsys, f"{nginx.url}/size/200", "-k", "-c", "4", "-n", "600")
    assert (report["protocol"], report["responses"], report["errors"]) == ("HTTP/1.1", 600, {})
    assert report["connections_opened"] >= 6


# ---------------------------------------------------------------- errors


@pytest.mark.asyncio
async def test_connection_close_after_each_response(
    raw_server: Callable[[Script], Awaitable[RawServer]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that closes after every response: a new connection each time, no error."""
    server = await raw_server(lambda _r, _n: response(200, b"ok", ["Connection: close"]))
    server.close_after = True
    report = await bench_json(capsys, server.url, "-n", "30", "-c", "2")
    assert (report["responses"], report["errors"]) == (30, {})
    assert report["connections_opened"] >= 30


@pytest.mark.asyncio
async def test_malformed_responses_are_protocol_errors(
    raw_server: Callable[[Script], Awaitable[RawServer]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The client's strict parser judges each response: CL + TE is a protocol error, counted."""
    server = await raw_server(
        lambda _r, _n: (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nok"
        )
    )
    status = await bench(server.url, "-n", "5", "-c", "1", "--json", "-q")
    out, _ = capsys.readouterr()
    report = json.loads(out)
    assert status == ExitStatus.ERROR  # not one response
    assert report["errors"] == {"protocol": 5}
    assert report["responses"] == 0


@pytest.mark.asyncio
async def test_unanswered_requests_time_out(
    raw_server: Callable[[Script], Awaitable[RawServer]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that never answers: each request fails as a timeout after --timeout."""
    release = asyncio.Event()

    async def never(_request: bytes, _n: int) -> bytes | None:
        await release.wait()
        return None

    server = await raw_server(never)
    try:
        status = await bench(server.url, "-n", "2", "-c", "1", "--timeout", "0.3", "--json", "-q")
    finally:
        release.set()
    report = json.loads(capsys.readouterr().out)
    assert status == ExitStatus.ERROR
    assert report["errors"] == {"timeout": 2}


@pytest.mark.asyncio
async def test_nothing_listening(capsys: pytest.CaptureFixture[str]) -> None:
    """No server: one line saying the connection failed, exit status 1, no report."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status = await bench(f"http://127.0.0.1:{port}/", "-n", "10", "-c", "2")
    out, err = capsys.readouterr()
    assert status == ExitStatus.ERROR
    assert out == ""
    assert err.startswith(f"hyperhttp bench: cannot connect to http://127.0.0.1:{port}/: ")
    assert "ConnectionRefusedError" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["http://127.0.0.1:9/", "-d", "3x"], "duration '3x'"),
        (["http://127.0.0.1:9/", "--streams", "4"], "--streams is for HTTP/2"),
        (["http://127.0.0.1:9/", "-c", "0"], "--connections must be at least 1"),
        (["http://127.0.0.1:9/", "--rate", "-5"], "--rate must be a positive number"),
        (["http://127.0.0.1:9/", "-n", "0"], "--requests must be at least 1"),
        (["http://127.0.0.1:9/", "--procs", "0"], "--procs must be at least 1"),
        (["http://127.0.0.1:9/", "--procs", "3", "-c", "2"], "needs at least 3 connections"),
        (["ftp://127.0.0.1:9/"], "scheme"),
        (["http://127.0.0.1:9/", "-H", "Host: x"], "Host is set by hyperhttp bench"),
        (["http://127.0.0.1:9/", "-H", "X: a\rb"], "X"),
        (["http://127.0.0.1:9/", "-m", "G T"], "not a token"),
        (["http://127.0.0.1:9/", "--data", "@/no/such/file"], "--data @/no/such/file"),
        (["http://127.0.0.1:9/", "--http2", "-H", "Connection: x"], "connection-specific"),
        (["http://127.0.0.1:9/", "--engine", "fast"], "invalid choice: 'fast'"),
        (["https://127.0.0.1:9/", "--cacert", "/no/such/ca.pem"], "no CA bundle"),
        ([], "the following arguments are required: url"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad input: exit status 2 and one line naming the problem, before any connection."""
    assert main(["bench", *argv]) == ExitStatus.USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("hyperhttp bench: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- the client engine, the module


@pytest.mark.asyncio
async def test_client_engine(web_server: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """--engine client: the same load through hyperhttp.Client (its pool warmed first)."""
    report = await bench_json(
        capsys, f"{web_server.url}/size/10", "-n", "100", "-c", "4", "--engine", "client"
    )
    assert (report["engine"], report["responses"], report["errors"]) == ("client", 100, {})
    report = await bench_json(
        capsys,
        f"{web_server.url}/size/10",
        "--rate",
        "200",
        "-n",
        "40",
        "-c",
        "2",
        "--engine",
        "client",
    )
    assert (report["model"], report["responses"]) == ("open", 40)


@pytest.mark.asyncio
async def test_python_m_hyperhttp_bench(web_server: WebServer) -> None:
    """``python -m hyperhttp bench URL -n 50 --json`` as a subprocess prints a JSON report."""
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "hyperhttp",
            "bench",
            f"{web_server.url}/size/10",
            "-n",
            "50",
            "-c",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["responses"] == 50


# ---------------------------------------------------------------- HTTP/2 edge cases (scripted peer)


async def _scripted(handler: Callable[[ScriptedRequest], None]) -> ScriptedH2Server:
    return await ScriptedH2Server(handler).start()


@pytest.mark.asyncio
async def test_http2_refused_streams_are_sent_again(capsys: pytest.CaptureFixture[str]) -> None:
    """RST_STREAM(REFUSED_STREAM): the server did not process it; it goes again, no error."""
    seen = [0]

    def handler(request: ScriptedRequest) -> None:
        seen[0] += 1
        if seen[0] % 3 == 0:
            request.conn.refuse(request.stream_id)
        else:
            request.conn.respond(request.stream_id, 200, b"ok")

    server = await _scripted(handler)
    try:
        report = await bench_json(capsys, server.url, "--http2", "-n", "30", "--streams", "4")
    finally:
        await server.stop()
    assert (report["responses"], report["errors"]) == (30, {})
    assert seen[0] >= 30 + 30 // 3


@pytest.mark.asyncio
async def test_http2_goaway_sends_unprocessed_streams_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GOAWAY(last_stream_id=9): streams up to 9 complete, those above go again.

    They go on a new connection, and nothing is counted as an error.
    """
    answered_on_first = []

    def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        if conn.index == 0 and request.stream_id >= 11:
            if request.stream_id == 11:
                conn.goaway(last_stream_id=9)
            return  # above the GOAWAY: never answered here
        if conn.index == 0:
            answered_on_first.append(request.stream_id)
        conn.respond(request.stream_id, 200, b"ok")

    server = await _scripted(handler)
    try:
        report = await bench_json(capsys, server.url, "--http2", "-n", "40", "--streams", "4")
    finally:
        await server.stop()
    assert (report["responses"], report["errors"]) == (40, {})
    assert max(answered_on_first) <= 9
    assert report["connections_opened"] >= 2


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "body", "kind"),
    [
        ([(b":status", b"200"), (b"Bad-Name", b"x")], b"", "protocol"),  # upper case name
        ([(b":status", b"200"), (b"content-length", b"5")], b"ok", "protocol"),  # short body
        ([(b":status", b"204")], b"oops", "protocol"),  # a body on 204
        ([(b"x-no-status", b"1")], b"", "protocol"),  # no :status
    ],
)
async def test_http2_malformed_responses_are_stream_errors(
    fields: list[tuple[bytes, bytes]], body: bytes, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The client's field checks judge each head; a bad one fails its stream only."""

    def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        frames = conn.headers_frame(request.stream_id, fields, end_stream=not body)
        if body:
            frames += conn.data_frame(request.stream_id, body, end_stream=True)
        conn.write(frames)

    server = await _scripted(handler)
    try:
        status = await bench(server.url, "--http2", "-n", "6", "--streams", "2", "--json", "-q")
    finally:
        await server.stop()
    report = json.loads(capsys.readouterr().out)
    assert status == ExitStatus.ERROR
    assert report["errors"] == {kind: 6}
    assert report["connections_opened"] == 1  # stream errors: the connection stays


@pytest.mark.asyncio
async def test_http2_reset_is_an_error_named_by_its_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """RST_STREAM(INTERNAL_ERROR) fails that request as 'h2 reset INTERNAL_ERROR'."""

    def handler(request: ScriptedRequest) -> None:
        if request.stream_id == 3:
            request.conn.h2.reset_stream(3, 2)
            request.conn.flush()
        else:
            request.conn.respond(request.stream_id, 200, b"ok")

    server = await _scripted(handler)
    try:
        report = await bench_json(capsys, server.url, "--http2", "-n", "10", "--streams", "2")
    finally:
        await server.stop()
    assert report["errors"] == {"h2 reset INTERNAL_ERROR": 1}
    assert report["responses"] == 9


@pytest.mark.asyncio
async def test_http2_connection_error_fails_its_streams(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A frame on a stream never opened is a connection error: GOAWAY, its streams fail."""

    def handler(request: ScriptedRequest) -> None:
        conn = request.conn
        if conn.index == 0:  # DATA on stream 99, never opened (RFC 9113 §5.1)
            conn.write(conn.data_frame(99, b"x", end_stream=True))
        else:
            conn.respond(request.stream_id, 200, b"ok")

    server = await _scripted(handler)
    try:
        report = await bench_json(capsys, server.url, "--http2", "-n", "10", "--streams", "1")
    finally:
        await server.stop()
    assert report["errors"] == {"protocol": 1}
    assert report["responses"] == 9
    assert report["connections_opened"] == 2


@pytest.mark.asyncio
async def test_gives_up_when_the_server_goes_away(capsys: pytest.CaptureFixture[str]) -> None:
    """The server stops listening mid-run: the run stops after --timeout, saying why.

    The failed reconnects are counted as connect errors.
    """
    served = [0]
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            while served[0] < 5:
                await reader.readuntil(b"\r\n\r\n")
                served[0] += 1
                writer.write(response(200, b"ok"))
                await writer.drain()
            server.close()  # no new connections from now on
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        report = await bench_json(
            capsys, f"http://127.0.0.1:{port}/", "-d", "20s", "-c", "1", "--timeout", "1"
        )
    finally:
        server.close()
        await server.wait_closed()
    assert report["responses"] == 5
    assert report["gave_up"].startswith("no connection for 1 s (last error: ")
    assert report["errors"].get("connect", 0) >= 1
    assert report["elapsed"] < 20


@pytest.mark.asyncio
async def test_a_server_that_closes_each_connection_as_it_opens_is_named_in_the_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SETTINGS then GOAWAY at once, every time: exit 1 and a reason, not an empty one.

    Before: ``cannot connect to URL: `` (the last error was never set).
    """
    settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    goaway = b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" + bytes(8)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(settings + goaway)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        status = await bench(f"http://127.0.0.1:{port}/", "--http2", "-n", "5", "-q")
    finally:
        server.close()
        await server.wait_closed()
    _, err = capsys.readouterr()
    assert status == ExitStatus.ERROR
    assert "GOAWAY" in err, err
