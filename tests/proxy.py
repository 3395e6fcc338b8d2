"""A TCP proxy on loopback in front of the embedded server's Unix socket, which tests use to
refuse, delay or cut Railway connections the way a flaky network would. The forwarding is
``benchmarks.link.Link``'s, shared with the round-trip benchmark. And a port that accepts
and never answers, as a hung host does."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from benchmarks.link import Link


class FlakyProxy(Link):
    """Forwards 127.0.0.1:port to a PostgreSQL Unix socket (or TCP address), with faults on
    request."""

    def __init__(self, server: str | Path | tuple[str, int], delay: float = 0.0) -> None:
        self.refuse_next = 0
        self.cut_after_bytes: int | None = None
        self.cuts = 0
        super().__init__(server, delay)

    @property
    def bytes_to_server(self) -> int:
        return self.counts().bytes_to_server

    def _admit(self) -> bool:
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return False
        return True

    def _on_client_data(self, size: int) -> bool:
        with self._lock:
            sent = sum(c.bytes_to_server for c in self._connections)
            cut = self.cut_after_bytes is not None and sent >= self.cut_after_bytes
            self.cut_after_bytes = None if cut else self.cut_after_bytes  # one cut per arming
        if cut:
            self.cut_all()
        return not cut

    def cut_all(self) -> None:
        """Drop every open connection at once, as a network outage would."""
        with self._lock:
            self.cut_after_bytes = None
            self.cuts += 1
        super().cut_all()


class SilentServer:
    """A loopback TCP port that accepts connections and never answers (a hung host)."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                self.accepted.append(self._listener.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        self._stopped.set()
        self._thread.join()
        for connection in self.accepted:
            connection.close()
        self._listener.close()
