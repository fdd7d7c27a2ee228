"""RFC 9110 / RFC 9112 grammar as byte sets and compiled patterns.

Validation on the hot path is done by C code: a multi-line regex that only
matches well-formed field lines, ``bytes.translate(None, allowed)`` to find a
byte outside a set, and substring searches. Python-level loops run only to
*explain* an error once one is known to exist.
"""

from __future__ import annotations

import re

__all__ = [
    "CHUNK_LINE",
    "FIELD_LINE",
    "FIELD_VALUE_BYTES",
    "STATUS_LINE",
    "TARGET_BYTES",
    "TOKEN_BYTES",
]

# RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
#   "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA ; token = 1*tchar
TOKEN_BYTES = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"

# RFC 9110 §5.5: field-value = *field-content ; field-vchar = VCHAR / obs-text,
# with SP / HTAB between them. Every other control byte (NUL, CR, LF, ...) is
# invalid in a value; we reject rather than replace (§5.5 allows either).
FIELD_VALUE_BYTES = b"\t " + bytes(range(0x21, 0x7F)) + bytes(range(0x80, 0x100))

# RFC 9112 §3.2 / RFC 3986: a request-target is printable ASCII; no whitespace,
# no control bytes, nothing above 0x7E (non-ASCII must be percent-encoded).
TARGET_BYTES = bytes(range(0x21, 0x7F))

# RFC 9112 §5.1: field-line = field-name ":" OWS field-value OWS. Anchored to a
# line start (re.M), so a line that does not match as a whole matches nowhere:
# callers compare the number of matches with the number of lines. The lazy
# value stops before trailing OWS; "\r$" demands a CRLF ending.
FIELD_LINE = re.compile(
    rb"^(" + _TCHAR + rb"+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*\r$",
    re.MULTILINE,
)

# RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
# HTTP-version = "HTTP/" DIGIT "." DIGIT. The SP before an empty reason is
# often omitted by real servers; accepting "HTTP/1.1 204" is harmless to
# framing, so we do.
STATUS_LINE = re.compile(rb"HTTP/([0-9])\.([0-9]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?")

# RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF ; chunk-size = 1*HEXDIG
# chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
# chunk-ext-val = token / quoted-string. At most 16 hex digits (2**64 - 1),
# so no size can overflow what a peer could plausibly mean.
_QUOTED_STRING = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t !-~\x80-\xff])*"'
CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[ \t]*"
    + _TCHAR
    + rb"+(?:[ \t]*=[ \t]*(?:"
    + _TCHAR
    + rb"+|"
    + _QUOTED_STRING
    + rb"))?)*"
)
