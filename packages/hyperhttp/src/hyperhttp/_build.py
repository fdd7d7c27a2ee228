"""Building a request from ``Client.request``'s arguments: URL, query, fields and body.

Strategy
--------
A request of its URL only (the common GET) takes one branch and two checks.
Otherwise the body is encoded from exactly one of ``content=`` (bytes, str
or an async iterable), ``data=`` (a form), ``json=`` and ``files=`` (a
multipart form, with ``data=`` as its fields); the Content-Type it implies
is added unless the caller set one. Fields given by the caller are checked
here, before any I/O (``RequestEncoder.checked_fields``, memoized on the
request), and again as the request is sent, whatever changed in between.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from . import _jsonlib
from ._cookies import Cookies
from ._encode import check_method
from ._exceptions import InvalidURL
from ._headers import Headers
from ._models import Request
from ._multipart import MultipartBody, encode_multipart
from ._urls import join_base, merge_params, redact

if TYPE_CHECKING:
    from ._encode import RequestEncoder
    from ._urls import URL, QueryParams

__all__ = ["UNSET", "build_request"]

UNSET: Any = object()  # "not given" for json= (None is a JSON value)


def build_request(
    encoder: RequestEncoder,
    base_url: URL | None,
    method: str,
    url: str | URL,
    *,
    params: QueryParams | None = None,
    headers: Mapping[str, str] | list[tuple[str, str]] | Headers | None = None,
    cookies: Any = None,
    content: bytes | str | AsyncIterable[bytes] | None = None,
    data: Mapping[str, Any] | None = None,
    files: Any = None,
    json: Any = UNSET,
) -> Request:
    """Build and check a request (see ``Client.build_request``)."""
    if not isinstance(method, str):
        raise TypeError(f"method must be str, not {type(method).__name__}")
    method = method.upper()
    if isinstance(url, str) and "://" not in url[:16] and base_url is None:
        raise InvalidURL(f"relative URL {redact(url)!r} without a base_url")
    target = join_base(base_url, url)
    if (
        headers is None
        and content is None
        and data is None
        and files is None
        and json is UNSET
        and cookies is None
        and not params
    ):  # the hot path: a request of its URL only
        check_method(method)  # the target is parse_url's; both are checked again as sent
        return Request(method, target, None, None, None)
    if params:
        target = merge_params(target, params)
    fields = Headers(headers) if headers is not None else None
    multipart: MultipartBody | None = None
    content_type: bytes | None
    if files is not None:
        body, stream, content_type, multipart = _multipart(files, data, content, json, fields)
    else:
        body, stream, content_type = _body(content, data, json)
    if content_type is not None:
        if fields is None:
            fields = Headers()
        if "content-type" not in fields:
            fields["Content-Type"] = content_type.decode()
    request = Request(method, target, fields, body, stream)
    if multipart is not None:
        request.stream_length = multipart.length
        request.stream_replayable = multipart.replayable
    if cookies is not None:
        request.cookies = Cookies(cookies)
    if fields is None or not fields._list:
        check_method(method)  # the target is parse_url's; both are checked again as sent
    else:  # the caller's fields: validated (and the head memoized) before any I/O
        encoder.checked_fields(request)
    return request


def _multipart(
    files: Any, data: Any, content: object, json: object, fields: Headers | None
) -> tuple[bytes | None, AsyncIterable[bytes] | None, bytes, MultipartBody | None]:
    """Encode ``files=`` (and ``data=``'s fields) as multipart/form-data."""
    if content is not None or json is not UNSET:
        raise TypeError("files= goes with data= fields only, not content= or json=")
    if fields is not None and "content-type" in fields:
        raise TypeError(
            "files= sets its own Content-Type (multipart/form-data with its boundary);"
            " do not pass one in headers="
        )
    multipart = encode_multipart(data, files)
    content_type = multipart.content_type.encode("latin-1")
    whole = multipart.as_bytes()  # a form all in memory goes as plain bytes
    if whole is not None:
        return whole, None, content_type, None
    return None, multipart, content_type, multipart


def _body(
    content: object, data: object, json: object
) -> tuple[bytes | None, AsyncIterable[bytes] | None, bytes | None]:
    """Encode one of ``content=``, ``data=`` and ``json=``: body, stream, Content-Type."""
    if (content is not None) + (data is not None) + (json is not UNSET) > 1:
        raise TypeError("pass only one of content=, data= and json=")
    if content is not None:  # checked at run time: callers are not all typed
        if isinstance(content, str):
            return content.encode("utf-8"), None, None
        if isinstance(content, bytes | bytearray | memoryview):
            return bytes(content), None, None
        if isinstance(content, AsyncIterable):
            return None, content, None
        kind = type(content).__name__
        raise TypeError(f"content must be bytes, str or an async iterable, not {kind}")
    if data is not None:
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a mapping (a form), not {type(data).__name__}")
        pairs = [
            (key, item)
            for key, value in data.items()
            for item in (value if isinstance(value, list | tuple) else [value])
        ]
        return urlencode(pairs).encode("ascii"), None, b"application/x-www-form-urlencoded"
    if json is not UNSET:
        return _jsonlib.dumps(json), None, b"application/json"
    return None, None, None
