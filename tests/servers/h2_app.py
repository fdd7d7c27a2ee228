"""A hypercorn server for the HTTP/2 tests, in its own process.

``python tests/servers/h2_app.py CERTFILE`` serves TLS (ALPN h2 and http/1.1)
with the certificate and key in CERTFILE; ``python tests/servers/h2_app.py -``
serves cleartext (HTTP/1.1, and HTTP/2 with prior knowledge). It prints its
port on the first line of stdout and runs until its stdin closes.

Endpoints: ``/size/N`` (N bytes), ``/echo`` (what came: method, length,
sha256 of the body, headers, HTTP version), ``/big?bytes=N`` (streamed in
64 KiB writes), ``/slow?chunks=N&delay=S``, ``/sleep/S``, ``/sse`` (Server-Sent
Events, resumed after Last-Event-ID), and ``/seen/TAG``:
the client ports of every request that carried ``x-tag: TAG`` (the
connections a test used).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import sys
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs

from hypercorn.asyncio import serve
from hypercorn.config import Config

Scope = dict[str, Any]
Receive = Any
Send = Any

SEEN: defaultdict[str, set[int]] = defaultdict(set)
#: /hedge/<tag>: how many requests came for the tag, and how each first one ended.
HEDGED: defaultdict[str, int] = defaultdict(int)
HEDGE_END: dict[str, str] = {}


async def _body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


async def _respond(send: Send, status: int, body: bytes, headers: list[Any] | None = None) -> None:
    fields = [(b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": fields})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    for name, value in headers:
        if name == "x-tag" and scope.get("client"):
            SEEN[value].add(scope["client"][1])
    if path.startswith("/size/"):
        await _body(receive)
        await _respond(send, 200, b"x" * int(path[6:]))
    elif path == "/echo":
        body = await _body(receive)
        answer = {
            "method": scope["method"],
            "path": scope["raw_path"].decode(),
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "headers": headers,
            "http_version": scope["http_version"],
        }
        kind = [(b"content-type", b"application/json")]
        await _respond(send, 200, json.dumps(answer).encode(), kind)
    elif path == "/big":
        await _body(receive)
        total = int(query["bytes"])
        start = {"type": "http.response.start", "status": 200, "headers": []}
        await send(start | {"headers": [(b"content-length", str(total).encode())]})
        block = b"b" * 65536
        sent = 0
        while sent < total:
            piece = block[: min(len(block), total - sent)]
            sent += len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": sent < total})
    elif path == "/slow":
        await _body(receive)
        chunks = int(query.get("chunks", "5"))
        delay = float(query.get("delay", "0.01"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(chunks):
            await send({"type": "http.response.body", "body": b"chunk%d;" % i, "more_body": True})
            await asyncio.sleep(delay)
        await send({"type": "http.response.body", "body": b""})
    elif path.startswith("/sleep/"):
        await _body(receive)
        await asyncio.sleep(float(path[7:]))
        await _respond(send, 200, b"slept")
    elif path == "/sse":
        await _sse(send, query, dict(headers))
    elif path.startswith("/hedge/"):
        await _hedge(path[7:], receive, send)
    elif path.startswith("/hedge-end/"):
        await _respond(send, 200, HEDGE_END.get(path[11:], "running").encode())
    elif path.startswith("/seen/"):
        await _respond(send, 200, json.dumps(sorted(SEEN[path[6:]])).encode())
    else:
        await _respond(send, 404, b"not found")


async def _hedge(tag: str, receive: Receive, send: Send) -> None:
    """Hang the first request of a tag (up to 5 s) until the client resets it; answer the rest."""
    await _body(receive)
    HEDGED[tag] += 1
    if HEDGED[tag] > 1:
        await _respond(send, 200, b"copy")
        return
    try:
        message = await asyncio.wait_for(receive(), 5.0)  # after the body: only a disconnect
        HEDGE_END[tag] = message["type"]
    except TimeoutError:
        HEDGE_END[tag] = "timeout"
        await _respond(send, 200, b"first")
    except asyncio.CancelledError:
        HEDGE_END[tag] = "cancelled"
        raise


async def _sse(send: Send, query: dict[str, str], headers: dict[str, str]) -> None:
    """Events ``first`` to ``first + count - 1`` (after Last-Event-ID), each in its own write.

    ``?count=N`` (5); the stream then ends (a client reconnects). No event
    from ``?stop=N`` on (an event ID): a 204 instead, so the client stops.
    """
    after = int(headers.get("last-event-id") or -1)
    stop = int(query.get("stop", "-1"))
    if 0 <= stop <= after + 1:
        await _respond(send, 204, b"")
        return
    kind = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": 200, "headers": kind})
    await send({"type": "http.response.body", "body": b"retry: 10\n: hello\n\n", "more_body": True})
    last = after + 1 + int(query.get("count", "5"))
    for n in range(after + 1, min(last, stop) if stop >= 0 else last):
        event = b'id: %d\nevent: tick\ndata: {"n": %d,\ndata:  "via": "h2"}\n\n' % (n, n)
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def main(certfile: str) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    sock.set_inheritable(True)
    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.accesslog = None
    config.errorlog = None
    config.keep_alive_timeout = 60
    config.h2_max_concurrent_streams = 100
    if certfile != "-":
        config.certfile = certfile
        config.keyfile = certfile
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def watch_stdin() -> None:
        await reader.read()  # EOF: the test process is done with us
        stop.set()

    watcher = asyncio.create_task(watch_stdin())
    print(sock.getsockname()[1], flush=True)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
    watcher.cancel()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
