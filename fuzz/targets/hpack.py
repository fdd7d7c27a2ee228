"""HPACK (RFC 7541): hyperhttp's decoder, checked against hpack's reference decoder.

Input: one control byte (limits), then header blocks, each behind a 2-byte
big-endian length, decoded in order by one decoder (the dynamic table and
the block cache carry over, as on a connection). Accepted errors: hpack's
``HPACKError`` family, after which the connection is gone (we stop).

Checks: whenever both decoders accept a block they return the same fields
(``hpack.agree``); ours never accepts a block the reference rejects
(``hpack.lenient``); a decoded list stays within ``max_header_list_size``
(``hpack.list_size``); the dynamic table's accounting adds up and stays
within its size (``hpack.table``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hpack
from hpack.exceptions import HPACKError
from hyperhttp._http2.hpack_codec import Decoder

if TYPE_CHECKING:
    from collections.abc import Iterable

from fuzz._checks import fail
from fuzz._input import FuzzInput

MAX_LEN = 64 * 1024
MEMORY_BUDGET = 8 * 1024 * 1024

_LIST_SIZES = (65536, 256 * 1024, 4096, 512)
_TABLE_SIZES = (4096, 0, 256, 65536)


def _size(fields: Iterable[tuple[bytes, bytes]]) -> int:
    return sum(32 + len(n) + len(v) for n, v in fields)


def one_input(data: bytes) -> None:
    """Decode the blocks of ``data`` with both decoders and compare."""
    source = FuzzInput(data)
    control = source.byte()
    list_size = _LIST_SIZES[control & 3]
    table_size = _TABLE_SIZES[control >> 2 & 3]
    ours = Decoder()
    ours.max_header_list_size = list_size
    ours.max_allowed_table_size = table_size
    reference = hpack.Decoder(max_header_list_size=list_size)
    reference.max_allowed_table_size = table_size
    while source.pos < len(data):
        block = source.take(source.u16())
        try:
            fields = ours.decode(block)
        except HPACKError:
            return
        try:
            expected = [(bytes(n), bytes(v)) for n, v in reference.decode(block, raw=True)]
        except HPACKError as exc:
            fail("hpack.lenient", f"accepted a block hpack rejects ({exc!r}): {block!r}")
            return
        if fields != expected:
            fail("hpack.agree", f"{fields!r} != hpack's {expected!r} for {block!r}")
        if _size(fields) > list_size:
            fail("hpack.list_size", f"a list of {_size(fields)} bytes, limit {list_size}")
        used = _size(ours._dynamic)
        if not ours._dynamic_size == used <= ours.header_table_size <= table_size:
            fail(
                "hpack.table",
                f"table accounts {ours._dynamic_size}, holds {used}, size"
                f" {ours.header_table_size}, allowed {table_size}",
            )
