"""A loopback server that really authenticates: Digest (RFC 7616), Basic and Bearer.

Digest challenges carry a fresh nonce each (one challenge per configured
algorithm, in order). An answer is checked here with this module's own
parsing and hashing, independent of the client's code: the realm, the
digest-uri against the request-target, the username (or its userhash), the
opaque, the algorithm the nonce was issued for, the response hash, and the
nonce count, which must grow with every request made with a nonce.
Right answers get 200 (a JSON summary), wrong ones a new challenge.

Routes: ``/digest/...`` (Digest), ``/basic`` and ``/bearer`` (the other
schemes), ``/echo`` (what was received), ``/redirect?to=URL`` (a 302).
Every request is recorded in :attr:`AuthServer.seen`, every Digest verdict
in :attr:`AuthServer.outcomes`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from tests.servers.routes import serve_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

_HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


@dataclass
class SeenRequest:
    """One request as the server received it."""

    method: str
    path: str  #: the request-target, as sent
    authorization: str | None
    headers: dict[str, str]  #: names lower-cased
    body: bytes


@dataclass
class _Nonce:
    algorithm: str
    qop: str | None
    last_nc: int = 0
    accepted: int = 0


@dataclass
class AuthServer:
    """Configuration of the server, and what it saw.

    ``algorithms``: one Digest challenge per entry, each with its own nonce.
    ``qop``: the qop-options offered (None: no qop, RFC 2069 style).
    ``stale_after``: a nonce answered right this many times is then stale:
    the next right answer gets a 401 with ``stale=true`` and a new nonce.
    ``one_field``: all challenges in one WWW-Authenticate field (else one each).
    ``also_offer``: challenges of other schemes sent before the Digest ones.
    """

    username: str = "Mufasa"
    password: str = "Circle of Life"  # noqa: S105 - the test user's
    realm: str = "hyperhttp@loopback"
    algorithms: tuple[str, ...] = ("MD5",)
    qop: str | None = "auth"
    userhash: bool = False
    stale_after: int | None = None
    one_field: bool = False
    also_offer: tuple[str, ...] = ()
    token: str = "mF_9.B5f-4.1JqM"  # noqa: S105 - RFC 6750 §2.1's example
    opaque: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    url: str = ""
    seen: list[SeenRequest] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    nonces: dict[str, _Nonce] = field(default_factory=dict)
    accepted_nc: list[int] = field(default_factory=list)  #: nc of each accepted answer

    # ------------------------------------------------------------ Digest

    def _h(self, algorithm: str, text: str) -> str:
        name = _HASHES[algorithm.upper().removesuffix("-SESS")]
        return hashlib.new(name, text.encode("utf-8")).hexdigest()

    def challenge_response(self, *, stale: bool = False) -> web.Response:
        """Return a 401 with fresh Digest challenges (and the extra ones)."""
        values = list(self.also_offer)
        for algorithm in self.algorithms:
            nonce = secrets.token_urlsafe(24)
            self.nonces[nonce] = _Nonce(algorithm, self.qop)
            parts = [f'realm="{self.realm}"']
            if self.qop is not None:
                parts.append(f'qop="{self.qop}"')
            parts += [f"algorithm={algorithm}", f'nonce="{nonce}"', f'opaque="{self.opaque}"']
            if self.userhash:
                parts.append("userhash=true")
            if stale:
                parts.append("stale=true")
            values.append("Digest " + ", ".join(parts))
        headers: CIMultiDict[str] = CIMultiDict()
        if self.one_field:
            headers.add("WWW-Authenticate", ", ".join(values))
        else:
            for value in values:
                headers.add("WWW-Authenticate", value)
        return web.Response(status=401, headers=headers, text="authenticate")

    def verify(self, method: str, target: str, authorization: str | None) -> str:
        """Return the verdict on a request's Digest credentials: "ok" or why not."""
        if authorization is None:
            return "no credentials"
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "digest":
            return "not digest"
        try:
            params = parse_params(rest)
        except ValueError:
            return "malformed"
        record = self.nonces.get(params.get("nonce", ""))
        if record is None:
            return "unknown nonce"
        algorithm = params.get("algorithm", "MD5")
        if algorithm.upper() != record.algorithm.upper():
            return "wrong algorithm"
        if params.get("realm") != self.realm:
            return "wrong realm"
        if params.get("uri") != target:
            return "wrong uri"
        if params.get("opaque") != self.opaque:
            return "wrong opaque"
        if self.userhash:
            expected_user = self._h(algorithm, f"{self.username}:{self.realm}")
            if params.get("userhash") != "true" or params.get("username") != expected_user:
                return "wrong userhash"
        else:
            user = params.get("username")
            if user is None and params.get("username*", "").lower().startswith("utf-8''"):
                user = unquote(params["username*"][7:], encoding="utf-8")
            if user != self.username:
                return "wrong username"
        ha1 = self._h(algorithm, f"{self.username}:{self.realm}:{self.password}")
        ha2 = self._h(algorithm, f"{method}:{target}")
        nonce = params["nonce"]
        nc_value = 0
        if record.qop is not None:
            qop, nc, cnonce = params.get("qop"), params.get("nc", ""), params.get("cnonce")
            if qop != "auth" or "auth" not in [q.strip() for q in record.qop.split(",")]:
                return "wrong qop"
            if not re.fullmatch(r"[0-9a-fA-F]{8}", nc) or not cnonce:
                return "malformed"
            if algorithm.upper().endswith("-SESS"):
                ha1 = self._h(algorithm, f"{ha1}:{nonce}:{cnonce}")
            expected = self._h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
            nc_value = int(nc, 16)
        else:
            expected = self._h(algorithm, f"{ha1}:{nonce}:{ha2}")
        if not hmac.compare_digest(params.get("response", ""), expected):
            return "wrong response"
        if record.qop is not None:
            if nc_value <= record.last_nc:  # a replayed or repeated count
                return "replayed nc"
            record.last_nc = nc_value
        if self.stale_after is not None and record.accepted >= self.stale_after:
            del self.nonces[nonce]
            return "stale"
        record.accepted += 1
        self.accepted_nc.append(nc_value)
        return "ok"

    # ------------------------------------------------------------ app

    def app(self) -> web.Application:
        """Return the aiohttp application."""

        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            body = await request.read()
            self.seen.append(
                SeenRequest(
                    request.method,
                    request.raw_path,
                    request.headers.get("Authorization"),
                    {k.lower(): v for k, v in request.headers.items()},
                    body,
                )
            )
            return await handler(request)  # type: ignore[no-any-return]

        async def digest(request: web.Request) -> web.Response:
            verdict = self.verify(
                request.method, request.raw_path, request.headers.get("Authorization")
            )
            self.outcomes.append(verdict)
            if verdict == "stale":
                return self.challenge_response(stale=True)
            if verdict != "ok":
                return self.challenge_response()
            return web.json_response({"user": self.username, "nc": self.accepted_nc[-1]})

        async def basic(request: web.Request) -> web.Response:
            pair = f"{self.username}:{self.password}".encode()
            expected = "Basic " + base64.b64encode(pair).decode("ascii")
            if request.headers.get("Authorization") != expected:
                challenge = f'Basic realm="{self.realm}", charset="UTF-8"'
                return web.Response(status=401, headers={"WWW-Authenticate": challenge})
            return web.json_response({"user": self.username})

        async def bearer(request: web.Request) -> web.Response:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                challenge = f'Bearer realm="{self.realm}", error="invalid_token"'
                headers = {"WWW-Authenticate": challenge}
                return web.Response(status=401, headers=headers, text="bearer token required")
            return web.json_response({"ok": True})

        async def echo(request: web.Request) -> web.Response:
            return web.json_response({k.lower(): v for k, v in request.headers.items()})

        async def redirect(request: web.Request) -> web.Response:
            return web.Response(status=302, headers={"Location": request.query["to"]})

        app = web.Application(middlewares=[record])
        app.router.add_route("*", "/digest/{tail:.*}", digest)
        app.router.add_get("/basic", basic)
        app.router.add_get("/bearer", bearer)
        app.router.add_route("*", "/echo", echo)
        app.router.add_get("/redirect", redirect)
        return app


_PARAM = re.compile(r'\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)\s*(?:,|$)')


def parse_params(text: str) -> dict[str, str]:
    """Parse ``name=value, name="quoted"`` pairs (names lower-cased).

    Raises:
        ValueError: anything else.

    """
    params: dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _PARAM.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"bad parameters at {pos}: {text[pos:]!r}")
        name, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
        pos = match.end()
    return params


@contextlib.asynccontextmanager
async def serve_auth(**config: Any) -> AsyncIterator[AuthServer]:
    """Run an :class:`AuthServer` (``config`` sets its fields) on 127.0.0.1, port 0."""
    server = AuthServer(**config)
    async with serve_app(server.app(), access_log=None, shutdown_timeout=0.1) as url:
        server.url = url
        yield server
