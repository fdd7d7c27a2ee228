"""Servers that echo each request's id, for the fault-injection suite.

Every request of the suite carries a unique id twice: in ``X-Request-Id``
and in the query (``?id=``). The servers answer with both: the header
back as ``X-Echo-Id``, the query id as the first word of the body. A
response that names another id, or none, was attributed to the wrong
request (a desynchronised connection); the suite fails on it.

- :func:`echo_app`: an aiohttp app, ``/chaos/{kind}`` with ``kind``
  ``small`` (one line: id, method, body length and CRC-32), ``large``
  (that line then filler up to 1 MiB, Content-Length), ``chunked`` (the
  same up to 128 KiB, streamed without a length) and ``early`` (answers
  without reading the request body, as Node and Go servers may; the
  server then keeps reading the old body). Each body the app read whole
  is recorded by id, so the suite can check the server received exactly
  what the client sent for that id.
- :func:`start_echo_nginx`: nginx with a cleartext HTTP/1.1 port and a
  TLS port speaking HTTP/2, proxying to the app, plus ``/native`` which
  nginx answers itself (``return 200 "$arg_id ..."``, the body discarded)
  and an error page that echoes the ids too.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from tests.servers.nginx_proc import http_preamble, launch, stop_nginx

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

__all__ = [
    "CHUNKED_SIZE",
    "LARGE_SIZE",
    "EchoNginx",
    "EchoRecord",
    "echo_app",
    "expected_body",
    "first_line",
    "start_echo_nginx",
]

LARGE_SIZE = 1024 * 1024
CHUNKED_SIZE = 128 * 1024
_CHUNK = 16 * 1024


def first_line(ident: str, method: str, body: bytes | None) -> bytes:
    """Return the line every app response opens with (``body`` None: not read, ``early``)."""
    if body is None:
        return f"{ident} {method} early\n".encode()
    return f"{ident} {method} {len(body)} {zlib.crc32(body):08x}\n".encode()


def expected_body(kind: str, ident: str, method: str, body: bytes | None) -> bytes:
    """Return the exact body the app sends for ``kind`` (HEAD aside)."""
    line = first_line(ident, method, None if kind == "early" else body)
    if kind in ("small", "early"):
        return line
    size = LARGE_SIZE if kind == "large" else CHUNKED_SIZE
    filler = ident.encode() + b"."
    return line + (filler * (size // len(filler) + 1))[: size - len(line)]


@dataclass
class EchoRecord:
    """What the app saw: each whole body by id, and requests carrying no known id."""

    bodies: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (length, crc)
    strays: list[str] = field(default_factory=list)


def echo_app(record: EchoRecord) -> web.Application:
    """Build the aiohttp echo app, recording into ``record``."""

    async def chaos(request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        ident = request.query.get("id", "")
        header = request.headers.get("X-Request-Id", "")
        if not ident or ident != header:
            record.strays.append(f"{request.method} {request.path_qs} X-Request-Id={header!r}")
        echo = {"X-Echo-Id": header}
        body: bytes | None = None
        if kind != "early":
            try:
                body = await request.read()
            except Exception:  # the upload was cut (aiohttp's payload errors)
                return web.Response(status=400, text=f"{ident} {request.method} cut\n")
            record.bodies[ident] = (len(body), zlib.crc32(body))
        payload = expected_body(kind, ident, request.method, body)
        if kind != "chunked":
            return web.Response(body=payload, headers=echo)
        response = web.StreamResponse(headers=echo)
        await response.prepare(request)
        for start in range(0, len(payload), _CHUNK):
            await response.write(payload[start : start + _CHUNK])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/chaos/{kind}", chaos)
    return app


@dataclass
class EchoNginx:
    """A running nginx: its cleartext HTTP/1.1 and TLS (HTTP/2) ports."""

    plain_port: int
    tls_port: int
    process: subprocess.Popen[bytes]
    root: Path

    def stop(self) -> None:
        stop_nginx(self.process)

    def error_log(self) -> str:
        log = self.root / "error.log"
        return log.read_text() if log.exists() else ""


def _config(root: Path, plain: int, tls: int, cert: Path, key: Path, upstream: int) -> str:
    return (
        http_preamble(root, log_level="error")
        + f"""    keepalive_requests 100;
    client_max_body_size 8m;
    client_body_buffer_size 2m;
    client_header_timeout 5s;
    client_body_timeout 5s;
    send_timeout 5s;
    upstream echo {{
        server 127.0.0.1:{upstream};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{plain};
        listen 127.0.0.1:{tls} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        error_page 400 408 413 500 502 503 504 @error;
        location /native {{
            add_header X-Echo-Id $http_x_request_id always;
            return 200 "$arg_id $request_method native\\n";
        }}
        location / {{
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
        location @error {{
            add_header X-Echo-Id $http_x_request_id always;
            return 503 "$arg_id $request_method nginx-error\\n";
        }}
    }}
}}
"""
    )


def start_echo_nginx(root: Path, cert: Path, key: Path, upstream: int) -> EchoNginx:
    """Start nginx proxying to the app on ``upstream``; wait until both ports answer."""
    process, (plain, tls) = launch(
        root, lambda ports: _config(root, ports[0], ports[1], cert, key, upstream), ports=2
    )
    return EchoNginx(plain, tls, process, root)
