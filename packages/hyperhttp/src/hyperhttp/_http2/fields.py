"""Received HTTP/2 field blocks, checked (RFC 9113 §8.1.1, §8.2, §8.3.2).

Strategy
--------
h2's inbound header validation is off (it costs several times this): one
pass over the decoded list, a regex per name and value, and a small
per-connection memo of fields that passed. Content-Length reaches us under
a name of our decoder's (``CONTENT_LENGTH``) so that h2, which never sees
the DATA we take ourselves, does not count it; we check it here.
"""

from __future__ import annotations

import re

from hyperhttp._exceptions import RemoteProtocolError

__all__ = [
    "CONNECTION_FIELDS",
    "CONTENT_LENGTH",
    "MAX_HEADER_LIST_SIZE",
    "OVERSIZED",
    "check_fields",
]

# What a response head (or trailer section) may hold, decoded, as RFC 9113
# §6.5.2 counts it (name + value + 32 per field): our SETTINGS say so, and a
# compressed block (HEADERS + CONTINUATION) is refused once it is larger,
# before it is buffered; a block never compresses to more than its list's
# size. 64 KiB, as HTTP/1.1's head limit (hyperhttp-parser) and h2's default.
MAX_HEADER_LIST_SIZE = 64 * 1024
# Our HPACK decoder's stand-in for a header list over MAX_HEADER_LIST_SIZE
# (decoded in full, so the HPACK state stays right: a stream error only).
OVERSIZED = b":oversized header list"
# How our HPACK decoder names content-length for h2 (see check_fields); a
# field of this name on the wire is renamed to an invalid one, and rejected.
CONTENT_LENGTH = b":content-length"
# RFC 9113 §8.2: field names are lowercase tokens; values hold no NUL, CR or LF
# and do not start or end with whitespace.
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
_BAD_VALUE = re.compile(rb"[\x00\r\n]|\A[ \t]|[ \t]\Z")
# check_fields remembers, per connection, small fields that passed (server,
# content-type...): at most _GOOD_ENTRIES of at most _GOOD_FIELD octets.
_GOOD_FIELD = 256
_GOOD_ENTRIES = 256
#: Connection-specific fields: malformed in HTTP/2 (RFC 9113 §8.2.2); ``te``
#: is allowed as ``te: trailers`` only. The request encoder drops them too.
CONNECTION_FIELDS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)


def check_fields(
    headers: list[tuple[bytes, bytes]],
    *,
    head: bool,
    good: set[tuple[bytes, bytes]] | None = None,
) -> tuple[int, list[tuple[bytes, bytes]], int | None]:
    """Validate a received field block (RFC 9113 §8.1.1, §8.2, §8.3.2); split off ``:status``.

    ``head``: a response head (exactly one ``:status``, first, three digits);
    otherwise trailers (no pseudo-header at all). One pass, a regex per name
    and value: h2's own inbound validation is off because this costs a
    fraction of it. Returns the status, the fields, and the declared
    Content-Length (our decoder hands it over as ``CONTENT_LENGTH``, so that
    h2, which never sees the DATA we take, does not count it). ``good``: the
    connection's set of small fields already checked, skipped and added to.

    Raises:
        RemoteProtocolError: the block is malformed.

    """
    status = -1
    length: int | None = None
    fields: list[tuple[bytes, bytes]] = []
    if good is None:
        good = set()  # nothing remembered
    for name, value in headers:
        if name is CONTENT_LENGTH or name == CONTENT_LENGTH:
            # 1*DIGIT (RFC 9110 §8.6); 19 digits at most, so int() is cheap and
            # never refuses (Python caps int() at 4 300 digits).
            if (
                len(value) > 19
                or not value.isdigit()
                or (length is not None and int(value) != length)
            ):
                raise RemoteProtocolError(f"invalid Content-Length {value!r}")
            length = int(value)
            fields.append((b"content-length", value))
            continue
        if name[:1] == b":":
            if name == OVERSIZED:
                raise _oversized(head)
            if not head or name != b":status" or status >= 0 or fields:
                raise RemoteProtocolError(f"misplaced or unknown pseudo-header {name!r}")
            if len(value) != 3 or not value.isdigit() or not b"100" <= value <= b"599":
                raise RemoteProtocolError(f"invalid :status {value!r}")  # RFC 9110 §15
            status = int(value)
            continue
        field = (name, value)
        if field not in good:  # not already checked on this connection
            _check_field(field, good)
        fields.append(field)
    if head and status < 0:
        raise RemoteProtocolError("response without :status")
    return status, fields, length


def _check_field(field: tuple[bytes, bytes], good: set[tuple[bytes, bytes]]) -> None:
    """Check a field's name and value (RFC 9113 §8.2, §8.2.2); add a small one to ``good``.

    Raises:
        RemoteProtocolError: the field is malformed or connection-specific.

    """
    name, value = field
    if _FIELD_NAME.fullmatch(name) is None:
        raise RemoteProtocolError(f"invalid field name {name!r}")
    if value and _BAD_VALUE.search(value) is not None:
        raise RemoteProtocolError(f"invalid value for field {name.decode('latin-1')}")
    if name in CONNECTION_FIELDS or (name == b"te" and value != b"trailers"):
        raise RemoteProtocolError(f"connection-specific field {name!r} in HTTP/2")
    if len(name) + len(value) <= _GOOD_FIELD:
        if len(good) >= _GOOD_ENTRIES:
            good.clear()
        good.add(field)


def _oversized(head: bool) -> RemoteProtocolError:
    """Return the error for a block our decoder replaced by ``OVERSIZED`` (over our SETTINGS)."""
    what = "response head" if head else "trailer section"
    return RemoteProtocolError(
        f"{what}: header list larger than {MAX_HEADER_LIST_SIZE} bytes"
        " (our SETTINGS_MAX_HEADER_LIST_SIZE)"
    )
