"""Every use of h2, hyperframe and hpack below their public APIs: the one seam.

Strategy
--------
Who owns what (RFC 9113), one owner each:

- **ours**: framing of what we read (the connection splits frames itself,
  ``frames``), DATA and its receive flow control (h2 never sees the DATA of
  our streams), HPACK in both directions (``hpack_codec``, put in h2's place),
  field checks (``fields``), the stream table, GOAWAY/RST_STREAM policy and
  every bound on what a peer can make us hold or do;
- **h2's**: the connection and stream *state machines*, the send side
  (HEADERS too large for one frame, DATA within the peer's windows,
  WINDOW_UPDATE batching), and its verdict and answers on every frame we
  do not take ourselves (SETTINGS, PING, PRIORITY, RST_STREAM, GOAWAY,
  header blocks in several frames, anything malformed), fed in wire order.

The decision (issue 17): the split stays where it is and h2 keeps the state
machines. Taking them over would mean re-implementing RFC 9113 §5.1's
stream states and every frame's verdict that h2 has tested for years, to
save work that is already off the hot path: our hot paths move h2's
machines directly, as h2 itself would (``H2Core``), and write the bytes
themselves. Going back to h2's public API instead costs tens of
microseconds per frame (a 1 MiB body is 64 frames) and four copies of each
payload. What would change this decision: an h2 release that moves these
internals in a way we cannot follow here, which ``tests/test_h2_compat``
reports first (CI runs the HTTP/2 tests against the oldest supported and
the newest h2).

Everything this module touches that h2 does not document: the state
machine's ``_transitions`` table, ``_begin_new_stream``,
``_open_streams``, ``_get_stream_by_id``, ``_data_to_send``,
``incoming_buffer``, the encoder/decoder attributes, and the two frame
handlers overridden (``_receive_rst_stream_frame``,
``_receive_goaway_frame``); and of hpack, which our codec builds on, its
Huffman decoder and static table (``decode_huffman``, ``STATIC_TABLE``,
re-exported here). Nothing is patched outside our own subclasses:
no other h2 user in the process is changed.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import h2.stream
from hpack.huffman_table import decode_huffman
from hpack.table import HeaderTable

from .frames import END_HEADERS, HEADERS

if TYPE_CHECKING:
    from hyperframe.frame import Frame, GoAwayFrame, RstStreamFrame

__all__ = ["STATIC_TABLE", "H2Core", "client_connection", "decode_huffman"]

# RFC 7541 Appendix A, as hpack holds it (name, value) pairs, 1-based in the wire.
STATIC_TABLE: tuple[tuple[bytes, bytes], ...] = HeaderTable.STATIC_TABLE

_pack = struct.pack
_SETTINGS = h2.settings.SettingCodes


class _StateMachine(h2.connection.H2ConnectionStateMachine):
    """h2's connection state machine, except that a received GOAWAY keeps it open.

    h2 closes the whole connection on GOAWAY and then rejects every frame,
    even those of the streams the GOAWAY lets finish (RFC 9113 §6.8), and
    even frames that arrived in the same read. We stay open; the connection
    itself refuses new streams once ``goaway`` is set.
    """

    _transitions = {  # noqa: RUF012 - h2 reads it as a class attribute
        **h2.connection.H2ConnectionStateMachine._transitions,
        (h2.connection.ConnectionState.CLIENT_OPEN, h2.connection.ConnectionInputs.RECV_GOAWAY): (
            None,
            h2.connection.ConnectionState.CLIENT_OPEN,
        ),
    }


_SEND_HEADERS = h2.connection.ConnectionInputs.SEND_HEADERS
_RECV_DATA = h2.connection.ConnectionInputs.RECV_DATA
_RECV_HEADERS = h2.connection.ConnectionInputs.RECV_HEADERS
_STREAM_RECV_HEADERS = h2.stream.StreamInputs.RECV_HEADERS
_STREAM_RECV_END = h2.stream.StreamInputs.RECV_END_STREAM
_STREAM_SEND_HEADERS = h2.stream.StreamInputs.SEND_HEADERS
_STREAM_SEND_END = h2.stream.StreamInputs.SEND_END_STREAM
_CLIENT_STREAM = h2.connection.AllowedStreamIDs.ODD


class H2Core(h2.connection.H2Connection):
    """h2's connection, with its per-request bookkeeping made cheap.

    h2 builds frame objects, validates and logs for every HEADERS it sends
    and every frame it reads; at tens of thousands of requests a second that
    is most of a request's cost. The client's common paths therefore move
    h2's state machines directly, as h2 itself would, and write the frame
    bytes themselves (:meth:`open_stream`, :meth:`end_received`,
    :meth:`head_received`); anything unusual (a header block larger than one
    frame, frames h2 must judge) still goes through h2's public API.
    ``fast`` is False if this h2 version lacks the pieces used (then every
    path is h2's public one).

    h2 also counts open streams by walking every stream it holds (and
    forgetting the closed ones) for each new stream: O(streams) per request.
    The pool already keeps new streams within the peer's limit, so the count
    comes from our bookkeeping (``active``); h2's exact walk still runs near
    the limit, where it matters, and every 64th stream, so closed streams
    are forgotten.
    """

    active = 0  # streams open on our side, set before each new stream
    _opened = 0
    fast = all(
        hasattr(h2.connection.H2Connection, name)
        for name in ("_begin_new_stream", "_open_streams", "_get_stream_by_id")
    ) and hasattr(h2.stream.H2Stream, "receive_data")

    @property
    def outbound_size(self) -> int:
        """Bytes h2 has queued to send (``data_to_send`` would take them)."""
        return len(self._data_to_send)

    @property
    def is_closed(self) -> bool:
        """Whether h2's connection state machine has reached CLOSED."""
        return self.state_machine.state is h2.connection.ConnectionState.CLOSED

    @property
    def open_outbound_streams(self) -> int:
        self._opened += 1
        if self._opened & 63 and self.active + 1 < self.remote_settings.max_concurrent_streams:
            return self.active
        return super().open_outbound_streams

    def open_stream(self, stream_id: int, method: bytes, block: bytes, end: bool) -> None:
        """Send HEADERS (one frame: ``block`` fits) opening ``stream_id``, as send_headers would."""
        self._opened += 1
        if not self._opened & 63:
            self._open_streams(1)  # forget closed streams
        self.state_machine.process_input(_SEND_HEADERS)
        stream = self._begin_new_stream(stream_id, _CLIENT_STREAM)
        machine = stream.state_machine
        machine.process_input(_STREAM_SEND_HEADERS)
        if end:
            machine.process_input(_STREAM_SEND_END)
        stream.request_method = method
        head = _pack(">IBI", (len(block) << 8) | HEADERS, END_HEADERS | end, stream_id)
        self._data_to_send += head
        self._data_to_send += block

    def end_received(self, stream_id: int) -> bool:
        """END_STREAM came on DATA we took: move h2's state as an empty DATA frame would.

        Returns False when h2 has no such open stream; the caller then
        hands h2 the frame itself, for its verdict.
        """
        stream = self.streams.get(stream_id)
        if stream is None or not stream.open:
            return False
        self.state_machine.process_input(_RECV_DATA)
        stream.receive_data(b"", True, 0)
        return True

    def head_received(self, stream_id: int, end: bool) -> bool:
        """Move h2's state for a final response head (one HEADERS frame) that we decode.

        h2 would decode it and emit ResponseReceived (and StreamEnded with
        ``end``); the caller decodes it and acts on it. Returns False, and
        changes nothing, when h2 has no such open stream: the caller then
        hands h2 the frame itself, for its verdict.
        """
        stream = self.streams.get(stream_id)
        if stream is None or not stream.open:
            return False
        self.state_machine.process_input(_RECV_HEADERS)
        machine = stream.state_machine
        machine.process_input(_STREAM_RECV_HEADERS)
        if end:
            machine.process_input(_STREAM_RECV_END)
        return True

    def _receive_rst_stream_frame(
        self, frame: RstStreamFrame
    ) -> tuple[list[Frame], list[h2.events.Event]]:
        """Take RST_STREAM as h2 does, but on an idle stream as a PROTOCOL_ERROR.

        h2 ignores it there; RFC 9113 §6.4 and §5.1 make it a connection
        error. Idle: an odd id above every stream we opened, or any even id
        (the server may promise none: we disable push). Closed streams are
        not idle: a reset crossing our END_STREAM or our own reset is fine.
        """
        stream_id = frame.stream_id
        if stream_id not in self.streams and (
            not stream_id & 1 or stream_id > self.highest_outbound_stream_id
        ):
            raise h2.exceptions.ProtocolError(f"RST_STREAM on idle stream {stream_id}")
        return super()._receive_rst_stream_frame(frame)

    def _receive_goaway_frame(
        self, frame: GoAwayFrame
    ) -> tuple[list[Frame], list[h2.events.Event]]:
        """Take GOAWAY as h2 does, but keep what is queued to send.

        h2 empties its outbound buffer here, as if the connection were over;
        it is not (see _StateMachine): the HEADERS of streams just opened,
        their DATA and our acknowledgements must still go out (RFC 9113 §6.8).
        """
        queued = self._data_to_send
        result = super()._receive_goaway_frame(frame)
        self._data_to_send = queued + self._data_to_send
        return result


def client_connection(
    *,
    encoder: Any,
    decoder: Any,
    stream_window: int,
    max_frame_size: int,
    max_header_list_size: int,
) -> H2Core:
    """Return a client-side ``H2Core`` with our HPACK codec and our SETTINGS.

    h2's own header validation and normalisation are off (the client checks
    what it sends; ``fields.check_fields`` what it receives), push is
    disabled, and the frame size we advertise applies from the start: h2
    would apply it only once the server ACKs our SETTINGS, and a server may
    act on them as soon as it has read them.
    """
    config = h2.config.H2Configuration(
        client_side=True,
        header_encoding=None,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=False,
        normalize_inbound_headers=False,
    )
    core = H2Core(config=config)
    core.state_machine = _StateMachine()
    core.encoder = encoder
    core.decoder = decoder
    core.local_settings = h2.settings.Settings(
        client=True,
        initial_values={
            _SETTINGS.ENABLE_PUSH: 0,
            _SETTINGS.INITIAL_WINDOW_SIZE: stream_window,
            _SETTINGS.MAX_CONCURRENT_STREAMS: 100,
            _SETTINGS.MAX_HEADER_LIST_SIZE: max_header_list_size,
            # Fewer, larger DATA frames than 16 KiB from servers that honour it.
            _SETTINGS.MAX_FRAME_SIZE: max_frame_size,
        },
    )
    core.max_inbound_frame_size = max_frame_size
    core.incoming_buffer.max_frame_size = max_frame_size
    return core
