"""TLS peers in a thread with blocking sockets, for timing the asyncio TLS layers cannot script.

:class:`ThreadedTLSPeer` accepts on 127.0.0.1 (bounded: at most 2 000 x
50 ms) and hands each connection to :meth:`~ThreadedTLSPeer.serve`, which a
subclass writes; :meth:`~ThreadedTLSPeer.stop` is idempotent and closes every
socket the peer holds. Used by ``tests/test_cli_engine_close.py`` (a peer
that handshakes, then says nothing) and ``tests/test_tls_first_bytes.py`` (a
TLS 1.2 peer that sends its first bytes in its Finished's write).
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

__all__ = ["ThreadedTLSPeer"]


class ThreadedTLSPeer:
    """Accept in a thread; ``serve(raw)`` each connection (a subclass's); ``stop()`` to end."""

    def __init__(self, context: ssl.SSLContext, name: str) -> None:
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []  # closed by stop()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, name=name, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        for _ in range(2000):  # at most 2000 x 50 ms
            if self.stopping.is_set():
                return
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.held.append(raw)
            self.serve(raw)

    def serve(self, raw: socket.socket) -> None:
        """Speak on one accepted connection (in the peer's thread); it is closed by ``stop``."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop accepting; close every connection held (again: nothing more)."""
        self.stopping.set()
        self.thread.join(15)
        for conn in self.held:
            conn.close()
        self.listener.close()
