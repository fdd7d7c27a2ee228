"""Auth flows driven by hand (sans-IO): Basic, Bearer, Digest, challenge parsing, coercion."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
from typing import TYPE_CHECKING, Any

import pytest

from hyperhttp import Headers, Request, Response
from hyperhttp._auth import (
    MAX_STALE_RENEWALS,
    Auth,
    AuthenticationError,
    BasicAuth,
    BearerAuth,
    Challenge,
    DigestAuth,
    FunctionAuth,
    coerce_auth,
    parse_challenges,
    with_header,
)
from hyperhttp._models import CheckedHead
from hyperhttp._urls import URL

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Generator

PASSWORD = "Circle of Life"  # noqa: S105 - RFC 7616 §3.9.1

# RFC 7616 §3.9.1: the example's values.
RFC_REALM = "http-auth@example.org"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC_URL = "http://www.example.org/dir/index.html"


def _request(
    url: str = "http://a.test/x?y=1",
    method: str = "GET",
    headers: Headers | None = None,
    content: bytes | None = None,
) -> Request:
    return Request(method, URL(url), Headers() if headers is None else headers, content)


def _401(*challenges: str) -> Response:
    return Response(401, headers=Headers([("WWW-Authenticate", c) for c in challenges]))


def _ok(**fields: str) -> Response:
    return Response(200, headers=Headers(list(fields.items())))


def _challenge(
    algorithm: str | None = "MD5",
    *,
    realm: str = RFC_REALM,
    nonce: str = RFC_NONCE,
    qop: str | None = "auth",
    extra: str = "",
) -> str:
    parts = [f'realm="{realm}"']
    if qop is not None:
        parts.append(f'qop="{qop}"')
    if algorithm is not None:
        parts.append(f"algorithm={algorithm}")
    parts += [f'nonce="{nonce}"', f'opaque="{RFC_OPAQUE}"']
    return "Digest " + ", ".join(parts) + extra


def _digest(username: str = "Mufasa", password: str = PASSWORD, cnonce: str = RFC_CNONCE) -> Any:
    return DigestAuth(username, password, cnonce_factory=lambda: cnonce)


class Flow:
    """Drive a sync auth flow as the client would: send each response, collect requests."""

    def __init__(self, auth: Auth, request: Request) -> None:
        self.flow: Generator[Request, Response, None] = auth.auth_flow(request)
        self.sent = [next(self.flow)]
        self.done = False

    def respond(self, response: Response) -> Request | None:
        """Send ``response`` in; return the next request, or None when the flow ended."""
        assert not self.done
        try:
            request = self.flow.send(response)
        except StopIteration:
            self.done = True
            return None
        self.sent.append(request)
        return request


def _authorization(request: Request | None) -> str:
    assert request is not None
    return request.headers["Authorization"]


def _params(authorization: str) -> dict[str, str]:
    """Parse a Digest Authorization value with a test-local parser."""
    scheme, _, rest = authorization.partition(" ")
    assert scheme == "Digest"
    found = re.findall(r'([a-z*]+)=("(?:[^"\\]|\\.)*"|[^,\s]+)', rest)
    return {k: re.sub(r"\\(.)", r"\1", v[1:-1]) if v.startswith('"') else v for k, v in found}


def _h(name: str, text: str) -> str:
    return hashlib.new(name, text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------ Basic


@pytest.mark.parametrize(
    ("username", "password", "expected"),
    [
        ("Aladdin", "open sesame", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),  # RFC 7617 §2
        ("test", "123\u00a3", "Basic dGVzdDoxMjPCow=="),  # RFC 7617 §2.1: UTF-8
        (b"test", b"123\xc2\xa3", "Basic dGVzdDoxMjPCow=="),
        ("", "", "Basic Og=="),
    ],
)
def test_basic_header(username: str | bytes, password: str | bytes, expected: str) -> None:
    """Basic sends base64(user:password) of the UTF-8 credentials."""
    flow = Flow(BasicAuth(username, password), _request())
    assert flow.sent[0].headers["Authorization"] == expected
    assert flow.respond(_401('Basic realm="x"')) is None  # one request, no retry


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [
        ("a:b", "secret-pw", "':'"),
        ("a\nb", "secret-pw", "control"),
        ("ab", "secret-pw\r\n", "control"),
        ("ab", "secret-pw\x7f", "control"),
    ],
)
def test_basic_rejects_invalid_credentials(username: str, password: str, error: str) -> None:
    """A ":" in the username or a control character is a ValueError that hides the password."""
    with pytest.raises(ValueError, match=error) as caught:
        BasicAuth(username, password)
    assert "secret-pw" not in str(caught.value)


def test_basic_rejects_non_strings() -> None:
    """Credentials must be str or bytes."""
    with pytest.raises(TypeError, match="password"):
        BasicAuth("user", 1234)  # type: ignore[arg-type]


def test_basic_repr_hides_the_password() -> None:
    """The repr shows the username and '***'."""
    auth = BasicAuth("user", "hunter2")
    assert repr(auth) == "BasicAuth('user', '***')"
    assert "hunter2" not in str(auth)
    assert "hunter2" not in repr(vars(auth))


def _memoize_head(request: Request) -> None:
    """Give the request a head memo as the client would (its copies must not carry it)."""
    request._wire = CheckedHead(
        request.headers._list, request.url, request.method, [], b"", b"", b"/", []
    )


def test_with_header_copies_and_never_mutates() -> None:
    """with_header gives a new request: own fields, no memoized head, extensions kept."""
    shared = Headers()
    request = _request(headers=shared, content=b"body")
    _memoize_head(request)
    request.extensions["cookies"] = "c"
    sent = with_header(request, "Authorization", "Bearer x")
    assert sent is not request
    assert sent.headers is not shared
    assert len(shared) == 0
    assert request._wire is not None
    assert sent._wire is None
    assert sent.extensions["cookies"] == "c"
    assert (sent.method, sent.url, sent.content) == ("GET", request.url, b"body")
    assert sent.headers["Authorization"] == "Bearer x"


def test_with_header_replaces_an_existing_field() -> None:
    """An Authorization field already there is replaced, not repeated."""
    request = _request(headers=Headers([("authorization", "old"), ("X-Other", "1")]))
    sent = next(BasicAuth("u", "p").auth_flow(request))
    assert sent.headers.get_list("Authorization") == ["Basic dTpw"]
    assert sent.headers["x-other"] == "1"
    assert request.headers["authorization"] == "old"


# ------------------------------------------------------------------ Bearer


def test_bearer_header() -> None:
    """Bearer sends the token as is (RFC 6750 §2.1)."""
    flow = Flow(BearerAuth("mF_9.B5f-4.1JqM/+~=="), _request())
    assert flow.sent[0].headers["Authorization"] == "Bearer mF_9.B5f-4.1JqM/+~=="


@pytest.mark.parametrize("token", ["", "se cret", "tok=en", "=abc", "tök", "a\r\nX: y", "a,b"])
def test_bearer_rejects_non_b64token(token: str) -> None:
    """A token outside the b64token grammar raises ValueError without showing the token."""
    with pytest.raises(ValueError, match="b64token") as caught:
        BearerAuth(token)
    if token:
        assert token not in str(caught.value)


def test_bearer_repr_and_type() -> None:
    """The repr hides the token; a non-str token is a TypeError."""
    assert repr(BearerAuth("s3cr3t")) == "BearerAuth('***')"
    with pytest.raises(TypeError):
        BearerAuth(b"s3cr3t")  # type: ignore[arg-type]


# ------------------------------------------------------------------ coerce_auth and callables


def test_coerce_auth() -> None:
    """None, tuples, Auth instances and callables become what the client drives."""
    assert coerce_auth(None) is None
    basic = coerce_auth(("user", "pw"))
    assert isinstance(basic, BasicAuth)
    assert repr(basic) == "BasicAuth('user', '***')"
    digest = DigestAuth("u", "p")
    assert coerce_auth(digest) is digest

    def sign(request: Request) -> Request:
        return request

    wrapped = coerce_auth(sign)
    assert isinstance(wrapped, FunctionAuth)
    assert wrapped.func is sign


@pytest.mark.parametrize(
    "value", [("user", "secret-pw", "x"), ("user",), ("user", 5), ["user", "secret-pw"], 42, "u:p"]
)
def test_coerce_auth_rejects_other_values(value: object) -> None:
    """Anything else is a TypeError whose message shows neither the value nor the secret."""
    with pytest.raises(TypeError, match="auth") as caught:
        coerce_auth(value)
    assert "secret-pw" not in str(caught.value)
    assert "u:p" not in str(caught.value)


def test_coerce_auth_validates_the_tuple() -> None:
    """A tuple's credentials are checked as BasicAuth's are."""
    with pytest.raises(ValueError, match="':'"):
        coerce_auth(("a:b", "pw"))


def test_function_auth_gets_a_private_copy() -> None:
    """A callable may set fields in place: the caller's (maybe shared) Headers stay untouched."""
    shared = Headers()
    request = _request(headers=shared)
    _memoize_head(request)

    def sign(req: Request) -> Request:
        req.headers["X-Signature"] = f"{req.method} {req.url.path}"
        return req

    sent = Flow(FunctionAuth(sign), request).sent[0]
    assert sent.headers["X-Signature"] == "GET /x"
    assert len(shared) == 0
    assert sent._wire is None
    assert repr(FunctionAuth(sign)).startswith("FunctionAuth(")


def test_function_auth_must_return_a_request() -> None:
    """A callable returning something else is a TypeError."""
    with pytest.raises(TypeError, match="Request"):
        Flow(FunctionAuth(lambda request: None), _request())  # type: ignore[arg-type,return-value]


# ------------------------------------------------------------------ the async driver


async def _drive_async(auth: Auth, request: Request, responses: list[Response]) -> list[Request]:
    """Drive async_auth_flow exactly as the client does; return what was sent."""
    flow = auth.async_auth_flow(request)
    request = await flow.__anext__()
    sent = [request]
    for response in responses:
        try:
            request = await flow.asend(response)
        except StopAsyncIteration:
            break
        sent.append(request)
    return sent


def test_async_flow_drives_the_sync_flow() -> None:
    """The default async_auth_flow runs auth_flow round by round (Digest: two requests)."""
    auth = _digest()
    responses = [_401(_challenge()), _ok(), _ok()]
    sent = asyncio.run(_drive_async(auth, _request(RFC_URL), responses))
    assert len(sent) == 2
    assert "Authorization" not in sent[0].headers
    assert _params(sent[1].headers["Authorization"])["response"] == (
        "8ca523f5e9506fed4657c9700eebdbec"
    )


def test_async_flow_copies_the_request_for_a_subclass_that_mutates() -> None:
    """A subclass setting request.headers[...] in place works on a copy, not the shared fields."""

    class Signing(Auth):
        def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
            request.headers["X-Signature"] = f"{request.method}:{request.url.path}"
            yield request

    shared = Headers()
    request = _request(headers=shared)
    _memoize_head(request)
    (sent,) = asyncio.run(_drive_async(Signing(), request, [_ok()]))
    assert sent.headers["X-Signature"] == "GET:/x"
    assert len(shared) == 0
    assert sent._wire is None


def test_async_flow_overridden_directly() -> None:
    """A subclass may override async_auth_flow instead (a flow needing I/O)."""

    class Fetching(Auth):
        async def async_auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
            await asyncio.sleep(0)  # e.g. fetch a token
            yield with_header(request, "Authorization", "Bearer fetched")

    (sent,) = asyncio.run(_drive_async(Fetching(), _request(), [_ok()]))
    assert sent.headers["Authorization"] == "Bearer fetched"


def test_default_auth_sends_the_request_as_is() -> None:
    """The base class's flow yields the request itself, once."""
    request = _request()
    flow = Flow(Auth(), request)
    assert flow.sent == [request]
    assert flow.respond(_401("Basic")) is None


# ------------------------------------------------------------------ parsing challenges


def _shape(challenges: list[Challenge]) -> list[tuple[str, dict[str, str] | str | None]]:
    return [(c.scheme, c.token68 if c.token68 is not None else c.params) for c in challenges]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (['Digest realm="a b", nonce="n"'], [("digest", {"realm": "a b", "nonce": "n"})]),
        (  # escaped quotes, backslashes and commas inside quoted strings
            ['Digest realm="say \\"hi\\", ok", nonce="a\\\\b,c", qop="auth,auth-int"'],
            [("digest", {"realm": 'say "hi", ok', "nonce": "a\\b,c", "qop": "auth,auth-int"})],
        ),
        (  # RFC 9110 §11.6.1's example: two challenges in one field
            ['Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"'],
            [
                ("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
                ("basic", {"realm": "simple"}),
            ],
        ),
        (  # names are case-insensitive; values keep their case
            ['DIGEST REALM="X", Nonce="y", ALGORITHM=sha-256'],
            [("digest", {"realm": "X", "nonce": "y", "algorithm": "sha-256"})],
        ),
        (  # several fields
            ['Basic realm="b"', "Digest realm=r, nonce=n, algorithm=SHA-256"],
            [
                ("basic", {"realm": "b"}),
                ("digest", {"realm": "r", "nonce": "n", "algorithm": "SHA-256"}),
            ],
        ),
        (  # token68 forms and a scheme alone
            ["Negotiate abc+/==, NTLM, Digest realm=x, nonce=y", "Negotiate"],
            [
                ("negotiate", "abc+/=="),
                ("ntlm", {}),
                ("digest", {"realm": "x", "nonce": "y"}),
                ("negotiate", {}),
            ],
        ),
        (  # empty list elements and whitespace around "=" (RFC 9110 §5.6.1, BWS)
            [' , ,Digest realm = "x" ,, nonce=\t"y" , ,Basic realm="z",'],
            [("digest", {"realm": "x", "nonce": "y"}), ("basic", {"realm": "z"})],
        ),
        ([""], []),
        (['Digest realm=""'], [("digest", {"realm": ""})]),
    ],
)
def test_parse_challenges(
    fields: list[str], expected: list[tuple[str, dict[str, str] | str | None]]
) -> None:
    """Challenges come out in order, with unescaped values and lower-cased names."""
    challenges = parse_challenges(fields)
    assert _shape(challenges) == expected
    assert all(c.error is None for c in challenges)


@pytest.mark.parametrize(
    ("field", "error"),
    [
        ('Digest realm="open', "unterminated"),
        ('Digest realm="a", realm="b"', "repeated"),
        ('Digest realm="a" nonce="b"', "unexpected"),
        ("Digest realm=x, nonce=", "no value"),
        ('Digest realm "x"', "no '='"),
        ('Digest="x"', "after the scheme"),
    ],
)
def test_parse_malformed_challenges(field: str, error: str) -> None:
    """A malformed challenge is returned with its error (and ends its field)."""
    (*_, last) = parse_challenges([field])
    assert last.error is not None
    assert error in last.error


def test_a_malformed_field_does_not_hide_another_field() -> None:
    """The next field is parsed on its own."""
    challenges = parse_challenges(['Digest realm="x', "Digest realm=a, nonce=b"])
    assert challenges[0].error is not None
    assert challenges[1] == Challenge("digest", {"realm": "a", "nonce": "b"})


# ------------------------------------------------------------------ Digest: RFC 7616 §3.9.1


def test_rfc7616_md5_example() -> None:
    """The MD5 example of RFC 7616 §3.9.1, field for field."""
    flow = Flow(_digest(), _request(RFC_URL))
    assert "Authorization" not in flow.sent[0].headers  # the first request has no credentials
    answer = flow.respond(_401(_challenge("MD5", qop="auth, auth-int")))
    assert _authorization(answer) == (
        'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html",'
        ' algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001,'
        ' cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth,'
        ' response="8ca523f5e9506fed4657c9700eebdbec",'
        ' opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    assert flow.respond(_ok()) is None


def test_rfc7616_sha256_example_preferred_over_md5() -> None:
    """The server offers SHA-256 and MD5 (RFC 7616 §3.9.1): SHA-256 is answered."""
    flow = Flow(_digest(), _request(RFC_URL))
    answer = flow.respond(_401(_challenge("SHA-256"), _challenge("MD5")))
    params = _params(_authorization(answer))
    assert params["algorithm"] == "SHA-256"
    assert params["response"] == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    assert (params["nc"], params["qop"], params["cnonce"]) == ("00000001", "auth", RFC_CNONCE)
    assert params["opaque"] == RFC_OPAQUE


@pytest.mark.parametrize(
    "fields",
    [
        [_challenge("MD5"), _challenge("SHA-256")],  # two fields, weaker first
        [_challenge("MD5") + ", " + _challenge("SHA-256")],  # one field
        ['Basic realm="b", ' + _challenge("md5-sess") + ", " + _challenge("sha-256")],
        [_challenge("SHA-1"), _challenge("SHA-256")],  # an unsupported one is skipped
    ],
)
def test_strongest_algorithm_is_chosen(fields: list[str]) -> None:
    """SHA-256 wins over MD5 however the challenges are laid out."""
    flow = Flow(_digest(), _request(RFC_URL))
    params = _params(_authorization(flow.respond(_401(*fields))))
    assert params["algorithm"].upper() == "SHA-256"
    assert params["response"] == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


@pytest.mark.parametrize(
    ("algorithm", "hash_name"),
    [("MD5-sess", "md5"), ("SHA-256-sess", "sha256"), ("SHA-512-256", "sha512_256")],
)
def test_other_algorithms(algorithm: str, hash_name: str) -> None:
    """-sess variants hash A1 with the nonce and cnonce (RFC 7616 §3.4.2); SHA-512-256 too."""
    flow = Flow(_digest(), _request("http://a.test/x?y=1"))
    params = _params(_authorization(flow.respond(_401(_challenge(algorithm)))))
    ha1 = _h(hash_name, f"Mufasa:{RFC_REALM}:{PASSWORD}")
    if algorithm.endswith("-sess"):
        ha1 = _h(hash_name, f"{ha1}:{RFC_NONCE}:{RFC_CNONCE}")
    ha2 = _h(hash_name, "GET:/x?y=1")  # the digest-uri is the request-target, query included
    expected = _h(hash_name, f"{ha1}:{RFC_NONCE}:00000001:{RFC_CNONCE}:auth:{ha2}")
    assert params["algorithm"] == algorithm
    assert params["uri"] == "/x?y=1"
    assert params["response"] == expected


def test_rfc2069_compatibility_without_qop() -> None:
    """No qop offered: response = H(HA1:nonce:HA2), and no nc, cnonce or qop are sent."""
    flow = Flow(_digest(), _request(RFC_URL))
    params = _params(_authorization(flow.respond(_401(_challenge(None, qop=None)))))
    ha1 = _h("md5", f"Mufasa:{RFC_REALM}:{PASSWORD}")
    ha2 = _h("md5", "GET:/dir/index.html")
    assert params["response"] == _h("md5", f"{ha1}:{RFC_NONCE}:{ha2}")
    assert not {"nc", "cnonce", "qop"} & params.keys()


def test_method_is_part_of_the_digest() -> None:
    """HA2 hashes the request's method."""
    flow = Flow(_digest(), _request(RFC_URL, method="POST", content=b"x"))
    answer = flow.respond(_401(_challenge("MD5")))
    params = _params(_authorization(answer))
    ha1 = _h("md5", f"Mufasa:{RFC_REALM}:{PASSWORD}")
    ha2 = _h("md5", "POST:/dir/index.html")
    expected = _h("md5", f"{ha1}:{RFC_NONCE}:00000001:{RFC_CNONCE}:auth:{ha2}")
    assert params["response"] == expected
    assert answer is not None
    assert answer.content == b"x"


def test_userhash() -> None:
    """userhash=true: the username is sent as H(username:realm) (RFC 7616 §3.4.4)."""
    flow = Flow(_digest(), _request(RFC_URL))
    answer = flow.respond(_401(_challenge("SHA-256", extra=", userhash=true")))
    params = _params(_authorization(answer))
    assert params["username"] == _h("sha256", f"Mufasa:{RFC_REALM}")
    assert params["userhash"] == "true"
    # the response hash uses the plain username
    assert params["response"] == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


def test_non_ascii_username_is_sent_as_username_star() -> None:
    """A username a quoted-string cannot carry goes as username* (RFC 7616 §3.4.4, RFC 8187)."""
    flow = Flow(_digest("J\u00e4s\u00f8n Doe", "Secret, or not?"), _request(RFC_URL))
    value = _authorization(flow.respond(_401(_challenge("SHA-256"))))
    assert "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe" in value
    assert "username=" not in value
    ha1 = hashlib.sha256(f"J\u00e4s\u00f8n Doe:{RFC_REALM}:Secret, or not?".encode()).hexdigest()
    ha2 = _h("sha256", "GET:/dir/index.html")
    expected = _h("sha256", f"{ha1}:{RFC_NONCE}:00000001:{RFC_CNONCE}:auth:{ha2}")
    assert _params(value)["response"] == expected


def test_quoted_values_are_escaped() -> None:
    """A realm with quotes and backslashes is echoed as a valid quoted-string."""
    flow = Flow(_digest('we"ird\\user'), _request(RFC_URL))
    value = _authorization(flow.respond(_401(_challenge(realm='a \\"b\\" \\\\c'))))
    assert 'realm="a \\"b\\" \\\\c"' in value
    assert 'username="we\\"ird\\\\user"' in value
    ha1 = _h("md5", f'we"ird\\user:a "b" \\c:{PASSWORD}')
    ha2 = _h("md5", "GET:/dir/index.html")
    expected = _h("md5", f"{ha1}:{RFC_NONCE}:00000001:{RFC_CNONCE}:auth:{ha2}")
    assert _params(value)["response"] == expected


def test_cnonce_is_random_by_default() -> None:
    """Without a factory, each answer has a fresh random cnonce."""
    auth = DigestAuth("Mufasa", PASSWORD)
    cnonces = set()
    for _ in range(3):
        flow = Flow(auth, _request(RFC_URL, method="POST"))
        if len(flow.sent) == 1 and "Authorization" not in flow.sent[0].headers:
            answer = flow.respond(_401(_challenge(nonce="n1")))
        else:
            answer = flow.sent[0]
        cnonces.add(_params(_authorization(answer))["cnonce"])
        flow.respond(_ok())
    assert len(cnonces) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", c) for c in cnonces)


# ------------------------------------------------------------------ Digest: nonce reuse


def _counter() -> Any:
    numbers = itertools.count(1)
    return lambda: f"cnonce{next(numbers)}"


def test_nonce_is_reused_with_an_incremented_count() -> None:
    """After an accepted answer, later requests to the origin go with credentials at once."""
    auth = DigestAuth("Mufasa", PASSWORD, cnonce_factory=_counter())
    first = Flow(auth, _request(RFC_URL))
    first.respond(_401(_challenge("SHA-256")))
    assert first.respond(_ok()) is None
    for nc, url in [(2, RFC_URL), (3, "http://www.example.org/other?q"), (4, RFC_URL)]:
        flow = Flow(auth, _request(url))
        params = _params(_authorization(flow.sent[0]))
        assert params["nonce"] == RFC_NONCE
        assert params["nc"] == f"{nc:08x}"
        assert params["cnonce"] == f"cnonce{nc}"  # a fresh cnonce each time
        ha1 = _h("sha256", f"Mufasa:{RFC_REALM}:{PASSWORD}")
        ha2 = _h("sha256", f"GET:{URL(url).target.decode()}")
        expected = _h("sha256", f"{ha1}:{RFC_NONCE}:{nc:08x}:cnonce{nc}:auth:{ha2}")
        assert params["response"] == expected
        assert flow.respond(_ok()) is None  # one request only


def test_sess_keeps_the_cnonce_of_its_nonce() -> None:
    """-sess computes A1 once per nonce: its cnonce stays while nc grows."""
    auth = DigestAuth("Mufasa", PASSWORD, cnonce_factory=_counter())
    first = Flow(auth, _request(RFC_URL))
    first.respond(_401(_challenge("MD5-sess")))
    first.respond(_ok())
    params = _params(_authorization(Flow(auth, _request(RFC_URL)).sent[0]))
    assert (params["nc"], params["cnonce"]) == ("00000002", "cnonce1")
    ha1 = _h("md5", f"{_h('md5', f'Mufasa:{RFC_REALM}:{PASSWORD}')}:{RFC_NONCE}:cnonce1")
    ha2 = _h("md5", "GET:/dir/index.html")
    assert params["response"] == _h("md5", f"{ha1}:{RFC_NONCE}:00000002:cnonce1:auth:{ha2}")


def test_no_reuse_on_another_origin() -> None:
    """A remembered challenge is for its origin only: scheme, host and port."""
    auth = _digest()
    first = Flow(auth, _request("http://a.test/x"))
    first.respond(_401(_challenge()))
    first.respond(_ok())
    for url in ["http://b.test/x", "https://a.test/x", "http://a.test:8080/x"]:
        assert "Authorization" not in Flow(auth, _request(url)).sent[0].headers
    assert "Authorization" in Flow(auth, _request("http://a.test:80/y")).sent[0].headers


def test_domain_limits_the_protection_space() -> None:
    """With domain=, only URIs under its prefixes get credentials at once (RFC 7616 §3.3)."""
    auth = _digest()
    first = Flow(auth, _request("http://a.test/private/x"))
    first.respond(_401(_challenge(extra=', domain="/private/ http://a.test/shared"')))
    first.respond(_ok())
    assert "Authorization" in Flow(auth, _request("http://a.test/private/y")).sent[0].headers
    assert "Authorization" in Flow(auth, _request("http://a.test/shared/z")).sent[0].headers
    assert "Authorization" not in Flow(auth, _request("http://a.test/public")).sent[0].headers


def test_nothing_remembered_before_the_server_accepts() -> None:
    """A challenge answered but refused is not reused."""
    auth = _digest()
    flow = Flow(auth, _request())
    flow.respond(_401(_challenge()))
    assert flow.respond(_401(_challenge(nonce="other"))) is None
    assert "Authorization" not in Flow(auth, _request()).sent[0].headers


def test_nextnonce_from_authentication_info() -> None:
    """Authentication-Info: nextnonce is used for the next request, counting from 1."""
    auth = _digest()
    first = Flow(auth, _request(RFC_URL))
    first.respond(_401(_challenge()))
    first.respond(_ok(**{"Authentication-Info": 'qop=auth, nextnonce="fresh\\"one", nc=00000001'}))
    params = _params(_authorization(Flow(auth, _request(RFC_URL)).sent[0]))
    assert (params["nonce"], params["nc"]) == ('fresh"one', "00000001")


# ------------------------------------------------------------------ Digest: failures and stale


def test_second_401_ends_the_flow() -> None:
    """A refused answer (not stale) is final: exactly one retry per challenge, no loop."""
    flow = Flow(_digest(password="wrong"), _request())  # noqa: S106
    assert flow.respond(_401(_challenge())) is not None
    assert flow.respond(_401(_challenge(nonce="n2"))) is None
    assert len(flow.sent) == 2


def test_stale_nonce_is_renewed_without_counting_as_a_failure() -> None:
    """stale=true: the request is answered again with the new nonce, its count from 1."""
    auth = _digest()
    flow = Flow(auth, _request(RFC_URL))
    flow.respond(_401(_challenge()))
    answer = flow.respond(_401(_challenge(nonce="renewed", extra=", stale=TRUE")))
    params = _params(_authorization(answer))
    assert (params["nonce"], params["nc"]) == ("renewed", "00000001")
    assert flow.respond(_ok()) is None
    # the renewed nonce is the one remembered
    params = _params(_authorization(Flow(auth, _request(RFC_URL)).sent[0]))
    assert (params["nonce"], params["nc"]) == ("renewed", "00000002")


def test_stale_renewals_are_bounded() -> None:
    """A server saying stale=true forever gets a bounded number of retries."""
    flow = Flow(_digest(), _request())
    answer = flow.respond(_401(_challenge()))
    rounds = 0
    while answer is not None:
        rounds += 1
        answer = flow.respond(_401(_challenge(nonce=f"n{rounds}", extra=", stale=true")))
    assert len(flow.sent) == 2 + MAX_STALE_RENEWALS


def test_stale_on_a_remembered_nonce() -> None:
    """A remembered nonce gone stale is renewed in the same flow."""
    auth = _digest()
    first = Flow(auth, _request(RFC_URL))
    first.respond(_401(_challenge()))
    first.respond(_ok())
    flow = Flow(auth, _request(RFC_URL))
    assert _params(_authorization(flow.sent[0]))["nc"] == "00000002"
    answer = flow.respond(_401(_challenge(nonce="renewed", extra=", stale=true")))
    assert _params(_authorization(answer))["nonce"] == "renewed"
    assert flow.respond(_ok()) is None


def test_remembered_nonce_refused_gets_one_fresh_answer() -> None:
    """A server that forgot a remembered nonce (no stale) gets its new challenge answered once."""
    auth = _digest()
    first = Flow(auth, _request(RFC_URL))
    first.respond(_401(_challenge()))
    first.respond(_ok())
    flow = Flow(auth, _request(RFC_URL))
    answer = flow.respond(_401(_challenge(nonce="new")))
    assert _params(_authorization(answer))[("nonce")] == "new"
    assert flow.respond(_401(_challenge(nonce="newer"))) is None
    assert len(flow.sent) == 2
    assert "Authorization" not in Flow(auth, _request(RFC_URL)).sent[0].headers


@pytest.mark.parametrize(
    "response",
    [
        Response(200),
        Response(401),  # no challenge at all
        _401('Basic realm="only basic"'),
        _401('Bearer realm="x"', "Negotiate"),
        Response(403, headers=Headers([("WWW-Authenticate", _challenge())])),
    ],
)
def test_nothing_to_answer(response: Response) -> None:
    """Without a 401 carrying a Digest challenge the flow ends, nothing more sent."""
    flow = Flow(_digest(), _request())
    assert flow.respond(response) is None
    assert "Authorization" not in flow.sent[0].headers


def test_basic_and_digest_offered_together() -> None:
    """Digest is answered when Basic is offered beside it (one field or two)."""
    for fields in (['Basic realm="b", ' + _challenge()], ['Basic realm="b"', _challenge()]):
        flow = Flow(_digest(), _request(RFC_URL))
        assert _authorization(flow.respond(_401(*fields))).startswith("Digest ")


@pytest.mark.parametrize(
    ("challenge", "reason"),
    [
        (_challenge(qop="auth-int"), "auth-int"),
        (_challenge("SHA-1"), "unsupported algorithm 'SHA-1'"),
        (_challenge(qop="x-custom"), "unsupported qop"),
        ('Digest realm="r", qop="auth"', "no nonce"),
        ('Digest nonce="n", qop="auth"', "no realm"),
        ('Digest realm="r", nonce="n", algorithm=MD5-sess', "without qop"),
        ('Digest realm="unterminated', "malformed"),
        ("Digest abc==", "malformed"),
    ],
)
def test_unanswerable_challenge_raises(challenge: str, reason: str) -> None:
    """A Digest challenge that cannot be answered raises AuthenticationError, no secret in it."""
    flow = Flow(DigestAuth("Mufasa", "s3cret-password"), _request())
    response = _401(challenge)
    with pytest.raises(AuthenticationError, match=re.escape(reason)) as caught:
        flow.respond(response)
    message = str(caught.value)
    assert "s3cret-password" not in message
    assert "Authorization" not in message
    assert caught.value.response is response
    assert caught.value.request is not None


def test_auth_int_offered_with_auth_uses_auth() -> None:
    """qop="auth-int, auth": auth is chosen."""
    flow = Flow(_digest(), _request())
    answer = flow.respond(_401(_challenge(qop="auth-int, auth")))
    assert _params(_authorization(answer))["qop"] == "auth"


def test_streamed_body_cannot_be_sent_again() -> None:
    """A challenge to a request whose body was a stream raises a clear error."""

    async def body() -> AsyncGenerator[bytes, None]:
        yield b"x"

    stream = body()
    request = Request("POST", URL(RFC_URL), Headers(), None, stream)
    flow = Flow(_digest(), request)
    with pytest.raises(AuthenticationError, match="stream"):
        flow.respond(_401(_challenge()))
    asyncio.run(stream.aclose())


def test_replayable_stream_is_answered() -> None:
    """A stream the client marks replayable (a multipart body from files) is sent again."""

    async def body() -> AsyncGenerator[bytes, None]:
        yield b"x"

    stream = body()
    request = Request("POST", URL(RFC_URL), Headers(), None, stream)
    request.stream_replayable = True
    flow = Flow(_digest(), request)
    answer = flow.respond(_401(_challenge()))
    assert answer is not None
    assert answer.stream is stream
    assert answer.stream_replayable is True
    asyncio.run(stream.aclose())


def test_digest_repr_hides_the_password() -> None:
    """The repr shows the username and '***', never the password."""
    auth = DigestAuth("Mufasa", "s3cret-password")
    assert repr(auth) == "DigestAuth('Mufasa', '***')"
    assert "s3cret-password" not in str(auth)


def test_digest_rejects_non_strings() -> None:
    """Username and password must be str."""
    with pytest.raises(TypeError, match="username"):
        DigestAuth(b"user", "pw")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="password"):
        DigestAuth("user", None)  # type: ignore[arg-type]
