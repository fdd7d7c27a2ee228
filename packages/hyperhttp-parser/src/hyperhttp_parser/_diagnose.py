"""Slow-path explanations: which rule a rejected line broke.

The fast path only learns *that* a head is malformed (a pattern failed to
match every line); these functions run once, after that, to say *why* in the
error message. Nothing here is on the hot path.
"""

from __future__ import annotations

from ._abnf import FIELD_VALUE_BYTES, TOKEN_BYTES

__all__ = ["explain_chunk_line", "explain_field_lines", "explain_name", "explain_status_line"]


def _show(data: bytes, limit: int = 80) -> str:
    text = repr(data[:limit])
    return text + ("..." if len(data) > limit else "")


def _line_ending(data: bytes) -> str | None:
    if b"\n" in data.replace(b"\r\n", b""):
        return "bare LF line ending (RFC 9112 §2.2: only CRLF is accepted)"
    if b"\r" in data.replace(b"\r\n", b""):
        return "bare CR (RFC 9112 §2.2)"
    return None


def explain_name(name: bytes) -> str | None:
    """Say what is wrong with a field name, or None when it is a valid token."""
    if not name:
        return "empty field name"
    if name[-1:] in (b" ", b"\t"):
        return (
            f"whitespace between field name and colon in {_show(name)} "
            "(RFC 9112 §5.1: must be rejected)"
        )
    bad = name.translate(None, TOKEN_BYTES)
    if bad:
        return f"invalid character {_show(bad[:1])} in field name {_show(name)} (RFC 9110 §5.1)"
    return None


def explain_value(name: bytes, value: bytes) -> str | None:
    """Say what is wrong with a field value (as sent), or None when it is valid."""
    bad = value.translate(None, FIELD_VALUE_BYTES)
    if not bad:
        if value[:1] in (b" ", b"\t") or value[-1:] in (b" ", b"\t"):
            return (
                f"leading or trailing whitespace in the value of field {_show(name)} "
                "(RFC 9110 §5.5: the recipient would strip it)"
            )
        return None
    what = {b"\x00": "NUL", b"\r": "CR", b"\n": "LF"}.get(bad[:1], "control character")
    return f"{what} {_show(bad[:1])} in the value of field {_show(name)} (RFC 9110 §5.5)"


def explain_field_lines(block: bytes) -> str:
    """Explain why a header (or trailer) section failed to parse."""
    for line in block.split(b"\r\n"):
        if not line:
            continue
        reason = _line_ending(line)
        if reason:
            return reason
        if line[:1] in (b" ", b"\t"):
            return (
                f"obsolete line folding (obs-fold) in {_show(line)}: not accepted "
                "(RFC 9112 §5.2 lets a user agent unfold it; we reject it, see the README)"
            )
        name, colon, value = line.partition(b":")
        if not colon:
            return f"field line without a colon: {_show(line)}"
        reason = explain_name(name) or explain_value(name, value.strip(b" \t"))
        if reason:
            return reason
    return f"malformed field section: {_show(block)}"


def explain_status_line(line: bytes) -> str:
    """Explain why a status line failed to parse."""
    reason = _line_ending(line)
    if reason:
        return reason
    if not line:
        return "empty status line (stray CRLF before the response)"
    if not line.startswith(b"HTTP/"):
        return f"malformed status line {_show(line)}: no HTTP-version"
    return f"malformed status line {_show(line)} (RFC 9112 §4)"


def explain_chunk_line(line: bytes) -> str:
    """Explain why a chunk-size line failed to parse."""
    reason = _line_ending(line)
    if reason:
        return reason
    return f"invalid chunk-size line {_show(line)} (RFC 9112 §7.1)"
