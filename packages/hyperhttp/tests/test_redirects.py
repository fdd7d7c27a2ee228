"""The next request of a redirect chain (sans-IO): URL, method, body, credentials."""

from __future__ import annotations

import pytest

from hyperhttp import Headers, InvalidURL, Request, Response, StreamConsumed
from hyperhttp._redirects import redirect_request, redirect_url
from hyperhttp._urls import URL, redact


def _response(status: int, location: str) -> Response:
    return Response(status, headers=Headers({"Location": location}))


def _request(method: str = "GET", url: str = "http://a.test/x/y", **headers: str) -> Request:
    return Request(method, URL(url), Headers(headers), b"body" if method != "GET" else None)


@pytest.mark.parametrize(
    ("base", "location", "expected"),
    [
        ("http://a.test/x/y", "/z", "http://a.test/z"),
        ("http://a.test/x/y", "z", "http://a.test/x/z"),
        ("http://a.test/x/y", "../z?q=1", "http://a.test/z?q=1"),
        ("http://a.test/x/y", "//b.test:8080/p", "http://b.test:8080/p"),
        ("https://a.test/x", "//b.test/p", "https://b.test/p"),
        ("http://a.test/x", "https://c.test/", "https://c.test/"),
        ("http://a.test/x#f", "/y", "http://a.test/y#f"),  # fragment inherited
        ("http://a.test/x#f", "/y#g", "http://a.test/y#g"),  # its own wins
        ("http://a.test/x", "  /spaced  ", "http://a.test/spaced"),
    ],
)
def test_location_resolution(base: str, location: str, expected: str) -> None:
    assert str(redirect_url(URL(base), location)) == expected


@pytest.mark.parametrize("location", ["ftp://a.test/", "mailto:x@a.test", "", "http://:80/"])
def test_bad_locations(location: str) -> None:
    with pytest.raises(InvalidURL):
        redirect_url(URL("http://a.test/"), location)


@pytest.mark.parametrize(
    ("old", "new", "kept"),
    [
        ("http://a.test/", "http://a.test/other", True),
        ("http://a.test/", "http://a.test:80/other", True),
        ("http://a.test/", "https://a.test/", True),  # upgrade, default ports
        ("http://a.test:8080/", "https://a.test/", False),
        ("http://a.test/", "https://a.test:8443/", False),
        ("https://a.test/", "http://a.test/", False),  # downgrade
        ("http://a.test/", "http://b.test/", False),
        ("http://a.test/", "http://sub.a.test/", False),
        ("http://a.test/", "http://a.test:81/", False),
    ],
)
def test_credentials_follow_the_origin(old: str, new: str, kept: bool) -> None:
    request = _request(
        "GET",
        old,
        Authorization="Bearer t",
        Cookie="a=1",
        **{"Proxy-Authorization": "Basic x", "X-Keep": "1"},
    )
    following = redirect_request(request, _response(302, new))
    names = {name.lower() for name in following.headers}
    assert "x-keep" in names
    assert ({"authorization", "cookie", "proxy-authorization"} <= names) is kept
    assert not ({"authorization", "cookie", "proxy-authorization"} & names) or kept


def test_content_fields_go_with_the_body() -> None:
    request = _request(
        "POST", **{"Content-Type": "text/plain", "Content-Language": "en", "Accept": "x/y"}
    )
    following = redirect_request(request, _response(303, "/next"))
    assert following.method == "GET"
    assert following.content is None
    assert dict(following.headers) == {"accept": "x/y"}
    kept = redirect_request(request, _response(308, "/next"))
    assert kept.method == "POST"
    assert kept.content == b"body"
    assert kept.headers.get("content-type") == "text/plain"


def test_streamed_body_cannot_be_replayed() -> None:
    async def stream() -> object:  # never iterated
        yield b""

    request = Request("PUT", URL("http://a.test/"), Headers(), None, stream())  # type: ignore[arg-type]
    with pytest.raises(StreamConsumed):
        redirect_request(request, _response(307, "/again"))
    # A 303 drops the body: nothing to replay.
    assert redirect_request(request, _response(303, "/seen")).stream is None


def test_a_password_is_used_for_resolution_and_never_shown() -> None:
    """Location resolves against the real userinfo; messages show it as ***."""
    secret = "pa55word"  # noqa: S105 - a test password
    request = _request("PUT", f"http://u:{secret}@a.test/x/y")
    follow = redirect_request(request, _response(308, "z?q=1"))
    assert follow.url.password == secret
    assert follow.url.unredacted == f"http://u:{secret}@a.test/x/z?q=1"
    assert str(follow.url) == "http://u:***@a.test/x/z?q=1"
    messages = []
    for location in ("", f"ftp://u:{secret}@b.test/", f"http://u:{secret}@[::1/"):
        with pytest.raises(InvalidURL) as caught:
            redirect_url(request.url, location)
        messages.append(str(caught.value))

    async def stream() -> object:  # never iterated
        yield b""

    streamed = Request("PUT", request.url, Headers(), None, stream())  # type: ignore[arg-type]
    with pytest.raises(StreamConsumed) as consumed:
        redirect_request(streamed, _response(307, "/again"))
    messages.append(str(consumed.value))
    assert all(secret not in message for message in messages), messages
    assert all("u:***@" in message for message in messages), messages


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://u:p@h/", "http://u:***@h/"),
        ("http://u@h/", "http://u@h/"),
        ("http://h/a@b", "http://h/a@b"),
        ("u:p@h:1", "u:***@h:1"),
        ("//u:p@h/", "//u:***@h/"),
        ("http://u:p@ss@h/", "http://u:***@h/"),  # to the last "@": errs towards hiding
        ("http://u:p/s@h/", "http://u:***@h/"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    """The one helper every message quoting URL text uses."""
    assert redact(text) == shown
