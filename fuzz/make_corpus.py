"""Write the seed corpus: small, realistic, valid inputs for every target.

``python -m fuzz.make_corpus`` (in the fuzz environment) rewrites
``fuzz/corpus/<target>/seed-*``; inputs libFuzzer adds with ``--merge`` are
named by their hash and left alone. Seeds are built from the reference
libraries (hpack, hyperframe, zlib, brotli, zstandard), or for SOCKS from
the RFC 1928/1929 message layouts with lengths computed, never typed by hand
where a byte count could be off, so each one is what a real peer sends.
"""

from __future__ import annotations

import gzip
import ipaddress
import zlib
from pathlib import Path

import brotli  # type: ignore[import-not-found,unused-ignore]
import hpack
import zstandard
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

CORPUS = Path(__file__).resolve().parent / "corpus"


def _block(encoder: hpack.Encoder, fields: list[tuple[str, str]]) -> bytes:
    out: bytes = encoder.encode(fields)
    return out


def hpack_seeds() -> dict[str, bytes]:
    """Build header blocks behind 2-byte lengths (see fuzz/targets/hpack.py)."""

    def blocks(*items: bytes, control: int = 0) -> bytes:
        return bytes([control]) + b"".join(len(b).to_bytes(2, "big") + b for b in items)

    encoder = hpack.Encoder()
    first = _block(encoder, [(":status", "200"), ("content-type", "text/html"), ("server", "x")])
    second = _block(encoder, [(":status", "200"), ("content-type", "text/html"), ("x-id", "42")])
    plain = hpack.Encoder()
    plain_block: bytes = plain.encode(
        [(":status", "404"), ("cache-control", "private"), ("location", "https://a.example/")],
        huffman=False,
    )
    never: bytes = hpack.Encoder().encode(
        [(":status", "200"), hpack.NeverIndexedHeaderTuple("set-cookie", "sid=abc; Secure")]
    )
    resize = hpack.Encoder()
    resize.header_table_size = 256
    resized = _block(resize, [(":status", "200"), ("date", "Mon, 21 Oct 2013 20:13:21 GMT")])
    # RFC 7541 C.6.1: a response with Huffman coding.
    rfc = bytes.fromhex(
        "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff"
        "6e919d29ad171863c78f0b97c8e9ae82ae43d3"
    )
    return {
        "seed-dynamic-table": blocks(first, second),
        "seed-plain-literals": blocks(plain_block),
        "seed-never-indexed": blocks(never),
        "seed-size-update": blocks(resized, control=2 << 2),
        "seed-rfc7541-c6": blocks(rfc),
        "seed-small-limit": blocks(first, control=3),
    }


def _frames(*frames: Frame) -> bytes:
    return b"".join(frame.serialize() for frame in frames)


def _headers(
    stream: int, fields: list[tuple[str, str]], *flags: str, encoder: hpack.Encoder | None = None
) -> HeadersFrame:
    frame = HeadersFrame(stream, flags=("END_HEADERS", *flags))
    frame.data = (encoder or hpack.Encoder()).encode(fields)
    return frame


def _data(stream: int, payload: bytes, *flags: str, pad: int = 0) -> DataFrame:
    frame = DataFrame(stream, payload, flags=flags)
    if pad:
        frame.flags.add("PADDED")
        frame.pad_length = pad
    return frame


def h2_seeds() -> dict[str, bytes]:
    """Build control bytes, then what a server sends (see fuzz/targets/h2_frames.py)."""
    ok = [(":status", "200"), ("content-type", "text/plain"), ("content-length", "5")]
    encoder = hpack.Encoder()
    head = _headers(1, ok, encoder=encoder)
    continued = HeadersFrame(1)
    block = hpack.Encoder().encode([(":status", "200"), ("x-long", "v" * 300)])
    continued.data = block[:100]
    tail = ContinuationFrame(1, flags=("END_HEADERS",))
    tail.data = block[100:]
    settings = SettingsFrame(0, settings={3: 10, 4: 1 << 20, 5: 32768})
    plain = HeadersFrame(1, flags=("END_HEADERS",))  # no Huffman: digits are plain bytes
    plain.data = hpack.Encoder().encode(
        [(":status", "201"), ("content-length", "7"), ("x-request-id", "abc")], huffman=False
    )
    promise = PushPromiseFrame(1, promised_stream_id=2, flags=("END_HEADERS",))
    promise.data = hpack.Encoder().encode([(":method", "GET"), (":path", "/p")])
    return {
        "seed-get-200": b"\x00\x00\x01" + _frames(head, _data(1, b"hello", "END_STREAM")),
        "seed-whole-read": b"\x10\x00\x01" + _frames(head, _data(1, b"hello", "END_STREAM")),
        "seed-split-reads": b"\x00\x05\x01" + _frames(head, _data(1, b"hello", "END_STREAM")),
        "seed-trailers": b"\x00\x00\x00"
        + _frames(
            _headers(1, [(":status", "200")]),
            _data(1, b"part one, "),
            _data(1, b"part two"),
            _headers(1, [("grpc-status", "0")], "END_STREAM"),
        ),
        "seed-informational": b"\x00\x00\x00"
        + _frames(
            _headers(1, [(":status", "103"), ("link", "</s.css>; rel=preload")]),
            _headers(1, [(":status", "204")], "END_STREAM"),
        ),
        "seed-two-streams": b"\x02\x00\x01"
        + _frames(
            _headers(3, [(":status", "200")]),
            _headers(1, [(":status", "404"), ("content-length", "3")]),
            _data(3, b"abc"),
            _data(1, b"no!", "END_STREAM"),
            _data(3, b"", "END_STREAM"),
        ),
        "seed-continuation": b"\x00\x00\x00"
        + _frames(continued, tail, _data(1, b"x", "END_STREAM")),
        "seed-refused-goaway": b"\x04\x00\x00"
        + _frames(
            RstStreamFrame(3, error_code=7),
            GoAwayFrame(0, last_stream_id=1, error_code=0),
            _headers(1, [(":status", "200")], "END_STREAM"),
        ),
        "seed-control-frames": b"\x00\x00\x00"
        + _frames(
            settings,
            PingFrame(0, opaque_data=b"12345678"),
            WindowUpdateFrame(0, window_increment=1000),
            WindowUpdateFrame(1, window_increment=1000),
            _headers(1, [(":status", "200")], "END_STREAM"),
        ),
        "seed-padded": b"\x00\x00\x00"
        + _frames(
            _headers(1, [(":status", "200")]),
            _data(1, b"padded body", "END_STREAM", pad=7),
        ),
        "seed-head": b"\x08\x00\x00"
        + _frames(_headers(1, [(":status", "200"), ("content-length", "100")], "END_STREAM")),
        "seed-push-promise": b"\x00\x00\x00" + _frames(promise),
        "seed-big-body": b"\x00\x21\x01"
        + _frames(
            _headers(1, [(":status", "200"), ("content-length", "4000")]),
            _data(1, b"a" * 2000),
            _data(1, b"b" * 2000, "END_STREAM"),
        ),
        "seed-no-preface": b"\x01\x00\x00" + _frames(settings, GoAwayFrame(0, error_code=1)),
        "seed-plain-literals": b"\x00\x00\x00" + _frames(plain, _data(1, b"created", "END_STREAM")),
    }


def http11_seeds() -> dict[str, bytes]:
    """Build control bytes (methods, reads), then responses (fuzz/targets/http11_response.py)."""
    get = b"\x00"
    return {
        "seed-content-length": get
        + b"\x00HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
        "seed-chunked-trailers": get + b"\x03HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;name=value;q="a b"\r\nhello\r\n6\r\n world\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n',
        "seed-continue": get
        + b"\x00HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
        "seed-head": bytes([1 << 2]) + b"\x00HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
        "seed-204-304": bytes([1]) + b"\x00HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
        b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
        "seed-http10-close": get + b"\x00HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end",
        "seed-pipelined": bytes([3 | 2 << 4])
        + b"\x09HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n"
        b"Content-Length: 0\r\n\r\nHTTP/1.1 500 Oops\r\nConnection: close\r\n\r\n",
        "seed-switching": get
        + b"\x00HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
        b"\r\n\r\n\x81\x05hello",
        "seed-connect": bytes([3 << 2]) + b"\x00HTTP/1.1 200 Connection established\r\n\r\nTLS...",
        "seed-many-fields": get
        + b"\x01HTTP/1.1 302 Found\r\nLocation: /x\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        b"Vary: Accept-Encoding\r\nCache-Control: no-cache, private\r\nX-Empty:\r\n"
        b"X-Obs-Text: caf\xe9\r\nContent-Length: 0\r\n\r\n",
        "seed-empty-reason": get + b"\x00HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\nx",
    }


def cookie_seeds() -> dict[str, bytes]:
    """Build a control byte (origin), then Set-Cookie values (see fuzz/targets/set_cookie.py)."""
    return {
        "seed-session": b"\x00sid=31d4d96e407aad42; Path=/; Secure; HttpOnly\nlang=en-US; "
        b"Path=/; Domain=evil.com",
        "seed-expires": b"\x02SID=31d4; Expires=Wed, 09 Jun 2021 10:18:14 GMT\n"
        b"a=b; expires=Sun, 06 Nov 1994 08:49:37 GMT\nc=d; Expires=Sunday, 06-Nov-94 08:49:37 GMT"
        b"\ne=f; Expires=Sun Nov  6 08:49:37 1994; Max-Age=3600",
        "seed-max-age-delete": b"\x02x=1; Max-Age=60\nx=; Max-Age=0\ny=2; Max-Age=-1",
        "seed-prefixes": b"\x01__Host-id=1; Secure; Path=/\n__Secure-t=2; Secure; Domain=evil.com"
        b"\n__Host-bad=3; Secure; Domain=evil.com; Path=/",
        "seed-domains": b"\x02a=1; Domain=.evil.example\nb=2; Domain=b.evil.example\n"
        b"c=3; Domain=example\nd=4; Domain=EVIL.example.",
        "seed-samesite": b'\x04q="quoted value"; SameSite=Lax\nr=1; SameSite=None; Secure\n'
        b"s=2; samesite=strict; Path=/x/y",
        "seed-localhost-ip": b"\x03a=1; Domain=localhost\nb=2; Path=/p",
        "seed-empty": b"\x00=novalue\nnoequals\n;\na=",
    }


def auth_seeds() -> dict[str, bytes]:
    """Build a control byte, then WWW-Authenticate values (see fuzz/targets/www_authenticate.py)."""
    rfc7616 = (
        b'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        b'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        b'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    rfc2617 = (
        b'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        b'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    return {
        "seed-rfc7616": b"\x00" + rfc7616 + b"\n" + rfc7616.replace(b"SHA-256", b"MD5"),
        "seed-rfc2617": b"\x81" + rfc2617 + b'\nnextnonce="abc123", qop=auth, rspauth="x"',
        "seed-many-schemes": b'\x04Basic realm="simple", Newauth realm="apps", type=1, '
        b'title="Login to \\"apps\\"", ' + rfc2617 + b"\nNegotiate YIIB/wYGKwYBBQUCoIIB8zCCAe+g==",
        "seed-sess-stale": b'\x01Digest realm="r", nonce="n1", qop=auth,'
        b" algorithm=SHA-512-256-sess, stale=TRUE, userhash=true,"
        b' domain="/a /b http://example.com/dir/"',
        "seed-rfc2069": b'\x02Digest realm="old", nonce="n0", opaque="o"',
        "seed-auth-int-only": b'\x00Digest realm="r", nonce="n", qop="auth-int"',
        "seed-empty-params": b'\x00Digest , realm="r",, nonce=n ,qop=auth,',
    }


def decoding_seeds() -> dict[str, bytes]:
    """Build control bytes (coding, reads), then a body (see fuzz/targets/content_decoding.py)."""
    text = b"The quick brown fox jumps over the lazy dog. " * 40
    zlib_wrapped = zlib.compress(text)
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(text) + raw.flush()
    return {
        "seed-gzip": b"\x00\x00" + gzip.compress(text, mtime=0),
        "seed-gzip-split": b"\x00\x11" + gzip.compress(text, mtime=0),
        "seed-gzip-members": b"\x00\x00"
        + gzip.compress(b"one", mtime=0)
        + gzip.compress(b"two", mtime=0),
        "seed-gzip-padding": b"\x00\x00" + gzip.compress(b"padded", mtime=0) + b"\x00" * 16,
        "seed-deflate": b"\x01\x00" + zlib_wrapped,
        "seed-deflate-raw": b"\x01\x03" + raw_deflate,
        "seed-br": b"\x02\x00" + brotli.compress(text),
        "seed-zstd": b"\x03\x00" + zstandard.ZstdCompressor().compress(text),
        "seed-zstd-frames": b"\x03\x02" + zstandard.ZstdCompressor().compress(b"a") * 2,
        "seed-gzip-gzip": b"\x04\x00" + gzip.compress(gzip.compress(text, mtime=0), mtime=0),
        "seed-br-gzip": b"\x06\x00" + gzip.compress(brotli.compress(text), mtime=0),
        "seed-header-chain": b"\x80\x00deflate, br\n" + brotli.compress(zlib_wrapped),
        "seed-gzip-bomb": b"\x00\x00" + gzip.compress(b"\x00" * (4 << 20), mtime=0),
    }


# The address a refusal carries (nothing is bound to it).
_NO_ADDRESS = "0.0.0.0"  # noqa: S104


def _socks5_reply(host: str, port: int, rep: int = 0) -> bytes:
    """RFC 1928 §6: VER REP RSV ATYP BND.ADDR BND.PORT."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode("ascii")
        bound = bytes((0x03, len(name))) + name
    else:
        bound = bytes((0x01 if address.version == 4 else 0x04,)) + address.packed
    return bytes((0x05, rep, 0x00)) + bound + port.to_bytes(2, "big")


def _socks4_reply(host: str, port: int, cd: int = 90) -> bytes:
    """SOCKS4: VN=0 CD DSTPORT DSTIP."""
    return bytes((0x00, cd)) + port.to_bytes(2, "big") + ipaddress.IPv4Address(host).packed


def socks_seeds() -> dict[str, bytes]:
    """Build control bytes (destination, credentials, reads), then what a proxy sends.

    See fuzz/targets/socks.py for the control bytes: the first picks the
    kind and destination (0: socks5 to 10.1.2.3, 2: socks5h to a name, 5: the
    255-byte name, 6: socks4, 7 and 8: socks4a), the second the credentials
    (0: none; SOCKS5 1-3: user name and password; SOCKS4 1-3: a USERID).
    """
    no_auth = b"\x05\x00"  # RFC 1928 §3: VER METHOD, "no authentication required"
    password = b"\x05\x02"  # METHOD username/password
    accepted = b"\x01\x00"  # RFC 1929 §2: VER STATUS, success
    granted = _socks5_reply("203.0.113.9", 50123)
    tls = b"\x16\x03\x01\x00\x05hello"  # the first bytes of the tunnel
    return {
        "seed-socks5-granted": b"\x00\x00\x00" + no_auth + granted,
        "seed-socks5-granted-split": b"\x00\x00\x07" + no_auth + granted + tls,
        "seed-socks5-ipv6-bound": b"\x01\x00\x00" + no_auth + _socks5_reply("2001:db8::1", 443),
        "seed-socks5h-name-bound": b"\x02\x00\x03"
        + no_auth
        + _socks5_reply("proxy.example.net", 1080),
        "seed-socks5-password": b"\x00\x01\x00" + password + accepted + granted + tls,
        "seed-socks5-password-split": b"\x03\x02\x05" + password + accepted + granted,
        "seed-socks5-auth-failed": b"\x00\x01\x00" + password + b"\x01\x01",
        "seed-socks5-no-acceptable-method": b"\x00\x00\x00\x05\xff",
        "seed-socks5-wrong-method": b"\x02\x01\x00" + no_auth,
        "seed-socks5-refused": b"\x02\x00\x00" + no_auth + _socks5_reply(_NO_ADDRESS, 0, rep=5),
        "seed-socks5-longest-reply": b"\x05\x03\x01"
        + password
        + accepted
        + _socks5_reply("a" * 255, 443)
        + tls,
        "seed-socks5-closed-midway": b"\x00\x00\x00" + no_auth + granted[:5],
        "seed-socks4-granted": b"\x06\x00\x00"
        + _socks4_reply("192.0.2.7", 80)
        + b"HTTP/1.1 200 OK\r\n",
        "seed-socks4-rejected": b"\x06\x01\x00" + _socks4_reply(_NO_ADDRESS, 0, cd=91),
        "seed-socks4-identd": b"\x07\x03\x02" + _socks4_reply(_NO_ADDRESS, 0, cd=93),
        "seed-socks4a-granted-split": b"\x08\x01\x04" + _socks4_reply("10.0.0.2", 22) + tls,
    }


def sse_seeds() -> dict[str, bytes]:
    """Build control bytes (max_event_size, resumed; reads), then an event stream.

    See fuzz/targets/sse.py: the control byte's bits 0-1 pick the size bound
    (0: 64 bytes ... 3: the 8 MiB default), bit 2 a resumed stream.
    """
    # WHATWG HTML §9.2.6, the examples of the event-stream format.
    spec = (
        b"data: YHOO\ndata: +2\ndata: 10\n\n"
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
        b"data:  third event\n\n"
        b"data\n\ndata\ndata\n\ndata:\n\n"
        b"data:test\n\ndata: test\n\n"
    )
    text = "data: caf\u00e9 \u2603 \U0001f600\n\n".encode()
    return {
        "seed-spec-examples": b"\x03\x00" + spec,
        "seed-spec-examples-split": b"\x03\x09" + spec,
        "seed-line-ends": b"\x03\x01event: add\r\ndata: 1\r\r\nid: 2\rdata: x\n\n\r\n",
        "seed-bom": b"\x03\x02\xef\xbb\xbfdata: after a BOM\n\n\xef\xbb\xbfdata: not a BOM\n\n",
        "seed-retry": b"\x03\x00retry: 2500\ndata: r\n\nretry: 99999999\n\nretry: 1a\nretry\n\n",
        "seed-json": b'\x03\x04event: update\nid: 42\ndata: {"price": 12.5, "symbol": "ACME"}\n\n',
        "seed-utf8": b"\x03\x40" + text + b"data: \xff\xfe not UTF-8\n\n",
        "seed-resumed": b"\x07\x00data: keeps the id\n\nid\ndata: clears it\n\n"
        b"id: a\x00b\ndata: ignored id\n\n",
        "seed-small-limit": b"\x00\x03"
        b"data: " + b"x" * 50 + b"\ndata: y\n\n" + b"event: " + b"e" * 57 + b"\ndata\n\n",
        "seed-keep-alive": b"\x03\x05" + b": ping\n\n" * 5 + b"data: after keep-alives\n\n",
        "seed-unknown-fields": b"\x01\x00foo: bar\ndata\n:comment\nevent\nDATA: no\n\n",
        "seed-unfinished": b"\x03\x00data: sent\n\ndata: never dispatched\n",
        # A long line in one-byte reads (the split seed 64 cuts every byte).
        "seed-long-line-small-reads": b"\x03\x40data: " + b"x" * 128 + b"\n\n",
    }


def main() -> None:
    """Write every target's seeds."""
    seeds = {
        "hpack": hpack_seeds(),
        "h2_frames": h2_seeds(),
        "http11_response": http11_seeds(),
        "set_cookie": cookie_seeds(),
        "www_authenticate": auth_seeds(),
        "content_decoding": decoding_seeds(),
        "socks": socks_seeds(),
        "sse": sse_seeds(),
    }
    for target, files in seeds.items():
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("seed-*"):
            old.unlink()
        for name, data in files.items():
            (directory / name).write_bytes(data)
        print(f"{target}: {len(files)} seeds")


if __name__ == "__main__":
    main()
