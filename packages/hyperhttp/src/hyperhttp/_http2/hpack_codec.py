"""HPACK (RFC 7541) for the HTTP/2 client: a stateless encoder and a caching decoder.

h2 keeps the HTTP/2 state machine; these replace its HPACK codec objects
(``H2Connection.encoder`` / ``.decoder``, same interface) because header
coding was most of an HTTP/2 request's cost in pure Python:

- :class:`Encoder` never touches the dynamic table. Each field becomes an
  indexed field (exact static-table match) or a literal *without indexing*
  (name from the static table when it is there), so a field's encoding does
  not depend on what came before and is memoised per (name, value): a
  request costs a few dict look-ups. Only small fields are memoised, and
  few (every memo here is bounded in bytes, whatever the peer sends).
  Values are sent as plain octets (no Huffman: the CPU matters more than
  the bytes on loopback-scale links).
  Authorization and cookies are sent *never indexed* (RFC 7541 §7.1.3).
  It announces a dynamic table size of 0 at the start and after every
  SETTINGS_HEADER_TABLE_SIZE change.
- :class:`Decoder` is a complete HPACK decoder (all representations, the
  dynamic table with eviction, size updates bounded by our SETTINGS, a
  bounded header list). Huffman strings are decoded by ``hpack``'s decoder
  and memoised: servers send the same ``server``, ``content-type`` and
  ``date`` strings over and over.
- A list over ``max_header_list_size`` is still read to the block's end,
  since the dynamic table must follow it (RFC 7541 §2.2), but keeps nothing;
  a string that can fit neither the list nor the table is skipped without
  being decoded (n Huffman octets decode to at least n * 8 / 30). With
  ``oversized`` set, such a block decodes to that one marker field instead
  of raising: the HTTP/2 client fails the stream, not the connection.

Errors are ``hpack``'s exception types, which h2 turns into protocol errors.
"""

from __future__ import annotations

from collections import deque

from hpack.exceptions import (
    HPACKDecodingError,
    InvalidTableIndexError,
    InvalidTableSizeError,
    OversizedHeaderListError,
)

from .compat import STATIC_TABLE, decode_huffman

__all__ = ["Decoder", "Encoder"]

_STATIC: tuple[tuple[bytes, bytes], ...] = STATIC_TABLE
_STATIC_LENGTH = len(_STATIC)
_STATIC_FIELD: dict[tuple[bytes, bytes], int] = {}
_STATIC_NAME: dict[bytes, int] = {}
for _index, (_name, _value) in enumerate(_STATIC, 1):
    _STATIC_FIELD.setdefault((_name, _value), _index)
    _STATIC_NAME.setdefault(_name, _index)
del _index, _name, _value
_NAME_AT: tuple[bytes, ...] = (b"", *(_name for _name, _ in _STATIC))  # static names by index

_NEVER_INDEXED = frozenset({b"authorization", b"proxy-authorization", b"cookie", b"set-cookie"})
# The memos keep small things only, and few of them: bounded in bytes per
# connection however many distinct values a peer sends (a rotating cookie,
# a request id). Larger fields are coded anew each time, which is cheap.
_FIELD_MEMO = 256  # fields (name + value) of at most this many octets ...
_FIELD_MEMO_ENTRIES = 256  # ... this many of them: about 150 KiB at most
_HUFFMAN_MEMO = 128  # Huffman strings of at most this many octets ...
_HUFFMAN_MEMO_ENTRIES = 256  # ... this many: about 80 KiB at most
_BLOCK_MEMO = 512  # whole blocks of at most this many octets ...
_BLOCK_MEMO_ENTRIES = 64  # ... this many: about 70 KiB at most
_MAX_INTEGER_OCTETS = 8  # 2^56: far beyond any size we accept


def encode_integer(value: int, prefix_bits: int) -> bytearray:
    """Encode ``value`` with an N-bit prefix (RFC 7541 §5.1); flags are OR-ed in later."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytearray((value,))
    out = bytearray((limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return out


def decode_integer(data: bytes, at: int, prefix_bits: int) -> tuple[int, int]:
    """Decode an integer with an N-bit prefix at ``at``; return it and the next position."""
    limit = (1 << prefix_bits) - 1
    value = data[at] & limit
    at += 1
    if value < limit:
        return value, at
    shift = 0
    end = len(data)
    for _ in range(_MAX_INTEGER_OCTETS):
        if at >= end:
            raise HPACKDecodingError("integer runs past the end of the header block")
        octet = data[at]
        at += 1
        value += (octet & 0x7F) << shift
        if not octet & 0x80:
            return value, at
        shift += 7
    raise HPACKDecodingError("integer too large")


def _string(raw: bytes) -> bytes:
    length = encode_integer(len(raw), 7)  # H bit 0: plain octets
    return bytes(length) + raw


class Encoder:
    """Stateless HPACK encoder with a per-field memo (see the module docstring)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[bytes, bytes], bytes] = {}
        self._table_size = 4096
        self._announce = True  # a size update of 0 opens the next block

    @property
    def header_table_size(self) -> int:
        return self._table_size

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        self._table_size = value
        self._announce = True

    def encode(self, headers: object, huffman: bool = True) -> bytes:
        """Encode a header list (pairs of bytes, as h2 hands them over)."""
        memo = self._memo
        parts: list[bytes] = []
        if self._announce:
            parts.append(b"\x20")  # dynamic table size update: 0
            self._announce = False
        for field in headers:  # type: ignore[attr-defined]
            key = (field[0], field[1])
            encoded = memo.get(key)
            if encoded is None:
                encoded = self._encode_field(*key)
                if len(key[0]) + len(key[1]) <= _FIELD_MEMO:
                    if len(memo) >= _FIELD_MEMO_ENTRIES:
                        memo.clear()
                    memo[key] = encoded
            parts.append(encoded)
        return b"".join(parts)

    @staticmethod
    def _encode_field(name: bytes, value: bytes) -> bytes:
        index = _STATIC_FIELD.get((name, value))
        if index is not None and name not in _NEVER_INDEXED:
            out = encode_integer(index, 7)
            out[0] |= 0x80
            return bytes(out)
        flag = 0x10 if name in _NEVER_INDEXED else 0x00
        name_index = _STATIC_NAME.get(name)
        if name_index is not None:
            out = encode_integer(name_index, 4)
            out[0] |= flag
            return bytes(out) + _string(value)
        return bytes((flag,)) + _string(name) + _string(value)


class Decoder:
    """HPACK decoder with a bounded Huffman memo (see the module docstring)."""

    def __init__(
        self,
        rename: dict[bytes, bytes] | None = None,
        oversized: tuple[bytes, bytes] | None = None,
    ) -> None:
        #: Field names to hand over under another name (the HTTP/2 client uses
        #: it to keep content-length away from h2's own body accounting).
        self.rename = rename
        #: What a block whose list is over ``max_header_list_size`` decodes to
        #: (the block is still decoded to its end, so the table stays right);
        #: None: OversizedHeaderListError, as hpack's decoder raises.
        self.oversized = oversized
        self.max_header_list_size = 65536
        self.max_allowed_table_size = 4096
        self.header_table_size = 4096
        self._dynamic: deque[tuple[bytes, bytes]] = deque()
        self._dynamic_size = 0
        self._huffman: dict[bytes, bytes] = {}
        # Whole blocks that reference no dynamic entry and update no size
        # decode the same whatever the table holds: block -> (fields, added).
        self._blocks: dict[bytes, tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]] = {}

    # ------------------------------------------------------------ the dynamic table

    def _field(self, index: int) -> tuple[bytes, bytes]:
        if 0 < index <= _STATIC_LENGTH:
            return _STATIC[index - 1]
        position = index - _STATIC_LENGTH - 1
        if index <= 0 or position >= len(self._dynamic):
            if index == 0:  # RFC 7541 §6.1 (a literal's name index 0 is never looked up)
                raise HPACKDecodingError("indexed field with index 0")
            raise InvalidTableIndexError(f"no header table entry {index}")
        return self._dynamic[position]

    def _add(self, name: bytes, value: bytes) -> None:
        size = 32 + len(name) + len(value)
        if size > self.header_table_size:  # larger than the table: it just empties it
            self._empty()
            return
        self._dynamic.appendleft((name, value))
        self._dynamic_size += size
        self._shrink()

    def _empty(self) -> None:
        self._dynamic.clear()
        self._dynamic_size = 0

    def _shrink(self) -> None:
        dynamic = self._dynamic
        while self._dynamic_size > self.header_table_size and dynamic:
            name, value = dynamic.pop()
            self._dynamic_size -= 32 + len(name) + len(value)

    # ------------------------------------------------------------ decoding

    def _read_string(self, data: bytes, at: int, room: int) -> tuple[bytes | None, int]:
        """Read a string literal (RFC 7541 §5.2); None if it cannot fit in ``room`` bytes.

        A Huffman string of n octets decodes to at least n * 8 / 30 octets
        (the longest code is 30 bits) and at most n * 8 / 5: one that cannot
        fit is skipped, never decoded, and one that is decoded is bounded.
        """
        if at >= len(data):
            raise HPACKDecodingError("string runs past the end of the header block")
        huffman = data[at] & 0x80
        length, at = decode_integer(data, at, 7)
        end = at + length
        if end > len(data):
            raise HPACKDecodingError("string runs past the end of the header block")
        if not huffman:
            return (data[at:end] if length <= room else None), end
        if length * 8 // 30 > room:
            return None, end
        raw = data[at:end]
        memo = self._huffman
        decoded = memo.get(raw)
        if decoded is None:
            decoded = decode_huffman(raw)
            if length <= _HUFFMAN_MEMO:
                if len(memo) >= _HUFFMAN_MEMO_ENTRIES:
                    memo.clear()
                memo[raw] = decoded
        return decoded, end

    def decode(self, data: bytes, raw: bool = True) -> list[tuple[bytes, bytes]]:
        """Decode one complete header block into (name, value) pairs of bytes."""
        data = bytes(data)
        cached = self._blocks.get(data)
        if cached is not None:
            fields, inserted = cached
            for entry in inserted:
                self._add(*entry)
            return list(fields)
        end = len(data)
        at = self._update_size(data) if end and data[0] & 0xE0 == 0x20 else 0
        cacheable = not at and end <= _BLOCK_MEMO  # until it reads a dynamic entry
        added: list[tuple[bytes, bytes]] = []
        headers: list[tuple[bytes, bytes]] = []
        size = 0
        limit = self.max_header_list_size
        over = False  # the list is past the limit: decode on for the table, keep nothing
        while at < end:
            octet = data[at]
            if octet & 0x80:  # indexed field
                index, at = decode_integer(data, at, 7)
                field = self._field(index)
            else:  # literal with incremental indexing (01), without (0000), never indexed (0001)
                indexing = octet & 0x40
                if indexing:  # its value is needed if the list can hold it or the table can
                    room = max(limit - size, self.header_table_size) - 32
                    index, at = decode_integer(data, at, 6)
                elif octet & 0x20:  # size updates only open a block (RFC 7541 §4.2)
                    raise HPACKDecodingError("table size update after a header field")
                else:
                    room = limit - size - 32
                    index, at = decode_integer(data, at, 4)
                if not index:  # a new name
                    name, at = self._read_string(data, at, room)
                else:  # a static name without a call
                    name = _NAME_AT[index] if index <= _STATIC_LENGTH else self._field(index)[0]
                value, at = self._read_string(data, at, room - len(name or b""))
                if name is None or value is None:  # fits neither the list nor, indexed, the table
                    if indexing:
                        self._empty()  # what adding it does (RFC 7541 §4.4)
                    over = True
                    continue
                field = (name, value)
                if indexing:
                    self._add(name, value)
                    added.append(field)
            if index > _STATIC_LENGTH:
                cacheable = False
            if not over:
                size += 32 + len(field[0]) + len(field[1])
                headers.append(field)
                if size > limit:
                    over = True
                    headers = []
        if over or self.header_table_size > self.max_allowed_table_size:
            return self._refuse()
        rename = self.rename
        if rename:
            headers = [(rename.get(n, n), v) for n, v in headers]
        return self._remember(data, headers, added) if cacheable else headers

    def _update_size(self, data: bytes) -> int:
        """Apply the dynamic table size updates that open a block; return where they end.

        RFC 7541 §4.2, §6.3: at most the size our SETTINGS allow.
        """
        at = 0
        while at < len(data) and data[at] & 0xE0 == 0x20:
            new_size, at = decode_integer(data, at, 5)
            if new_size > self.max_allowed_table_size:
                raise InvalidTableSizeError("table size update above our limit")
            self.header_table_size = new_size
            self._shrink()
        return at

    def _refuse(self) -> list[tuple[bytes, bytes]]:
        """End a block that left the table above our limit, or whose list is over the limit.

        The first raises; the second decodes to the ``oversized`` marker, or raises without one.
        """
        if self.header_table_size > self.max_allowed_table_size:
            raise InvalidTableSizeError("the peer did not shrink its table to our limit")
        if self.oversized is None:
            limit = self.max_header_list_size
            raise OversizedHeaderListError(f"header list larger than {limit} bytes")
        return [self.oversized]

    def _remember(
        self,
        data: bytes,
        headers: list[tuple[bytes, bytes]],
        added: list[tuple[bytes, bytes]],
    ) -> list[tuple[bytes, bytes]]:
        """Memoise a block that decodes the same whatever the table holds; return a copy."""
        blocks = self._blocks
        if len(blocks) >= _BLOCK_MEMO_ENTRIES:
            blocks.clear()
        blocks[data] = (headers, added)
        return list(headers)
