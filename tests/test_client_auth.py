"""auth= through the Client against a server that really checks: Basic, Bearer, Digest, custom.

The Digest server (tests/servers/digest.py) issues fresh nonces and checks
every answer with its own hashing, and the nonce count of each reuse.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from typing import TYPE_CHECKING

import hyperhttp
import pytest
from hyperhttp._auth import (
    Auth,
    AuthenticationError,
    BasicAuth,
    BearerAuth,
    DigestAuth,
    with_header,
)

from tests.servers.digest import AuthServer, parse_params, serve_auth

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Generator
    from pathlib import Path

    from hyperhttp import Request, Response

    from tests.servers.fixtures import H2Server

pytestmark = pytest.mark.asyncio

USER = "Mufasa"
PASSWORD = "Circle of Life"  # noqa: S105 - the test server's user
SECRET = "s3cr3t-Pw0rd"  # noqa: S105 - searched for, must never show
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def _digest(server: AuthServer, number: int) -> dict[str, str]:
    """Return the Digest parameters of the server's ``number``-th request."""
    authorization = server.seen[number].authorization
    assert authorization is not None
    assert authorization.startswith("Digest ")
    return parse_params(authorization[7:])


# ------------------------------------------------------------------ Basic and Bearer


async def test_basic_from_a_tuple_on_the_client() -> None:
    """Client(auth=(user, password)) sends Basic credentials the server accepts."""
    async with serve_auth() as server, hyperhttp.Client(auth=(USER, PASSWORD)) as client:
        response = await client.get(f"{server.url}/basic")
        assert response.status_code == 200
        assert [seen.authorization for seen in server.seen] == [BASIC]


async def test_basic_per_request() -> None:
    """auth= on a request applies to it alone."""
    async with serve_auth() as server, hyperhttp.Client() as client:
        response = await client.get(f"{server.url}/basic", auth=BasicAuth(USER, PASSWORD))
        assert response.status_code == 200
        response = await client.get(f"{server.url}/basic")
        assert response.status_code == 401  # Basic is not a challenge-response flow
        assert [seen.authorization for seen in server.seen] == [BASIC, None]


async def test_request_auth_overrides_and_none_disables_the_clients() -> None:
    """A request's auth= replaces the client's; auth=None sends none."""
    async with serve_auth() as server, hyperhttp.Client(auth=("someone", "else")) as client:
        assert (await client.get(f"{server.url}/basic", auth=(USER, PASSWORD))).status_code == 200
        assert (await client.get(f"{server.url}/echo", auth=None)).status_code == 200
        assert (await client.get(f"{server.url}/basic")).status_code == 401
        authorizations = [seen.authorization for seen in server.seen]
        assert authorizations[:2] == [BASIC, None]
        assert authorizations[2] is not None
        assert authorizations[2].startswith("Basic ")


async def test_basic_keeps_the_callers_headers() -> None:
    """The caller's own fields go out beside Authorization; an explicit one is replaced."""
    async with serve_auth() as server, hyperhttp.Client(auth=(USER, PASSWORD)) as client:
        headers = {"X-Mine": "1", "Authorization": "Bearer stale"}
        response = await client.get(f"{server.url}/basic", headers=headers)
        assert response.status_code == 200
        (seen,) = server.seen
        assert seen.headers["x-mine"] == "1"
        assert seen.authorization == BASIC


async def test_bearer() -> None:
    """BearerAuth sends the token."""
    async with serve_auth() as server, hyperhttp.Client() as client:
        good = await client.get(f"{server.url}/bearer", auth=BearerAuth(server.token))
        bad = await client.get(f"{server.url}/bearer", auth=BearerAuth("other"))
        assert (good.status_code, bad.status_code) == (200, 401)
        assert server.seen[0].authorization == f"Bearer {server.token}"


async def test_auth_rejected_when_built() -> None:
    """An invalid auth= fails before anything is sent, without showing the secret."""
    with pytest.raises(TypeError, match="auth") as caught:
        hyperhttp.Client(auth=[USER, SECRET])  # type: ignore[arg-type]
    assert SECRET not in str(caught.value)
    with pytest.raises(ValueError, match="':'"):
        hyperhttp.Client(auth=("a:b", SECRET))


# ------------------------------------------------------------------ Digest


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"])
async def test_digest_round_trip_and_nonce_reuse(algorithm: str) -> None:
    """The first call takes two requests; the next one is answered at once with nc=2."""
    async with (
        serve_auth(algorithms=(algorithm,)) as server,
        hyperhttp.Client(auth=DigestAuth(USER, PASSWORD)) as client,
    ):
        first = await client.get(f"{server.url}/digest/a?x=1&y=%2F")
        assert first.status_code == 200
        assert len(server.seen) == 2
        assert server.seen[0].authorization is None
        params = _digest(server, 1)
        assert (params["algorithm"], params["nc"], params["uri"]) == (
            algorithm,
            "00000001",
            "/digest/a?x=1&y=%2F",
        )
        second = await client.get(f"{server.url}/digest/b")
        assert second.status_code == 200
        assert len(server.seen) == 3  # one request: the nonce was reused
        assert _digest(server, 2)["nc"] == "00000002"
        assert _digest(server, 2)["nonce"] == params["nonce"]
        assert server.outcomes == ["no credentials", "ok", "ok"]
        assert server.accepted_nc == [1, 2]
        assert second.json() == {"user": USER, "nc": 2}


async def test_digest_concurrent_requests_share_the_nonce() -> None:
    """Concurrent calls share the nonce, each with its own count; ones reordered recover."""
    async with (
        serve_auth(algorithms=("SHA-256",)) as server,
        hyperhttp.Client(auth=DigestAuth(USER, PASSWORD)) as client,
    ):
        assert (await client.get(f"{server.url}/digest/warm")).status_code == 200
        calls = [client.get(f"{server.url}/digest/{n}") for n in range(20)]
        responses = await asyncio.gather(*calls)
        assert [r.status_code for r in responses] == [200] * 20
        sent = [
            (_digest(server, n)["nonce"], _digest(server, n)["nc"])
            for n in range(2, len(server.seen))
            if server.seen[n].authorization is not None
        ]
        assert len(set(sent)) == len(sent)  # never one nc twice with a nonce
        first_nonce = _digest(server, 1)["nonce"]
        assert {nc for nonce, nc in sent if nonce == first_nonce} >= {f"{n:08x}" for n in (2, 3)}
        # requests that arrived after a higher count were refused and answered afresh
        assert server.outcomes.count("ok") == 21


async def test_digest_picks_the_strongest_offered() -> None:
    """Basic, MD5 and SHA-256 offered in one field: SHA-256 is answered."""
    config = {
        "algorithms": ("MD5", "SHA-256"),
        "one_field": True,
        "also_offer": ('Basic realm="b"',),
    }
    async with serve_auth(**config) as server, hyperhttp.Client() as client:
        response = await client.get(f"{server.url}/digest/x", auth=DigestAuth(USER, PASSWORD))
        assert response.status_code == 200
        assert _digest(server, 1)["algorithm"] == "SHA-256"


async def test_digest_userhash_and_rfc2069() -> None:
    """userhash=true hides the username; a server without qop gets RFC 2069 answers."""
    async with serve_auth(userhash=True, algorithms=("SHA-256",)) as server:
        async with hyperhttp.Client(auth=DigestAuth(USER, PASSWORD)) as client:
            assert (await client.get(f"{server.url}/digest/x")).status_code == 200
        params = _digest(server, 1)
        assert params["userhash"] == "true"
        assert USER not in (server.seen[1].authorization or "")
    async with serve_auth(qop=None) as server:
        async with hyperhttp.Client(auth=DigestAuth(USER, PASSWORD)) as client:
            assert (await client.get(f"{server.url}/digest/x")).status_code == 200
            assert (await client.get(f"{server.url}/digest/y")).status_code == 200
        assert "nc" not in _digest(server, 1)
        assert server.outcomes == ["no credentials", "ok", "ok"]


async def test_digest_post_body_sent_again() -> None:
    """The answered request carries the body again (bytes can be replayed)."""
    async with serve_auth() as server, hyperhttp.Client(auth=DigestAuth(USER, PASSWORD)) as client:
        response = await client.post(f"{server.url}/digest/form", json={"a": 1})
        assert response.status_code == 200
        assert [seen.body for seen in server.seen] == [b'{"a":1}', b'{"a":1}']
        assert [seen.method for seen in server.seen] == ["POST", "POST"]


async def test_digest_stale_nonce_is_renewed() -> None:
    """A nonce the server calls stale is replaced within the same call."""
    async with (
        serve_auth(stale_after=1, algorithms=("SHA-256",)) as server,
        hyperhttp.Client(auth=DigestAuth(USER, PASSWORD)) as client,
    ):
        assert (await client.get(f"{server.url}/digest/1")).status_code == 200
        assert (await client.get(f"{server.url}/digest/2")).status_code == 200
        assert server.outcomes == ["no credentials", "ok", "stale", "ok"]
        assert _digest(server, 2)["nc"] == "00000002"  # the reused nonce, refused as stale
        assert _digest(server, 3)["nc"] == "00000001"  # the new one
        assert _digest(server, 3)["nonce"] != _digest(server, 2)["nonce"]


async def test_digest_wrong_password_returns_the_final_401() -> None:
    """Refused credentials: the second 401 is the response, after exactly two requests."""
    async with serve_auth() as server, hyperhttp.Client(auth=DigestAuth(USER, SECRET)) as client:
        response = await client.get(f"{server.url}/digest/x")
        assert response.status_code == 401
        assert len(server.seen) == 2
        response = await client.get(f"{server.url}/digest/x")
        assert response.status_code == 401
        assert len(server.seen) == 4  # nothing refused is reused
        assert server.outcomes == ["no credentials", "wrong response"] * 2


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"algorithms": ("SHA-1",)}, "unsupported algorithm 'SHA-1'"),
        ({"qop": "auth-int"}, "auth-int"),
    ],
)
async def test_digest_unanswerable_challenge(config: dict[str, object], reason: str) -> None:
    """A challenge that cannot be answered raises AuthenticationError, after one request."""
    async with serve_auth(**config) as server, hyperhttp.Client() as client:
        with pytest.raises(AuthenticationError, match=reason) as caught:
            await client.get(f"{server.url}/digest/x", auth=DigestAuth(USER, SECRET))
        assert isinstance(caught.value, hyperhttp.HTTPError)
        assert SECRET not in str(caught.value)
        assert len(server.seen) == 1
        # the connection went back to the pool: the next request works
        assert (await client.get(f"{server.url}/echo")).status_code == 200


async def test_digest_with_a_streamed_body_fails_clearly() -> None:
    """A challenge to a streamed body cannot be answered: the body is gone."""

    async def body() -> AsyncGenerator[bytes, None]:
        yield b"streamed"

    async with serve_auth() as server, hyperhttp.Client(auth=DigestAuth(USER, SECRET)) as client:
        with pytest.raises(hyperhttp.HTTPError, match="stream") as caught:
            await client.post(f"{server.url}/digest/x", content=body())
        assert SECRET not in str(caught.value)
        assert len(server.seen) == 1


async def test_digest_with_a_multipart_upload_from_a_file(tmp_path: Path) -> None:
    """A files= body read from a path can be sent again: the challenge is answered."""
    path = tmp_path / "upload.bin"
    path.write_bytes(b"0123456789" * 1000)
    async with serve_auth() as server, hyperhttp.Client(auth=DigestAuth(USER, PASSWORD)) as client:
        response = await client.post(f"{server.url}/digest/upload", files={"f": str(path)})
        assert response.status_code == 200
        first, second = server.seen
        assert b"0123456789" * 1000 in first.body
        assert second.body == first.body


# ------------------------------------------------------------------ custom flows


SIGNING_KEY = b"k3y"


def _signature(method: str, target: str) -> str:
    return hmac.new(SIGNING_KEY, f"{method} {target}".encode(), hashlib.sha256).hexdigest()


class SigningAuth(Auth):
    """Sign method and request-target into X-Signature."""

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        target = request.url.target.decode()
        yield with_header(request, "X-Signature", _signature(request.method, target))


class InPlaceSigningAuth(Auth):
    """The same, setting the field in place on the request it was given."""

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        request.headers["X-Signature"] = _signature(request.method, request.url.target.decode())
        yield request


@pytest.mark.parametrize("auth", [SigningAuth(), InPlaceSigningAuth()])
async def test_custom_auth_signs_requests(auth: Auth) -> None:
    """A custom Auth's field reaches the server, and only on the requests it signed."""
    async with serve_auth() as server, hyperhttp.Client() as client:
        await client.get(f"{server.url}/echo?q=1", auth=auth)
        await client.put(f"{server.url}/echo", auth=auth, headers={"X-Mine": "1"}, content=b"x")
        await client.get(f"{server.url}/echo?q=1")  # the client's shared fields are untouched
        await client.get(f"{server.url}/echo?q=1", headers={"X-Mine": "2"})
        signatures = [seen.headers.get("x-signature") for seen in server.seen]
        assert signatures == [
            _signature("GET", "/echo?q=1"),
            _signature("PUT", "/echo"),
            None,
            None,
        ]


async def test_callable_auth() -> None:
    """A function of the request is an auth too."""

    def sign(request: Request) -> Request:
        request.headers["X-Signature"] = "fn"
        return request

    async with serve_auth() as server, hyperhttp.Client(auth=sign) as client:
        await client.get(f"{server.url}/echo")
        await client.get(f"{server.url}/echo", auth=None)
        assert [seen.headers.get("x-signature") for seen in server.seen] == ["fn", None]


class RetryingAuth(Auth):
    """Answer a 401 once with a token, after reading the 401's body."""

    requires_response_body = True

    def __init__(self, token: str) -> None:
        self.token = token
        self.bodies: list[str] = []

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        response = yield request
        if response.status_code == 401:
            self.bodies.append(response.text)  # readable: requires_response_body
            yield with_header(request, "Authorization", f"Bearer {self.token}")


async def test_custom_challenge_response_flow() -> None:
    """A flow that reads the 401's body and sends the request again."""
    async with serve_auth() as server, hyperhttp.Client() as client:
        auth = RetryingAuth(server.token)
        async with client.stream("GET", f"{server.url}/bearer", auth=auth) as response:
            assert response.status_code == 200
        assert auth.bodies == ["bearer token required"]
        assert [seen.authorization for seen in server.seen] == [None, f"Bearer {server.token}"]


# ------------------------------------------------------------------ redirects


async def test_credentials_not_sent_to_another_origin() -> None:
    """A redirect to another origin goes without the credentials."""
    async with serve_auth() as a, serve_auth() as b:
        async with hyperhttp.Client(auth=(USER, PASSWORD)) as client:
            response = await client.get(f"{a.url}/redirect?to={b.url}/echo")
            assert response.status_code == 200
            assert str(response.url) == f"{b.url}/echo"
        assert [seen.authorization for seen in a.seen] == [BASIC]
        assert [seen.authorization for seen in b.seen] == [None]


async def test_custom_auth_not_applied_on_another_origin() -> None:
    """Nor does a custom flow run for another origin's hop."""
    async with serve_auth() as a, serve_auth() as b, hyperhttp.Client() as client:
        await client.get(f"{a.url}/redirect?to={b.url}/echo", auth=SigningAuth())
        assert "x-signature" in a.seen[0].headers
        assert "x-signature" not in b.seen[0].headers


async def test_credentials_kept_on_a_same_origin_redirect() -> None:
    """A redirect within the origin keeps them."""
    async with serve_auth() as server, hyperhttp.Client(auth=(USER, PASSWORD)) as client:
        response = await client.get(f"{server.url}/redirect?to=/basic")
        assert response.status_code == 200
        assert [seen.authorization for seen in server.seen] == [BASIC, BASIC]


async def test_digest_after_a_same_origin_redirect() -> None:
    """The redirected hop is challenged and answered on its own."""
    async with serve_auth() as server, hyperhttp.Client(auth=DigestAuth(USER, PASSWORD)) as client:
        response = await client.get(f"{server.url}/redirect?to=/digest/target")
        assert response.status_code == 200
        assert [seen.path for seen in server.seen] == ["/redirect?to=/digest/target"] + [
            "/digest/target"
        ] * 2
        assert _digest(server, 2)["uri"] == "/digest/target"


# ------------------------------------------------------------------ HTTP/2


async def test_auth_over_http2(h2c_server: H2Server) -> None:
    """Credentials go out on HTTP/2 too, and only on the requests they were given for."""
    async with hyperhttp.Client(http1=False) as client:
        signed = await client.get(f"{h2c_server.url}/echo", auth=(USER, PASSWORD))
        plain = await client.get(f"{h2c_server.url}/echo")
        mutated = await client.get(f"{h2c_server.url}/echo", auth=InPlaceSigningAuth())
        again = await client.get(f"{h2c_server.url}/echo")
    assert signed.http_version == "HTTP/2"
    assert dict(signed.json()["headers"])["authorization"] == BASIC
    assert "authorization" not in dict(plain.json()["headers"])
    assert dict(mutated.json()["headers"])["x-signature"] == _signature("GET", "/echo")
    assert "x-signature" not in dict(again.json()["headers"])


# ------------------------------------------------------------------ secrets


async def test_secrets_never_shown() -> None:
    """No repr, str or error shows the password."""
    auths: list[Auth] = [BasicAuth(USER, SECRET), BearerAuth(SECRET), DigestAuth(USER, SECRET)]
    async with serve_auth() as server:
        for auth in auths:
            async with hyperhttp.Client(auth=auth) as client:
                response = await client.get(f"{server.url}/digest/x")
                assert SECRET not in repr(client)
                assert SECRET not in repr(client.auth)
                assert SECRET not in repr(auth)
                assert SECRET not in str(auth)
                assert SECRET not in repr(response.request)
                assert SECRET not in repr(response)
                with pytest.raises(hyperhttp.HTTPStatusError) as caught:
                    response.raise_for_status()
                assert SECRET not in str(caught.value)


async def test_auth_stops_for_good_once_a_chain_leaves_the_first_origin() -> None:
    """A -> B -> A: the return to A carries no credentials (the chain left A)."""
    from aiohttp import web

    from tests.servers.routes import serve_routes

    urls: dict[str, str] = {}

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("Authorization", "-"))

    async def start(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"{urls['b']}/bounce"})

    async def bounce(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"{urls['a']}/end"})

    a_routes = [web.get("/start", start), web.get("/end", echo)]
    async with (
        serve_routes(a_routes) as (urls["a"], a_seen),
        serve_routes([web.get("/bounce", bounce)]) as (urls["b"], b_seen),
        hyperhttp.Client() as client,
    ):
        response = await client.get(f"{urls['a']}/start", auth=("u", "p"))
    assert [r.path for r in a_seen.requests] == ["/start", "/end"]
    assert a_seen.requests[0].headers.get("Authorization", "").startswith("Basic ")
    assert b_seen.requests[0].headers.get("Authorization") is None
    assert response.text == "-"  # back on A, but after B: no credentials


async def test_credentials_in_the_url_are_basic_auth_and_never_shown() -> None:
    from aiohttp import web

    from tests.servers.routes import serve_routes

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("Authorization", "-"))

    async with serve_routes([web.get("/", echo)]) as (url, _), hyperhttp.Client() as client:
        with_credentials = url.replace("http://", "http://user:s3cr%40t@")
        request = client.build_request("GET", with_credentials + "/")
        assert "s3cr" not in repr(request)
        response = await client.get(with_credentials + "/")
    assert response.text == "Basic " + base64.b64encode(b"user:s3cr@t").decode()
    headers = hyperhttp.Headers({"Authorization": "Bearer x", "Proxy-Authorization": "Basic y"})
    assert "Bearer" not in repr(headers)
    assert "Basic y" not in repr(headers)
