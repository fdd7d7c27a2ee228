"""Authentication: Basic (RFC 7617), Bearer (RFC 6750), Digest (RFC 7616), as flows.

Strategy
--------
An :class:`Auth` is a flow, sans-IO: a generator that receives the request,
yields the request to send, and is sent back the response. Yielding again
asks for another round (a 401 challenge answered); returning ends the
exchange with the last response. The client drives one flow per hop of a
redirect chain, and only while the hop stays on the first request's origin
(or its http->https upgrade on default ports), so credentials never leave
the origin they were given for.

Rules
-----
1. A flow never mutates the request it is given (the caller may still hold
   it): :func:`with_header` returns a new request with its own fields. The
   client checks every request again just before it goes on the wire, so a
   field a flow adds is validated like any other. A subclass overriding
   :meth:`Auth.auth_flow` is handed a private copy, so mutating it is safe.
2. Secrets never appear in a repr, a str or an exception message: reprs
   show ``'***'``, errors name the challenge's problem, never a credential.
3. Digest answers each challenge once. A second 401 to an answered
   challenge ends the flow with that 401 (wrong credentials), except
   ``stale=true`` (RFC 7616 §3.3: the digest was right, the nonce expired),
   which is answered again with the new nonce, a bounded number of times.
4. Digest remembers an answered challenge per (origin, realm) once the
   server accepted it, and answers later requests in its protection space
   (its ``domain``, else the whole origin) at once, with the nonce count
   incremented (RFC 7616 §3.4: nc counts the requests sent with a nonce).
   Credentials the server refuses are forgotten.
5. A Digest challenge that cannot be answered (unsupported algorithm,
   ``qop=auth-int`` only, a missing realm or nonce) raises
   :class:`AuthenticationError`; a 401 without any Digest challenge is
   returned as is.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import quote

import hyperhttp_parser as hp

from ._exceptions import HTTPError, StreamConsumed
from ._models import Request, Response
from ._urls import parse_url

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable

    from ._urls import URL

__all__ = [
    "Auth",
    "AuthTypes",
    "AuthenticationError",
    "BasicAuth",
    "BearerAuth",
    "Challenge",
    "DigestAuth",
    "FunctionAuth",
    "coerce_auth",
    "parse_challenges",
    "send_with_auth",
    "with_header",
]


class AuthenticationError(HTTPError):
    """The server's challenge cannot be answered (unsupported algorithm, qop, malformed).

    The message names the problem, never a credential.

    Attributes:
        response: the 401 response whose challenge could not be answered.

    """

    def __init__(
        self,
        message: str,
        *,
        request: Request | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.response = response


# ------------------------------------------------------------------ requests


def with_header(request: Request, name: str, value: str) -> Request:
    """Return a new request: ``request`` with the field ``name`` set to ``value``.

    Any existing field of that name is replaced. The original request is not
    changed; its extensions and body attributes are copied, its cached head is not.
    """
    copy = request.copy()
    copy.headers[name] = value
    return copy


# ------------------------------------------------------------------ base


class Auth:
    """Base class: override :meth:`auth_flow` (sync generator) or :meth:`async_auth_flow`.

    A flow receives the request, yields the request to send and is sent the
    response; yielding again sends another request (a challenge answered),
    returning ends with the last response. Use :func:`with_header` to add a
    field. The default sends the request as is.
    """

    #: True: the client reads the body of a response before sending it back in.
    requires_response_body: bool = False

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Yield the requests to send; each yield is answered with its response."""
        yield request

    async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        """Drive :meth:`auth_flow`; override this instead when the flow needs I/O."""
        if type(self).auth_flow not in _OWN_FLOWS:
            # A flow written elsewhere may set request.headers[...] in place.
            request = request.copy()
        flow = self.auth_flow(request)
        try:
            try:
                request = next(flow)
            except StopIteration:
                raise RuntimeError(
                    f"{type(self).__name__}.auth_flow() returned without yielding a request"
                ) from None
            while True:
                response = yield request
                try:
                    request = flow.send(response)
                except StopIteration:
                    return
        finally:
            flow.close()


class FunctionAuth(Auth):
    """Wrap a callable ``f(request) -> request`` (given a private copy of the request)."""

    def __init__(self, func: Callable[[Request], Request]) -> None:
        if not callable(func):
            raise TypeError(f"FunctionAuth needs a callable, not {type(func).__name__}")
        self.func = func

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Send what the callable returns for a copy of the request."""
        result: object = self.func(request.copy())
        if not isinstance(result, Request):
            raise TypeError(
                f"the auth callable must return a hyperhttp.Request, not {type(result).__name__}"
            )
        yield result

    def __repr__(self) -> str:
        name = getattr(self.func, "__qualname__", type(self.func).__name__)
        return f"FunctionAuth({name})"


# ------------------------------------------------------------------ Basic


def _has_ctl(value: bytes) -> bool:
    return any(b < 0x20 or b == 0x7F for b in value)


def _credential(value: object, what: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")


class BasicAuth(Auth):
    """HTTP Basic authentication (RFC 7617): ``Authorization: Basic base64(user:password)``.

    Credentials are encoded as UTF-8 (RFC 7617 §2.1, ``charset="UTF-8"``).

    Raises:
        TypeError: username or password is not str or bytes.
        ValueError: the username holds ":", or either holds a control character.

    """

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        user = _credential(username, "username")
        secret = _credential(password, "password")
        # RFC 7617 §2: the user-id cannot contain ":"; neither may hold a CTL.
        if b":" in user:
            raise ValueError("a Basic username must not contain ':' (RFC 7617 §2)")
        if _has_ctl(user):
            raise ValueError("a Basic username must not contain control characters")
        if _has_ctl(secret):
            raise ValueError("a Basic password must not contain control characters")
        self.username = username
        token = base64.b64encode(user + b":" + secret).decode("ascii")
        self._header = f"Basic {token}"

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Send the request with its Authorization field."""
        yield with_header(request, "Authorization", self._header)

    def __repr__(self) -> str:
        return f"BasicAuth({self.username!r}, '***')"


# ------------------------------------------------------------------ Bearer

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class BearerAuth(Auth):
    """OAuth 2.0 bearer tokens (RFC 6750 §2.1): ``Authorization: Bearer <token>``.

    Raises:
        TypeError: the token is not str.
        ValueError: the token is not a b64token.

    """

    def __init__(self, token: str) -> None:
        if not isinstance(token, str):
            raise TypeError(f"a bearer token must be str, not {type(token).__name__}")
        if not _B64TOKEN.fullmatch(token):
            raise ValueError(
                "a bearer token must be a b64token (RFC 6750 §2.1): letters, digits,"
                " '-._~+/', then optional '=' padding"
            )
        self._header = f"Bearer {token}"

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Send the request with its Authorization field."""
        yield with_header(request, "Authorization", self._header)

    def __repr__(self) -> str:
        return "BearerAuth('***')"


# ------------------------------------------------------------------ challenges


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a WWW-Authenticate field (RFC 9110 §11.6.1).

    Attributes:
        scheme: the auth-scheme, lower-cased.
        params: auth-params, names lower-cased, quoted values unescaped.
        token68: the token68 form's value, when the challenge has one.
        error: why the challenge is malformed (its params may then be partial).

    """

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None
    error: str | None = None


# RFC 9110 §5.6.2: one token table, the parser's.
_TOKEN = re.compile("[" + re.escape(hp.TOKEN_BYTES.decode("ascii")) + "]+")
_TOKEN68_ITEM = re.compile(r"[A-Za-z0-9\-._~+/]+=*[ \t]*(?:,|$)")
_OWS = " \t"


def _skip(text: str, pos: int, chars: str) -> int:
    n = len(text)
    while pos < n and text[pos] in chars:
        pos += 1
    return pos


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """Read the quoted-string at ``pos`` (RFC 9110 §5.6.4); return its value and the end."""
    out: list[str] = []
    pos += 1
    n = len(text)
    while pos < n:
        char = text[pos]
        if char == '"':
            return "".join(out), pos + 1
        if char == "\\":
            pos += 1
            if pos == n:
                break
            char = text[pos]
        out.append(char)
        pos += 1
    raise ValueError("unterminated quoted-string")


def _params(text: str, pos: int, params: dict[str, str]) -> int:
    """Read ``#auth-param`` from ``pos`` into ``params``; return where the next challenge starts.

    Raises:
        ValueError: malformed parameters (the message says how).

    """
    n = len(text)
    while True:
        pos = _skip(text, pos, _OWS)
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"expected a parameter name at offset {pos}")
        name = match.group().lower()
        at = _skip(text, match.end(), _OWS)
        if at >= n or text[at] != "=":
            raise ValueError(f"parameter {name!r} has no '='")
        at = _skip(text, at + 1, _OWS)
        if at < n and text[at] == '"':
            value, at = _quoted(text, at)
        else:
            match = _TOKEN.match(text, at)
            if match is None:
                raise ValueError(f"parameter {name!r} has no value")
            value, at = match.group(), match.end()
        # RFC 9110 §11.2: each parameter name occurs once per challenge.
        if name in params:
            raise ValueError(f"parameter {name!r} is repeated")
        params[name] = value
        at = _skip(text, at, _OWS)
        if at >= n:
            return at
        if text[at] != ",":
            raise ValueError(f"unexpected {text[at]!r} after parameter {name!r}")
        at = _skip(text, at, _OWS + ",")  # empty list elements are allowed (RFC 9110 §5.6.1)
        if at >= n:
            return at
        # After a comma: "name =" continues this challenge, anything else starts the next.
        match = _TOKEN.match(text, at)
        if match is None:
            raise ValueError(f"expected a parameter or a challenge at offset {at}")
        after = _skip(text, match.end(), _OWS)
        if after >= n or text[after] != "=":
            return at
        pos = at


def _parse_field(text: str) -> list[Challenge]:
    challenges: list[Challenge] = []
    n = len(text)
    pos = 0
    while True:
        pos = _skip(text, pos, _OWS + ",")
        if pos >= n:
            return challenges
        match = _TOKEN.match(text, pos)
        if match is None:
            challenges.append(Challenge("", error=f"expected an auth-scheme at offset {pos}"))
            return challenges
        scheme = match.group().lower()
        pos = match.end()
        if pos < n and text[pos] not in _OWS + ",":
            challenges.append(Challenge(scheme, error=f"unexpected {text[pos]!r} after the scheme"))
            return challenges
        pos = _skip(text, pos, _OWS)
        if pos >= n or text[pos] == ",":  # the scheme alone
            challenges.append(Challenge(scheme))
            continue
        token68 = _TOKEN68_ITEM.match(text, pos)
        if token68 is not None:  # challenge = auth-scheme 1*SP token68
            value = token68.group().rstrip(_OWS + ",")
            challenges.append(Challenge(scheme, token68=value))
            pos = token68.end()
            continue
        params: dict[str, str] = {}
        try:
            pos = _params(text, pos, params)
        except ValueError as exc:
            # Nothing after a malformed challenge can be told apart reliably.
            challenges.append(Challenge(scheme, params, error=str(exc)))
            return challenges
        challenges.append(Challenge(scheme, params))


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Parse WWW-Authenticate field values into challenges, in order (RFC 9110 §11.6.1).

    Several fields and several challenges per field are both allowed; names
    are case-insensitive, quoted strings may hold escapes and commas. A
    malformed challenge is returned with its ``error`` set, and ends its field.
    """
    challenges: list[Challenge] = []
    for value in values:
        challenges.extend(_parse_field(value))
    return challenges


def _parse_auth_info(value: str) -> dict[str, str]:
    """Parse an Authentication-Info value (RFC 7615 §3: ``#auth-param``); {} if malformed."""
    params: dict[str, str] = {}
    try:
        _params(value, _skip(value, 0, _OWS + ","), params)
    except ValueError:
        return {}
    return params


# ------------------------------------------------------------------ Digest

# RFC 7616 §3.3 and §6.1: algorithm names, the hash behind each, its strength.
_HASHES = (("MD5", "md5", 1), ("SHA-256", "sha256", 2), ("SHA-512-256", "sha512_256", 3))
_ALGORITHMS: dict[str, tuple[str, int]] = {}
for _name, _hash_name, _strength in _HASHES:
    try:  # what this Python's OpenSSL offers (SHA-512/256, MD5 under FIPS)
        hashlib.new(_hash_name)
    except ValueError:  # pragma: no cover - depends on the build
        continue
    _ALGORITHMS[_name] = (_hash_name, _strength)
    _ALGORITHMS[f"{_name}-SESS"] = (_hash_name, _strength)
del _name, _hash_name, _strength

#: stale=true renewals answered per request before the 401 is returned.
MAX_STALE_RENEWALS = 2
#: challenges remembered per DigestAuth (one per origin and realm); oldest dropped first.
MAX_REMEMBERED_CHALLENGES = 64
_MAX_NONCE_COUNT = 0xFFFFFFFF  # nc is 8 hex digits (RFC 7616 §3.4)


@dataclass(slots=True)
class _Digest:
    """An answerable Digest challenge, and how often its nonce was used."""

    realm: str
    nonce: str
    opaque: str | None
    algorithm: str  # as the server spelled it ("MD5" when it named none)
    hash_name: str
    strength: int
    sess: bool
    qop: str | None  # "auth", or None: RFC 2069 compatibility
    userhash: bool
    stale: bool
    domain: tuple[str, ...]
    count: int = 0  # requests sent with this nonce (nc of the last one)
    cnonce: str | None = None  # fixed per nonce for -sess: A1 is computed once (RFC 7616 §3.4.2)


def _digest(challenge: Challenge) -> _Digest | str:
    """Return the answerable form of a Digest challenge, or why it cannot be answered."""
    if challenge.error is not None:
        return f"malformed challenge ({challenge.error})"
    params = challenge.params
    if challenge.token68 is not None or not params:
        return "malformed challenge (no parameters)"
    realm = params.get("realm")
    nonce = params.get("nonce")
    if realm is None:
        return "malformed challenge (no realm)"
    if not nonce:
        return "malformed challenge (no nonce)"
    algorithm = params.get("algorithm", "MD5")
    known = _ALGORITHMS.get(algorithm.upper())
    if known is None:
        return f"unsupported algorithm {algorithm!r}"
    sess = algorithm.upper().endswith("-SESS")
    qop: str | None = None
    offered = [option.strip().lower() for option in params.get("qop", "").split(",")]
    offered = [option for option in offered if option]
    if offered:
        if "auth" in offered:
            qop = "auth"
        elif "auth-int" in offered:
            return "qop auth-int only (integrity protection of the body is not supported)"
        else:
            return f"unsupported qop {params['qop']!r}"
    elif sess:
        # -sess A1 needs a cnonce, which RFC 2069 (no qop) does not have.
        return f"algorithm {algorithm!r} without qop"
    return _Digest(
        realm=realm,
        nonce=nonce,
        opaque=params.get("opaque"),
        algorithm=algorithm,
        hash_name=known[0],
        strength=known[1],
        sess=sess,
        qop=qop,
        userhash=params.get("userhash", "").lower() == "true",
        stale=params.get("stale", "").lower() == "true",
        domain=tuple(params.get("domain", "").split()),
    )


def _quote(value: str) -> str:
    """Return ``value`` as a quoted-string (RFC 9110 §5.6.4)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _in_space(state: _Digest, url: URL) -> bool:
    """Whether ``url`` is in the challenge's protection space (RFC 7616 §3.3, domain)."""
    if not state.domain:
        return True
    for prefix in state.domain:
        if prefix.startswith("/"):
            if url.path.startswith(prefix):
                return True
            continue
        try:
            other = parse_url(prefix)
        except (ValueError, TypeError):
            continue
        if other.origin == url.origin and url.path.startswith(other.path):
            return True
    return False


# RFC 8187 §3.2.1 attr-char, beyond what quote() always keeps (letters, digits, "_.-~").
_ATTR_CHAR_SAFE = "!#$&+^`|"


class DigestAuth(Auth):
    """HTTP Digest authentication (RFC 7616; RFC 2617 and 2069 servers too).

    The first request to a protection space goes without credentials; a 401
    with a Digest challenge is answered once with the strongest algorithm
    offered (SHA-512-256, SHA-256, MD5, each also ``-sess``) and ``qop=auth``.
    Accepted challenges are remembered per origin and realm, and later
    requests are answered at once with the nonce count incremented.

    Args:
        username: the user name (UTF-8; sent as ``username*`` when not ASCII).
        password: the password (UTF-8).
        cnonce_factory: returns each client nonce; ``secrets.token_hex(16)``
            by default (tests pass a fixed one).

    Raises:
        TypeError: username or password is not str.

    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        cnonce_factory: Callable[[], str] | None = None,
    ) -> None:
        if not isinstance(username, str):
            raise TypeError(f"username must be str, not {type(username).__name__}")
        if not isinstance(password, str):
            raise TypeError(f"password must be str, not {type(password).__name__}")
        self.username = username
        self._user = username.encode("utf-8")
        self._password = password.encode("utf-8")
        self._cnonce = cnonce_factory if cnonce_factory is not None else _new_cnonce
        self._remembered: dict[tuple[tuple[str, str, int], str], _Digest] = {}

    def __repr__(self) -> str:
        return f"DigestAuth({self.username!r}, '***')"

    # ------------------------------------------------------------ flow

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Answer Digest challenges; see the module's rules 3 to 5."""
        state = self._remembered_for(request.url)
        from_memory = state is not None
        if state is not None:
            response = yield self._authorize(request, state)
        else:
            response = yield request
        renewals = 0
        while True:
            if response.status_code != 401:
                if state is not None:
                    self._remember(request.url, state, response)
                return
            challenge = self._choose(request, response)
            if state is not None:  # the credentials we sent were refused
                self._forget(request.url, state)
                if challenge is None:
                    return
                if challenge.stale:  # the digest was right, the nonce too old
                    if renewals >= MAX_STALE_RENEWALS:
                        return
                    renewals += 1
                elif not from_memory:  # a challenge answered in this flow: wrong credentials
                    return
                # else: a remembered nonce the server no longer knows; answer its new one
            elif challenge is None:
                return
            from_memory = False
            if not request.replayable:
                raise AuthenticationError(
                    "the Digest challenge needs the request sent again, but its body was a"
                    " stream that was already sent; pass the body as bytes",
                    request=request,
                    response=response,
                )
            state = challenge
            response = yield self._authorize(request, state)

    def _choose(self, request: Request, response: Response) -> _Digest | None:
        """Pick the strongest answerable Digest challenge of a 401; None without any.

        Raises:
            AuthenticationError: Digest challenges, none of them answerable.

        """
        challenges = parse_challenges(response.headers.get_list("www-authenticate"))
        best: _Digest | None = None
        problems: list[str] = []
        for challenge in challenges:
            if challenge.scheme != "digest":
                continue
            candidate = _digest(challenge)
            if isinstance(candidate, str):
                if candidate not in problems:
                    problems.append(candidate)
            elif best is None or candidate.strength > best.strength:
                best = candidate
        if best is None and problems:
            raise AuthenticationError(
                "the server's Digest challenge cannot be answered: " + "; ".join(problems),
                request=request,
                response=response,
            )
        return best

    # ------------------------------------------------------------ memory

    def _remembered_for(self, url: URL) -> _Digest | None:
        for (origin, _), state in reversed(self._remembered.items()):
            if origin == url.origin and _in_space(state, url):
                return state
        return None

    def _remember(self, url: URL, state: _Digest, response: Response) -> None:
        # RFC 7616 §3.5: Authentication-Info may name the nonce to use next.
        info = response.headers.get("authentication-info")
        if info is not None:
            nextnonce = _parse_auth_info(info).get("nextnonce")
            if nextnonce:
                state = replace(state, nonce=nextnonce, count=0, cnonce=None, stale=False)
        if state.count >= _MAX_NONCE_COUNT:
            return
        key = (url.origin, state.realm)
        self._remembered.pop(key, None)
        self._remembered[key] = state
        while len(self._remembered) > MAX_REMEMBERED_CHALLENGES:
            del self._remembered[next(iter(self._remembered))]

    def _forget(self, url: URL, state: _Digest) -> None:
        key = (url.origin, state.realm)
        if self._remembered.get(key) is state:
            del self._remembered[key]

    # ------------------------------------------------------------ RFC 7616 §3.4

    def _authorize(self, request: Request, state: _Digest) -> Request:
        return with_header(request, "Authorization", self._authorization(request, state))

    def _authorization(self, request: Request, state: _Digest) -> str:
        """Return the Authorization value answering ``state`` for ``request`` (counts nc)."""
        state.count += 1
        nc = f"{state.count:08x}"
        if state.sess:
            if state.cnonce is None:
                state.cnonce = self._cnonce()
            cnonce = state.cnonce
        else:
            cnonce = self._cnonce()
        hash_name = state.hash_name

        def h(data: bytes) -> str:
            return hashlib.new(hash_name, data).hexdigest()

        # Values from the challenge are latin-1 text of their wire bytes.
        realm = state.realm.encode("latin-1")
        nonce = state.nonce.encode("latin-1")
        ha1 = h(self._user + b":" + realm + b":" + self._password)
        if state.sess:
            ha1 = h(b"%s:%s:%s" % (ha1.encode("ascii"), nonce, cnonce.encode("latin-1")))
        uri = request.url.target.decode("ascii")
        ha2 = h(f"{request.method}:{uri}".encode("ascii"))
        if state.qop is not None:
            digest = h(
                b"%s:%s:%s:%s:%s:%s"
                % (
                    ha1.encode("ascii"),
                    nonce,
                    nc.encode("ascii"),
                    cnonce.encode("latin-1"),
                    state.qop.encode("ascii"),
                    ha2.encode("ascii"),
                )
            )
        else:  # RFC 2069 compatibility (RFC 7616 §3.4.1 without qop)
            digest = h(b"%s:%s:%s" % (ha1.encode("ascii"), nonce, ha2.encode("ascii")))
        if state.userhash:  # RFC 7616 §3.4.4: after the other hashes
            user = "username=" + _quote(h(self._user + b":" + realm))
        elif self.username.isascii() and self.username.isprintable():
            user = "username=" + _quote(self.username)
        else:  # RFC 7616 §3.4.4 and RFC 8187: username*
            user = "username*=UTF-8''" + quote(self.username, safe=_ATTR_CHAR_SAFE)
        parts = [
            user,
            "realm=" + _quote(state.realm),
            "uri=" + _quote(uri),
            "algorithm=" + state.algorithm,
            "nonce=" + _quote(state.nonce),
        ]
        if state.qop is not None:
            parts += ["nc=" + nc, "cnonce=" + _quote(cnonce), "qop=" + state.qop]
        parts.append("response=" + _quote(digest))
        if state.opaque is not None:
            parts.append("opaque=" + _quote(state.opaque))
        if state.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)


def _new_cnonce() -> str:
    return secrets.token_hex(16)


# ------------------------------------------------------------------ coercion

#: What ``auth=`` accepts (see :func:`coerce_auth`).
AuthTypes: TypeAlias = (
    "Auth | tuple[str | bytes, str | bytes] | Callable[[Request], Request] | None"
)


def coerce_auth(value: object) -> Auth | None:
    """Turn the ``auth=`` argument into an :class:`Auth`.

    ``None`` stays None; ``(username, password)`` becomes :class:`BasicAuth`;
    an :class:`Auth` is returned as is; a callable ``f(request) -> request``
    is wrapped in :class:`FunctionAuth`.

    Raises:
        TypeError: anything else (the message never shows the value).
        ValueError: from :class:`BasicAuth`, for an invalid username or password.

    """
    if value is None or isinstance(value, Auth):
        return value
    if isinstance(value, tuple):
        if len(value) != 2 or not all(isinstance(item, str | bytes) for item in value):
            raise TypeError("an auth tuple must be (username, password), both str or bytes")
        return BasicAuth(value[0], value[1])
    if callable(value):
        return FunctionAuth(value)
    raise TypeError(
        "auth must be a (username, password) tuple, a hyperhttp.Auth, a callable"
        f" f(request) -> request, or None; not {type(value).__name__}"
    )


# Flows of this module that never mutate the request they are given.
_OWN_FLOWS: frozenset[object] = frozenset(
    {
        Auth.auth_flow,
        FunctionAuth.auth_flow,
        BasicAuth.auth_flow,
        BearerAuth.auth_flow,
        DigestAuth.auth_flow,
    }
)


async def send_with_auth(
    auth: Auth,
    request: Request,
    send: Callable[[Request], Awaitable[Response]],
    *,
    stream: bool,
) -> Response:
    """Drive ``auth``'s flow: each request it yields goes through ``send``, its response back in.

    A challenge answered is released before the next round (read whole when
    streaming: its body is small, and its connection is then reused).

    Raises:
        StreamConsumed: the flow wants to send again a request whose streamed
            body already went out.

    """
    flow = auth.async_auth_flow(request)
    try:
        request = await flow.__anext__()
        while True:
            response = await send(request)
            if auth.requires_response_body:
                await response.aread()
            try:
                following = await flow.asend(response)
            except StopAsyncIteration:
                return response
            except BaseException:
                await response.aclose()
                raise
            if stream:
                await response.aread()
            await response.aclose()
            if not following.replayable:
                raise StreamConsumed(
                    f"{auth!r} wants to send the request again, but its body was a stream"
                    " that was already sent; pass the body as bytes",
                    request=following,
                )
            request = following
    finally:
        await flow.aclose()
