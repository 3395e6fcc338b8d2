"""A TCP proxy on loopback in front of the embedded server's Unix socket, which tests use to
refuse, delay or cut Railway connections the way a flaky network would."""

from __future__ import annotations

import contextlib
import socket
import threading


class FlakyProxy:
    """Forwards 127.0.0.1:port to a PostgreSQL Unix socket, with faults on request."""

    def __init__(self, unix_socket: str) -> None:
        self.unix_socket = unix_socket
        self.refuse_next = 0
        self.cut_after_bytes: int | None = None
        self.bytes_to_server = 0
        self.cuts = 0
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            with self._lock:
                if self.refuse_next > 0:
                    self.refuse_next -= 1
                    client.close()
                    continue
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.unix_socket)
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, to_server: bool) -> None:
        try:
            while data := source.recv(65536):
                if to_server:
                    with self._lock:
                        self.bytes_to_server += len(data)
                        cut = (
                            self.cut_after_bytes is not None
                            and self.bytes_to_server >= self.cut_after_bytes
                        )
                    if cut:
                        self.cut_all()
                        return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut_all(self) -> None:
        """Drop every open connection at once, as a network outage would."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
            self.cut_after_bytes = None
            self.cuts += 1
        for pair in pairs:
            for end in pair:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                    end.close()
                except OSError:
                    pass

    def close(self) -> None:
        self._stopped.set()
        self._thread.join()
        self._listener.close()
        self.cut_all()
