"""The client as options over a pipeline of layers (issue 17): what a user can see of it.

``client.cookies`` and ``client.headers`` are read by the layers as they are
now, whatever replaced them; the options one ``send`` runs with are frozen;
``verify=False`` warns at the user's line, not inside the library. The peer is
the mock transport (no network) or a raw loopback HTTP/1.1 server.
"""

from __future__ import annotations

import warnings

import hyperhttp
import pytest
from hyperhttp._pipeline import SendOptions

from tests.servers.fixtures import ok_http11_server

pytestmark = pytest.mark.asyncio


def _echo_cookie(request: hyperhttp.Request) -> hyperhttp.MockResponse:
    return hyperhttp.MockResponse(200, content=request.headers.get("cookie", "").encode())


async def test_a_cookie_mapping_assigned_to_the_client_becomes_its_jar() -> None:
    async with hyperhttp.Client(transport=hyperhttp.MockTransport(_echo_cookie)) as client:
        client.cookies = {"session": "abc"}
        assert isinstance(client.cookies, hyperhttp.Cookies)
        assert (await client.get("http://example.test/")).content == b"session=abc"


async def test_a_jar_assigned_to_the_client_is_the_one_it_fills() -> None:
    def set_cookie(request: hyperhttp.Request) -> hyperhttp.MockResponse:
        return hyperhttp.MockResponse(200, headers={"set-cookie": "a=1; Path=/"})

    jar = hyperhttp.Cookies()
    async with hyperhttp.Client(transport=hyperhttp.MockTransport(set_cookie)) as client:
        client.cookies = jar
        await client.get("http://example.test/")
    assert client.cookies is jar
    assert jar.get("a") == "1"


async def test_headers_replaced_after_construction_are_the_ones_sent() -> None:
    async with ok_http11_server() as (url, seen), hyperhttp.Client(headers={"x-a": "1"}) as client:
        await client.get(url)
        client.headers = {"x-b": "2"}
        await client.get(url)
        client.headers["x-c"] = "3"  # changed in place
        await client.get(url)
    first, replaced, changed = [head.lower() for head in seen]
    assert b"x-a: 1" in first
    assert b"x-a" not in replaced
    assert b"x-b: 2" in replaced
    assert b"x-b: 2" in changed
    assert b"x-c: 3" in changed


async def test_the_options_of_one_send_are_frozen() -> None:
    options = SendOptions(hyperhttp.Timeout(1.0), False, True, 20, None, None, None)
    with pytest.raises(AttributeError):
        options.stream = True  # type: ignore[misc]


async def test_verify_false_warns_at_the_callers_line() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hyperhttp.Client(verify=False)
    (warning,) = [w for w in caught if issubclass(w.category, hyperhttp.InsecureRequestWarning)]
    assert warning.filename == __file__
