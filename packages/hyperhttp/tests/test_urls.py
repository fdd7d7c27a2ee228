"""URLs: every constructor yields a request-target safe to write (RFC 3986, RFC 9112 §3.2)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperhttp import InvalidURL
from hyperhttp._urls import URL, join_base, merge_params, parse_url

# RFC 3986 §2: unreserved, sub-delims, ":" "@" "/" "?" and "%" (pct-encoded).
_TARGET = re.compile(rb"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]+")
_CONTROLS = [chr(c) for c in (*range(0x20), 0x7F)]


def _assert_safe(url: URL) -> None:
    assert _TARGET.fullmatch(url.target), url.target
    assert url.target.startswith(b"/")


# ---------------------------------------------------------------- copy_with (defect 3)


@pytest.mark.parametrize("control", ["\r\n", "\n", "\r", "\x00", "\t", "\x7f"])
@pytest.mark.parametrize("part", ["path", "query"])
def test_copy_with_refuses_control_characters(part: str, control: str) -> None:
    """CR/LF and every other control is InvalidURL, as parse_url says for the same text."""
    url = URL("http://a.test/x")
    value = f"/p{control}GET /smuggled HTTP/1.1" if part == "path" else f"q=1{control}X: y"
    with pytest.raises(InvalidURL):
        parse_url(f"http://a.test{value}" if part == "path" else f"http://a.test/?{value}")
    with pytest.raises(InvalidURL):
        url.copy_with(**{part: value})


@pytest.mark.parametrize(
    ("path", "query", "target"),
    [
        ("/a b", None, b"/a%20b?q"),
        ("/caf\u00e9", None, b"/caf%C3%A9?q"),
        ('/<"x">', None, b"/%3C%22x%22%3E?q"),
        ("/a?b#c", None, b"/a%3Fb%23c?q"),  # no "?" or "#" hides inside a path
        ("/%41%zz", None, b"/%41%zz?q"),  # escapes kept, as parse_url keeps them
        (None, "a b=c d", b"/x?a%20b=c%20d"),
        (None, "x=#y", b"/x?x=%23y"),
        (None, "k=\u00e9", b"/x?k=%C3%A9"),
        ("", None, b"/?q"),
    ],
)
def test_copy_with_percent_encodes_like_parse_url(
    path: str | None, query: str | None, target: bytes
) -> None:
    """What may not appear raw is percent-encoded (RFC 3986 §2), existing escapes kept."""
    url = URL("http://a.test/x?q").copy_with(path=path, query=query)
    assert url.target == target
    _assert_safe(url)


def test_copy_with_path_must_be_absolute() -> None:
    """A path that does not start with "/" cannot be an origin-form target (RFC 9112 §3.2.1)."""
    with pytest.raises(InvalidURL):
        URL("http://a.test/x").copy_with(path="relative")


@given(path=st.text(max_size=40), query=st.text(max_size=40))
def test_copy_with_never_yields_an_unsafe_target(path: str, query: str) -> None:
    """Property: copy_with refuses (InvalidURL) or yields a target of RFC 3986's characters."""
    url = URL("http://a.test/x")
    try:
        copied = url.copy_with(path="/" + path, query=query)
    except InvalidURL:
        assert any(c in path + query for c in _CONTROLS)
        return
    _assert_safe(copied)
    assert copied.host_header == b"a.test"


@pytest.mark.parametrize("relative", ["/a\r\nb", "a\nb", "x?q=\r\n1", "a\x00"])
def test_join_base_refuses_control_characters_like_parse_url(relative: str) -> None:
    """A relative URL joined to base_url is refused for the controls parse_url refuses."""
    with pytest.raises(InvalidURL):
        parse_url("http://a.test/" + relative)
    with pytest.raises(InvalidURL):
        join_base(URL("http://a.test/api/"), relative)


@given(path=st.text(max_size=40), query=st.text(max_size=40))
def test_join_base_and_merge_params_never_yield_an_unsafe_target(path: str, query: str) -> None:
    """The client's own URL builders (base_url joining, params=) obey the same rule."""
    base = URL("http://a.test/api/")
    try:
        joined = join_base(base, f"{path}?{query}")
    except InvalidURL:
        assert any(c in path + query for c in _CONTROLS)
    else:
        _assert_safe(joined)
    try:
        merged = merge_params(base, query)
    except InvalidURL:
        assert any(c in query for c in _CONTROLS)
    else:
        _assert_safe(merged)


@given(st.text(max_size=60))
def test_parse_url_never_yields_an_unsafe_target(tail: str) -> None:
    """parse_url: the same property for any text after the host."""
    try:
        url = parse_url("http://a.test/" + tail)
    except InvalidURL:
        return
    _assert_safe(url)
