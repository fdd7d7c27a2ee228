"""Parser benchmark: hyperhttp-parser against httptools (C, llhttp) and h11.

Each parser reads a stream of responses on one persistent connection, as a
client does: the parser is built once, and every response is a fresh bytes
object fed whole (as one read from the socket would deliver it). Every parser
produces the same thing: status, headers as (lower-cased name, value) pairs,
the body, and end of message; the outputs are cross-checked before timing.

Responses vary per message the way real ones do (a unique X-Request-Id), so
nothing a parser caches between messages makes the benchmark unrealistically
warm. Rounds are interleaved (h, t, 1, h, t, 1, ...) and the median of each
parser's rounds is reported, with ratios measured in the same run.

Run: ``hatch run bench:parser`` (``--quick`` for a fast smoke run).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable

import h11
import httptools
import hyperhttp_parser as hp

Parsed = tuple[int, list[tuple[bytes, bytes]], bytes]
Runner = Callable[[list[list[bytes]]], list[Parsed]]

_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Server: nginx/1.25.3\r\n"
    b"Date: Mon, 23 Nov 2026 22:00:00 GMT\r\n"
    b"Content-Type: application/json; charset=utf-8\r\n"
    b"%s\r\n"
    b"Connection: keep-alive\r\n"
    b"Cache-Control: no-cache\r\n"
    b"X-Request-Id: %032x\r\n"
    b"Vary: Accept-Encoding\r\n"
    b"Access-Control-Allow-Origin: *\r\n"
    b"\r\n"
)


def _length_response(i: int, size: int) -> bytes:
    return _HEAD % (b"Content-Length: %d" % size, i) + b"x" * size


def _chunked_response(i: int, size: int, chunk: int) -> bytes:
    body = b"".join(
        b"%x\r\n%s\r\n" % (min(chunk, size - at), b"y" * min(chunk, size - at))
        for at in range(0, size, chunk)
    )
    return _HEAD % (b"Transfer-Encoding: chunked", i) + body + b"0\r\n\r\n"


def _split_reads(message: bytes, read_size: int) -> list[bytes]:
    return [message[at : at + read_size] for at in range(0, len(message), read_size)]


# ------------------------------------------------------------------ parsers


def run_hyperhttp(reads_per_message: list[list[bytes]]) -> list[Parsed]:
    parser = hp.ResponseParser()
    start, feed = parser.start, parser.feed
    data_event, head_event = hp.Data, hp.ResponseHead
    out: list[Parsed] = []
    for reads in reads_per_message:
        start(b"GET")
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        body: list[bytes] = []
        for read in reads:
            for event in feed(read):
                if type(event) is data_event:
                    body.append(event.data)
                elif type(event) is head_event:
                    status = event.status_code
                    headers = event.headers
        out.append((status, headers, b"".join(body)))
    return out


class _HttptoolsProtocol:
    __slots__ = ("body", "done", "headers")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


def run_httptools(reads_per_message: list[list[bytes]]) -> list[Parsed]:
    proto = _HttptoolsProtocol()
    parser = httptools.HttpResponseParser(proto)
    feed_data, get_status_code = parser.feed_data, parser.get_status_code
    out: list[Parsed] = []
    for reads in reads_per_message:
        proto.headers = []
        proto.body = []
        for read in reads:
            feed_data(read)
        out.append((get_status_code(), proto.headers, b"".join(proto.body)))
    return out


def run_h11(reads_per_message: list[list[bytes]]) -> list[Parsed]:
    conn = h11.Connection(h11.CLIENT)
    request = h11.Request(method="GET", target="/", headers=[("Host", "bench")])
    end = h11.EndOfMessage()
    need_data, end_event = h11.NEED_DATA, h11.EndOfMessage
    data_event, head_event = h11.Data, h11.Response
    send, receive_data, next_event = conn.send, conn.receive_data, conn.next_event
    out: list[Parsed] = []
    for reads in reads_per_message:
        send(request)
        send(end)
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        body: list[bytes] = []
        for read in reads:
            receive_data(read)
            while True:
                event = next_event()
                if event is need_data or type(event) is end_event:
                    break
                if type(event) is data_event:
                    body.append(bytes(event.data))
                elif type(event) is head_event:
                    status = event.status_code
                    headers = list(event.headers)
        out.append((status, headers, b"".join(body)))
        conn.start_next_cycle()
    return out


PARSERS: dict[str, Runner] = {
    "hyperhttp-parser": run_hyperhttp,
    "httptools": run_httptools,
    "h11": run_h11,
}

# ------------------------------------------------------------------ cases


def build_cases(count: int) -> dict[str, list[list[bytes]]]:
    """Each case: a list of messages, each a list of socket reads."""
    big_count = max(2, count // 200)
    return {
        "200 B body, 9 headers": [[_length_response(i, 200)] for i in range(count)],
        "10 KiB body": [[_length_response(i, 10 * 1024)] for i in range(count)],
        "1 MiB chunked (16 KiB chunks, 64 KiB reads)": [
            _split_reads(_chunked_response(i, 1024 * 1024, 16 * 1024), 64 * 1024)
            for i in range(big_count)
        ],
    }


def _time_once(runner: Runner, messages: list[list[bytes]]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        runner(messages)
        return (time.perf_counter() - start) / len(messages)
    finally:
        gc.enable()


def measure(rounds: int, count: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for case, messages in build_cases(count).items():
        expected = run_httptools(messages)
        for name, runner in PARSERS.items():
            got = runner(messages)
            if got != expected:
                raise SystemExit(f"{name} disagrees with httptools on {case!r}")
        samples: dict[str, list[float]] = {name: [] for name in PARSERS}
        for _ in range(rounds):
            for name, runner in PARSERS.items():
                samples[name].append(_time_once(runner, messages))
        results[case] = {name: statistics.median(times) for name, times in samples.items()}
    return results


def render(results: dict[str, dict[str, float]]) -> str:
    lines = [
        (
            "| response | hyperhttp-parser µs | httptools µs | h11 µs "
            "| vs httptools (target ≤ 2.0×) | h11 / hyperhttp (target ≥ 10×) |"
        ),
        "|---|---:|---:|---:|---:|---:|",
    ]
    for case, row in results.items():
        ours, ht, h11_time = row["hyperhttp-parser"], row["httptools"], row["h11"]
        lines.append(
            f"| {case} | {ours * 1e6:.2f} | {ht * 1e6:.2f} | {h11_time * 1e6:.2f} "
            f"| {ours / ht:.2f}× | {h11_time / ours:.1f}× |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--count", type=int, default=4000, help="messages per round")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 400 messages")
    args = parser.parse_args(argv)
    rounds, count = (3, 400) if args.quick else (args.rounds, args.count)
    print(f"Python {sys.version.split()[0]}, {rounds} interleaved rounds, medians\n")
    print(render(measure(rounds, count)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
