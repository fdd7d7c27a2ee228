"""Findings of the adversarial review of issue 15's client fixes, each checked to fail before.

A tracer that raises frees its pool slot (F1); a URL cannot be changed in place,
and what is sent is what was checked (F2, F3); the client's own fields are read
as they are now (F6); userinfo holds RFC 3986 characters only (F5); a response
without a request raises a clear error (F10); a Request built directly takes
plain types (F4); the mock handler sees the framing the wire gets (F7).
Real loopback peers: a raw asyncio HTTP/1.1 server and the scripted h2 peer.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import hyperhttp
import pytest
from hyperhttp import URL, Headers, Request

from tests.servers.fixtures import ok_http11_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.servers.h2_scripted import ScriptedH2Server

pytestmark = pytest.mark.asyncio


# F1: a tracer that raises ---------------------------------------------------------------------


@pytest.mark.parametrize("http1", [True, False])
@pytest.mark.parametrize("event", ["pool.acquired", "request.sent", "response.headers"])
async def test_a_tracer_that_raises_frees_its_pool_slot(
    event: str, http1: bool, h2_peer: ScriptedH2Server
) -> None:
    def trace(name: str, info: object) -> None:
        if name == event:
            raise RuntimeError(f"tracer failed at {name}")

    async with contextlib.AsyncExitStack() as stack:
        url = (await stack.enter_async_context(ok_http11_server()))[0] if http1 else h2_peer.url
        limits = hyperhttp.Limits(max_connections=1)
        client = await stack.enter_async_context(
            hyperhttp.Client(
                trace=trace, limits=limits, http1=http1, timeout=hyperhttp.Timeout(5.0, pool=1.0)
            )
        )
        for _ in range(3):  # the slot comes back each time: no PoolTimeout
            with pytest.raises(RuntimeError, match="tracer failed"):
                await client.get(url)
            stats = client.pool_stats()
            assert stats.in_use == 0, stats
            assert stats.leases == 0, stats


# F2 / F3: what is sent is what was checked -----------------------------------------------------


@pytest.mark.parametrize(
    "attribute", ["target", "path", "query", "host", "host_header", "origin", "scheme", "port"]
)
async def test_a_url_cannot_be_changed_in_place(attribute: str) -> None:
    url = URL("http://example.com/a?b=1").copy_with(path="/own")
    before = (url.target, url.host_header, url.origin, str(url))
    with pytest.raises(AttributeError):
        setattr(url, attribute, b"/a\r\nX-Injected: 1")
    with pytest.raises(AttributeError):
        delattr(url, attribute)
    with pytest.raises(AttributeError):
        url.anything_else = 1
    assert (url.target, url.host_header, url.origin, str(url)) == before


async def test_h2_sends_the_checked_target_even_if_the_url_was_forced(
    h2_peer: ScriptedH2Server,
) -> None:
    """Bypassing immutability on purpose (object.__setattr__) still sends what was checked."""
    async with hyperhttp.Client(http1=False) as client:
        await client.get(h2_peer.url)
        url = URL(h2_peer.url).copy_with(path="/own")
        request = client.build_request("GET", url, headers={"X-Ok": "1"})
        object.__setattr__(url, "target", b"/a\r\nX-Injected: 1")
        with contextlib.suppress(hyperhttp.LocalProtocolError):
            await client.send(request)
    paths = [r.headers[b":path"] for r in h2_peer.requests]
    assert all(b"\r" not in path and b"\n" not in path for path in paths), paths


async def test_h1_sends_the_checked_target_even_if_the_url_was_forced() -> None:
    async with ok_http11_server() as (base, heads), hyperhttp.Client() as client:
        url = URL(base).copy_with(path="/old")
        request = client.build_request("GET", url, headers={"X-Ok": "1"})
        object.__setattr__(url, "target", b"/a\r\nX-Injected: 1")
        with contextlib.suppress(hyperhttp.LocalProtocolError):
            await client.send(request)
    assert all(b"X-Injected" not in head for head in heads), heads


async def test_h2_sends_only_checked_fields(h2_peer: ScriptedH2Server) -> None:
    """A field appended to the private list after the check is never sent unchecked."""
    async with hyperhttp.Client(http1=False) as client:
        await client.get(h2_peer.url)
        request = client.build_request("GET", h2_peer.url, headers={"X-Ok": "1"})
        request.headers._list.append((b"x-b", b"X-B", b"1\r\nInjected: 1"))
        with contextlib.suppress(hyperhttp.LocalProtocolError):
            await client.send(request)
        # the public way is always checked
        public = client.build_request("GET", h2_peer.url, headers={"X-Ok": "1"})
        public.headers.add("X-B", "1\r\nInjected: 1")
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.send(public)
    for sent in h2_peer.requests:
        assert all(b"\r" not in value and b"\n" not in value for value in sent.headers.values())


# F6: the client's fields as they are now --------------------------------------------------------


@pytest.mark.parametrize("http1", [True, False])
async def test_client_headers_changed_after_construction_are_what_is_sent(
    http1: bool, h2_peer: ScriptedH2Server
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        url, heads = (
            (await stack.enter_async_context(ok_http11_server())) if http1 else (h2_peer.url, [])
        )
        client = await stack.enter_async_context(
            hyperhttp.Client(headers={"Authorization": "Bearer old-token"}, http1=http1)
        )
        await client.get(url)
        await client.get(url, headers={"X-Own": "1"})
        del client.headers["Authorization"]
        client.headers["X-New"] = "1"
        await client.get(url)
        await client.get(url, headers={"X-Own": "1"})
        built = client.build_request("GET", url, headers={"X-Own": "2"})
        client.headers = {"X-Assigned": "yes"}
        await client.get(url)
        await client.send(built)  # built before the change: sent as the client is now
        with pytest.raises(hyperhttp.LocalProtocolError):
            client.headers = {"X-Bad": "a\r\nInjected: 1"}
        client.headers["X-Bad"] = "a\r\nInjected: 1"
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.get(url)
        with pytest.raises(hyperhttp.LocalProtocolError):
            await client.get(url, headers={"X-Own": "1"})
    if http1:
        sent = [head.lower() for head in heads]
    else:
        sent = [
            b"\r\n".join(n + b": " + v for n, v in request.headers.items()).lower()
            for request in h2_peer.requests
        ]
    assert len(sent) == 6, sent
    assert all(b"old-token" in head for head in sent[:2])
    for head in sent[2:4]:
        assert b"old-token" not in head, head
        assert b"x-new: 1" in head, head
    for head in sent[4:]:
        assert b"x-assigned: yes" in head, head
        assert b"x-new" not in head, head
    assert all(b"injected" not in head for head in sent)


# F5: userinfo ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "http://127.0.0.1\\@evil.invalid/",
        "http://a b@evil.invalid/",
        "http://user:pa ss@evil.invalid/",
        'http://us"er@evil.invalid/',
        "http://user:%zz@evil.invalid/",
        "http://evil.invalid\\/",
        "http://u<>@evil.invalid/",
    ],
)
async def test_userinfo_holds_only_rfc3986_characters(text: str) -> None:
    # WHATWG URL (browsers, Node, many allow-list checks) reads "\" as "/": host 127.0.0.1.
    with pytest.raises(hyperhttp.InvalidURL):
        URL(text)


@pytest.mark.parametrize(
    "text",
    ["http://user:pass@h/", "http://u-._~!$&'()*+,;=:%41@h/", "http://:p@h/", "http://u@h/"],
)
async def test_rfc3986_userinfo_is_kept(text: str) -> None:
    assert URL(text).host == "h"


# F10 ------------------------------------------------------------------------------------------


async def test_raise_for_status_without_a_request_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="request"):
        hyperhttp.Response(500).raise_for_status()
    assert hyperhttp.Response(200).raise_for_status().status_code == 200


# F4 -------------------------------------------------------------------------------------------


async def test_a_request_built_directly_takes_plain_types() -> None:
    async with ok_http11_server() as (url, heads), hyperhttp.Client() as client:
        r1 = await client.send(Request("GET", url + "/s"))
        r2 = await client.send(Request("GET", URL(url), {"X-D": "1"}))
        r3 = await client.send(Request("POST", URL(url), [("X-L", "2")], "text é"))
        assert [r.status_code for r in (r1, r2, r3)] == [200, 200, 200]
        with pytest.raises(TypeError):
            Request("GET", 42)  # type: ignore[arg-type]
        with pytest.raises(hyperhttp.InvalidURL):
            Request("GET", "ftp://x/")
        with pytest.raises(TypeError):
            Request("POST", URL(url), None, 42)  # type: ignore[arg-type]
    assert heads[0].startswith(b"GET /s ")
    assert b"X-D: 1" in heads[1]
    assert b"X-L: 2" in heads[2]
    assert heads[2].endswith("text é".encode())


# F7 -------------------------------------------------------------------------------------------


async def test_mock_handler_sees_the_framing_the_wire_gets() -> None:
    seen: list[Headers] = []

    def handler(request: Request) -> hyperhttp.MockResponse:
        seen.append(request.headers)
        return hyperhttp.MockResponse(200)

    async def stream() -> AsyncIterator[bytes]:
        yield b"a"

    async with hyperhttp.Client(transport=hyperhttp.MockTransport(handler)) as client:
        await client.post("http://x/")
        await client.post("http://x/", content=stream())
        await client.post("http://x/", content=b"abc")
        await client.get("http://x/")
    assert seen[0].get("content-length") == "0"
    assert seen[1].get("transfer-encoding") == "chunked"
    assert "content-length" not in seen[1]
    assert seen[2].get("content-length") == "3"
    assert "content-length" not in seen[3]
    assert "transfer-encoding" not in seen[3]


async def test_setting_the_resolver_reaches_new_connections() -> None:
    """client.resolver = ... is what the next connection resolves with; aclose leaves it open."""
    import hyperhttp_dns

    from tests.servers.fixtures import pooled_connections

    given = hyperhttp_dns.Resolver()
    async with hyperhttp.Client() as client:
        made = client.resolver
        client.resolver = given
        assert client.resolver is given
        network = client._network
        assert getattr(network, "resolver", None) is given
        assert pooled_connections(client) == []
    await given.aclose()
    assert made is not given
