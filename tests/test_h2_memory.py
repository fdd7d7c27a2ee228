"""HTTP/2 caches are bounded in bytes (issue 15, defect 5).

The HPACK encoder's field memo, the decoder's Huffman and block memos and
the validated-fields cache are there for fields that repeat (user-agent,
server, content-type). A server rotating a large cookie sends a new value
with every response, and the client sends it back with the next request: no
cache may keep those, and nothing may outlive the client.
"""

from __future__ import annotations

import asyncio
import gc
import random
import tracemalloc

import hpack
import hyperhttp
import pytest

from tests.servers.h2_scripted import ScriptedH2Server, ScriptedRequest

pytestmark = pytest.mark.asyncio

_REQUESTS = 300
_BIG = 16 * 1024  # a large rotating field, well under the 64 KiB header list limit
_COOKIE = 4000  # a cookie the jar keeps (RFC 6265 §6.1: 4096 octets) and sends back
# Symbols with 5-bit Huffman codes (RFC 7541 Appendix B): 8 of them fill 5 octets.
_FIVE_BITS = {s: format(i, "05b") for i, s in enumerate("012acieost")}


def _huffman(prefix: str, symbols: list[str]) -> bytes:
    """Encode ``prefix`` + ``symbols`` as a Huffman string literal (H bit, length, octets)."""
    codes = {"=": "100000", "-": "010110", **_FIVE_BITS}
    bits = "".join(codes[c] for c in prefix) + "".join(_FIVE_BITS[c] for c in symbols)
    bits += "1" * (-len(bits) % 8)  # EOS padding
    octets = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return _integer(len(octets), 7, 0x80) + octets


def _integer(value: int, prefix: int, flags: int) -> bytes:
    limit = (1 << prefix) - 1
    if value < limit:
        return bytes((flags | value,))
    out = bytearray((flags | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class _Precomputed:
    """The scripted server's HPACK encoder: response blocks made before memory is measured."""

    header_table_size = 4096

    def __init__(self, blocks: list[bytes]) -> None:
        self.blocks = blocks

    def encode(self, headers: object, huffman: bool = True) -> bytes:
        return self.blocks.pop()


def _blocks(rng: random.Random, count: int) -> list[bytes]:
    """Response heads: 200, content-length 2, a new set-cookie and a new 16 KiB x-big, each."""
    symbols = list(_FIVE_BITS)
    blocks = []
    for _ in range(count):
        block = b"\x88" + _integer(28, 4, 0) + b"\x012"  # :status 200, content-length: 2
        cookie = rng.choices(symbols, k=_COOKIE)
        block += _integer(55, 4, 0) + _huffman("s=", cookie)  # set-cookie, without indexing
        block += b"\x00\x05x-big" + _huffman("", rng.choices(symbols, k=_BIG))
        blocks.append(block)
    return blocks


def _used() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def test_a_rotating_large_cookie_does_not_grow_memory() -> None:
    """300 requests, each with new large fields both ways: memory flat, and freed by aclose()."""
    rng = random.Random(15)
    blocks = _blocks(rng, _REQUESTS + 20)
    fields = dict(hpack.Decoder().decode(blocks[-1], raw=True))  # the blocks are right
    assert fields[b"set-cookie"].startswith(b"s=")
    assert len(fields[b"set-cookie"]) == 2 + _COOKIE
    assert len(fields[b"x-big"]) == _BIG
    tokens = [bytes(rng.choices(b"0123456789abcdef", k=_BIG)) for _ in range(_REQUESTS + 20)]

    def handler(request: ScriptedRequest) -> None:
        conn, sid = request.conn, request.stream_id
        conn.server.requests.clear()  # the test's server keeps nothing either
        conn.heads.pop(sid, None)
        conn.bodies.pop(sid, None)
        conn.h2.encoder = _Precomputed(blocks)  # type: ignore[assignment]
        conn.respond(sid, body=b"ok")

    server = await ScriptedH2Server(handler).start()
    tracemalloc.start()
    try:
        start = _used()
        async with hyperhttp.Client(http1=False) as client:
            for i in range(20):  # warm-up: the connection, its buffers, the cookie jar
                r = await client.get(f"{server.url}/", headers={"x-token": tokens.pop()})
                assert r.content == b"ok", i
            warm = _used()
            for _ in range(_REQUESTS):
                r = await client.get(f"{server.url}/", headers={"x-token": tokens.pop()})
                assert r.content == b"ok"
                assert len(r.headers["x-big"]) == _BIG
            assert len(server.connections) == 1  # one connection: its caches saw it all
            assert len(client.cookies.get("s") or "") == _COOKIE  # sent back each time
            grown = _used() - warm
        await asyncio.sleep(0)
        left = _used() - start
    finally:
        tracemalloc.stop()
        await server.stop()
    # 300 x (20 KiB sent + 20 KiB received) went through: ~20 MiB if kept.
    assert grown < 2 << 20, f"{grown / 2**20:.1f} MiB kept over {_REQUESTS} requests"
    assert left < 1 << 20, f"{left / 2**20:.1f} MiB left after aclose()"
