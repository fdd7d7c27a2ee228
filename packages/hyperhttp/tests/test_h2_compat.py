"""Pins the shapes of h2's private internals that ``_http2._H2`` relies on.

``_H2`` is the one place that touches h2 below its public API: the fast
request paths, and overrides of two frame handlers (RST_STREAM on idle
streams is a connection error; GOAWAY keeps what is queued to send). If a
new h2 moves any of these, this file fails first and names what moved.
"""

from __future__ import annotations

import inspect

import h2.config
import h2.connection
import h2.stream

from hyperhttp import _http2


def _connection() -> h2.connection.H2Connection:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    return conn


def test_frame_handlers_overridden_by_hyperhttp_exist_with_their_signature() -> None:
    for name in ("_receive_goaway_frame", "_receive_rst_stream_frame"):
        handler = getattr(h2.connection.H2Connection, name)
        assert list(inspect.signature(handler).parameters) == ["self", "frame"], name
        assert getattr(_http2._H2, name) is not handler  # ours wraps h2's


def test_outbound_buffer_is_a_bytearray_attribute() -> None:
    conn = _connection()
    assert isinstance(conn._data_to_send, bytearray)
    assert conn.data_to_send()
    assert conn._data_to_send == bytearray()


def test_fast_path_internals_are_present() -> None:
    assert _http2._H2.fast
    conn = _connection()
    assert conn.highest_outbound_stream_id is None or isinstance(
        conn.highest_outbound_stream_id, int
    )
    assert callable(conn._begin_new_stream)
    assert callable(conn._get_stream_by_id)
    assert callable(h2.stream.H2Stream.receive_data)
