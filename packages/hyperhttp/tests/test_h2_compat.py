"""Pins the shapes of h2's internals that ``hyperhttp._http2.compat`` relies on.

``compat`` is the one module that touches h2 below its public API: the fast
request paths, the frame handlers overridden (RST_STREAM on an idle stream
is a connection error; GOAWAY keeps what is queued to send), the state
machine's transition table, and the attributes our HPACK codec and SETTINGS
are put in. If a new h2 moves any of these, this file fails first and names
what moved. CI runs it against the oldest h2 we support and the newest.
It also holds the rule that nothing of h2's is changed for the process.
"""

from __future__ import annotations

import inspect

import h2.config
import h2.connection
import h2.stream
import hyperframe.frame
import pytest
from hyperframe.frame import DataFrame

from hyperhttp._http2 import compat
from hyperhttp._http2.connection import HTTP2Connection
from hyperhttp._http2.fields import MAX_HEADER_LIST_SIZE
from hyperhttp._http2.frames import MAX_FRAME_SIZE
from hyperhttp._http2.hpack_codec import Decoder, Encoder


def _connection() -> h2.connection.H2Connection:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    return conn


def _core() -> compat.H2Core:
    return compat.client_connection(
        encoder=Encoder(),
        decoder=Decoder(),
        stream_window=1 << 20,
        max_frame_size=MAX_FRAME_SIZE,
        max_header_list_size=MAX_HEADER_LIST_SIZE,
    )


def test_frame_handlers_overridden_exist_with_their_signature() -> None:
    for name in ("_receive_goaway_frame", "_receive_rst_stream_frame"):
        handler = getattr(h2.connection.H2Connection, name)
        assert list(inspect.signature(handler).parameters) == ["self", "frame"], name
        assert getattr(compat.H2Core, name) is not handler  # ours wraps h2's


def test_outbound_buffer_is_a_bytearray_attribute() -> None:
    conn = _connection()
    assert isinstance(conn._data_to_send, bytearray)
    assert conn.data_to_send()
    assert conn._data_to_send == bytearray()


def test_fast_path_internals_are_present() -> None:
    assert compat.H2Core.fast
    conn = _connection()
    assert conn.highest_outbound_stream_id is None or isinstance(
        conn.highest_outbound_stream_id, int
    )
    assert callable(conn._begin_new_stream)
    assert callable(conn._get_stream_by_id)
    assert callable(conn._open_streams)
    assert list(inspect.signature(h2.stream.H2Stream.receive_data).parameters) == [
        "self",
        "data",
        "end_stream",
        "flow_control_len",
    ]


def test_state_machine_transitions_table_shape() -> None:
    """The GOAWAY override is one entry of h2's (state, input) -> (side effect, state) table."""
    table = h2.connection.H2ConnectionStateMachine._transitions
    assert isinstance(table, dict)
    key = (h2.connection.ConnectionState.CLIENT_OPEN, h2.connection.ConnectionInputs.RECV_GOAWAY)
    assert key in table
    assert len(table[key]) == 2
    ours = compat._StateMachine()
    ours.process_input(h2.connection.ConnectionInputs.SEND_HEADERS)  # IDLE -> CLIENT_OPEN
    ours.process_input(h2.connection.ConnectionInputs.RECV_GOAWAY)
    assert ours.state is h2.connection.ConnectionState.CLIENT_OPEN


def test_client_connection_puts_our_codec_and_settings_where_h2_reads_them() -> None:
    encoder, decoder = Encoder(), Decoder()
    core = compat.client_connection(
        encoder=encoder,
        decoder=decoder,
        stream_window=12345,
        max_frame_size=MAX_FRAME_SIZE,
        max_header_list_size=MAX_HEADER_LIST_SIZE,
    )
    held: tuple[object, object] = (core.encoder, core.decoder)  # h2 types them as its own
    assert held[0] is encoder
    assert held[1] is decoder
    assert core.max_inbound_frame_size == MAX_FRAME_SIZE
    assert core.incoming_buffer.max_frame_size == MAX_FRAME_SIZE
    settings = core.local_settings
    assert settings.initial_window_size == 12345
    assert settings.enable_push == 0
    assert settings.max_header_list_size == MAX_HEADER_LIST_SIZE
    core.initiate_connection()
    size = core.outbound_size
    assert size > 0
    assert len(core.data_to_send()) == size
    assert core.outbound_size == 0
    assert not core.is_closed
    core.close_connection()
    assert core.is_closed


def test_open_stream_writes_what_send_headers_would() -> None:
    """Our one-frame HEADERS is byte for byte h2's, and leaves h2's stream in the same state."""
    fields = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"https"), (b":authority", b"a")]
    theirs = _core()
    theirs.initiate_connection()
    theirs.data_to_send()
    theirs.send_headers(1, fields, end_stream=True)
    expected = theirs.data_to_send()
    ours = _core()
    ours.initiate_connection()
    ours.data_to_send()
    block = ours.encoder.encode(fields)
    ours.open_stream(1, b"GET", block, True)
    assert ours.outbound_size == len(expected)
    assert ours.data_to_send() == expected
    assert ours.streams[1].state_machine.state is theirs.streams[1].state_machine.state


@pytest.mark.asyncio
async def test_no_process_wide_patch_of_h2_or_hyperframe() -> None:
    """Using HTTP/2 changes nothing of h2's or hyperframe's for other users of the process."""
    import asyncio

    before = (
        hyperframe.frame._raw_data_repr,
        dict(vars(h2.connection.H2Connection)),
        dict(vars(h2.connection.H2ConnectionStateMachine)),
        repr(DataFrame(1, b"x" * 40)),
    )
    connection = HTTP2Connection(asyncio.get_running_loop())
    assert isinstance(connection.h2, compat.H2Core)
    after = (
        hyperframe.frame._raw_data_repr,
        dict(vars(h2.connection.H2Connection)),
        dict(vars(h2.connection.H2ConnectionStateMachine)),
        repr(DataFrame(1, b"x" * 40)),
    )
    assert after == before
